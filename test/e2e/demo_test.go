package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// exampleLine is the line `tailor serve --demo` prints before its look-ups.
var exampleLine = regexp.MustCompile(`(?m)^tailor: example customer: (\S+) \((\d+) orders?, (\d+\.\d\d) revenue\); its profile and timeline:\n  (curl .*)\n  (curl .*)\n`)

// TestServeDemoLookup starts `tailor serve --demo` on a small store, reads
// the example customer and the curl lines it prints, runs them (as curl
// would) and checks they answer that customer's profile, with its orders, and
// its timeline.
func TestServeDemoLookup(t *testing.T) {
	start := time.Now()
	s := startServer(t, t.TempDir(), "--demo", "--demo-customers", "100")

	m := waitExampleMatch(t, s, 30*time.Second)
	t.Logf("serve --demo printed its look-ups %v after start:\n%s", time.Since(start).Round(time.Millisecond), m[0])
	userID, orders, revenue := m[1], atoi(t, m[2]), atof(t, m[3])
	if orders < 1 || revenue <= 0 {
		t.Errorf("example customer %s has %d orders and %.2f revenue, want a customer with orders", userID, orders, revenue)
	}

	// The profile look-up answers at once: serve prints it after the load is applied.
	code, body := runCurl(t, s, m[4])
	if code != http.StatusOK {
		t.Fatalf("%s: %d %s", m[4], code, body)
	}
	var p Profile
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("%s: %v\n%s", m[4], err, body)
	}
	c := p.Computed
	switch {
	case !p.hasIdentity("user_id", userID):
		t.Errorf("profile identities %v lack user_id %s", p.Identities, userID)
	case c.Orders != orders || c.EventCounts["Order Completed"] != orders:
		t.Errorf("profile has orders %d and %d Order Completed events, serve printed %d", c.Orders, c.EventCounts["Order Completed"], orders)
	case fmt.Sprintf("%.2f", c.TotalRevenue) != m[3]:
		t.Errorf("profile total_revenue %.2f, serve printed %s", c.TotalRevenue, m[3])
	case len(c.RecentlyPurchased) == 0:
		t.Errorf("profile of a customer with orders has no recently_purchased")
	}

	code, body = runCurl(t, s, m[5])
	if code != http.StatusOK {
		t.Fatalf("%s: %d %s", m[5], code, body)
	}
	var tl struct {
		ProfileID string          `json:"profile_id"`
		Events    []TimelineEvent `json:"events"`
	}
	if err := json.Unmarshal(body, &tl); err != nil {
		t.Fatalf("%s: %v\n%s", m[5], err, body)
	}
	if tl.ProfileID != p.ID || len(tl.Events) == 0 || len(tl.Events) > c.EventCount {
		t.Errorf("timeline of profile %q with %d events, want profile %s with 1 to %d events", tl.ProfileID, len(tl.Events), p.ID, c.EventCount)
	}
	for _, e := range tl.Events {
		if e.UserID != "" && e.UserID != userID {
			t.Errorf("timeline event %s belongs to user %s, want %s", e.MessageID, e.UserID, userID)
		}
	}
}

// runCurl performs the GET a printed `curl -H 'HEADER' URL` line describes,
// after splitting it as a POSIX shell would (bare and single-quoted words
// only, which is all serve prints). The URL must be the test server's.
func runCurl(t *testing.T, s *server, line string) (int, []byte) {
	t.Helper()
	args, err := shellWords(line)
	if err != nil {
		t.Fatalf("printed look-up %q: %v", line, err)
	}
	if len(args) != 4 || args[0] != "curl" || args[1] != "-H" {
		t.Fatalf("printed look-up %q: want curl -H HEADER URL, got words %q", line, args)
	}
	name, value, ok := strings.Cut(args[2], ": ")
	if !ok {
		t.Fatalf("printed look-up %q: header %q is not NAME: VALUE", line, args[2])
	}
	path, ok := strings.CutPrefix(args[3], s.URL+"/")
	if !ok {
		t.Fatalf("printed look-up %q: URL %q is not on the server %s", line, args[3], s.URL)
	}
	code, body, err := s.do(http.MethodGet, "/"+path, nil, http.Header{name: {value}})
	if err != nil {
		t.Fatalf("GET %s: %v", args[3], err)
	}
	return code, body
}

// shellWords splits a command line into words: bare words and single-quoted
// parts, joined where they touch. Other shell syntax is an error.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case ch == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote at %d", i)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case strings.IndexByte("\"\\$`;&|<>*?()#~", ch) >= 0:
			return nil, fmt.Errorf("unquoted shell syntax %q at %d", ch, i)
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestServeDemoResumes kills `tailor serve --demo` (kill -9) part way through
// its load and starts it again on the same directory: the load resumes from
// its progress record instead of giving up on a directory that holds events,
// and the store ends like one loaded in a single run.
func TestServeDemoResumes(t *testing.T) {
	const customers = "6000" // three chunks per producer
	dir := t.TempDir()
	s := startServer(t, dir, "--demo", "--demo-customers", customers)
	progress := func() (next []int, done bool) {
		b, err := os.ReadFile(filepath.Join(dir, "demo-progress.json"))
		if err != nil {
			return nil, false
		}
		var p struct {
			Next []int `json:"next"`
			Done bool  `json:"done"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("demo-progress.json: %v\n%s", err, b)
		}
		return p.Next, p.Done
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		next, done := progress()
		if done {
			t.Fatal("the demo load finished before a partial progress record was seen")
		}
		if len(next) == 2 && next[0] > 0 {
			t.Logf("killing the load at %v", next)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no chunk of the demo load recorded in 60s; progress %v", next)
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.kill(t)

	s = startServer(t, dir, "--demo", "--demo-customers", customers)
	resumed := waitExample(t, s)
	if !strings.Contains(s.stderr.String(), "resuming the demo load") {
		t.Errorf("the second start did not say it resumed the load:\n%s", tail(s.stderr.String(), 20))
	}
	if _, done := progress(); !done {
		t.Error("demo-progress.json not marked done after the resumed load")
	}
	resumedProfiles := promSum(t, s, "tailor_profiles")

	whole := startServer(t, t.TempDir(), "--demo", "--demo-customers", customers)
	want := waitExample(t, whole)
	if resumed != want {
		t.Errorf("resumed load's example:\n%s\nwant, as in a single run:\n%s", resumed, want)
	}
	if p := promSum(t, whole, "tailor_profiles"); resumedProfiles != p {
		t.Errorf("resumed load has %v profiles, a single run %v", resumedProfiles, p)
	}
	s.stopClean(t)
	if out := runTailor(t, 5*time.Minute, "verify", "--data-dir", dir); !strings.Contains(out, "identical") {
		t.Errorf("tailor verify after the resumed load:\n%s", out)
	}
}

// waitExample waits for serve --demo's example line (printed once the load
// is applied) and returns its first line, the server's URL replaced.
func waitExample(t *testing.T, s *server) string {
	t.Helper()
	m := waitExampleMatch(t, s, 2*time.Minute)
	return strings.SplitN(strings.ReplaceAll(m[0], s.URL, "URL"), "\n", 2)[0]
}

// waitExampleMatch waits up to timeout for exampleLine on s's stdout.
func waitExampleMatch(t *testing.T, s *server, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := exampleLine.FindStringSubmatch(s.stdout.String()); m != nil {
			return m
		}
		select {
		case <-s.done:
			t.Fatalf("tailor serve exited (%v) before printing the example look-up", s.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no example customer and curl lines on stdout after %v:\n%s", timeout, s.stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
