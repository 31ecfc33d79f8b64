package e2e

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sdkStory is what every SDK test sends, in this order, and what the
// resulting profile must show:
//
//  1. track "Product Viewed" sku ViewedAnon (anonymousId only)
//  2. page "Home" (anonymousId only)
//  3. identify userId + anonymousId, traits email, name, plan
//  4. track "Product Viewed" sku Purchased
//  5. track "Order Completed" revenue 99.5, total 105, products [Purchased x2]
//  6. page "Checkout"
//  7. alias previousId OldUserID -> userId
//
// Clients may add more calls (analytics-node adds a group call); the timeline
// must hold every message id the client reports as sent.
type sdkStory struct {
	UserID      string
	AnonymousID string
	Email       string // lower case: the server lower-cases emails
	Name        string
	OldUserID   string // alias previousId; "" when the client sends no alias
	ViewedAnon  string // product viewed before identify
	Purchased   string // product viewed and bought after identify
	Category    string
	Revenue     float64
	// MessageIDs are the ids of every message the client sent.
	MessageIDs []string
	// PageViews and Tracks are the number of page and track calls sent.
	PageViews, Tracks, ProductViews int
}

// newStory returns a story with ids distinct per prefix.
func newStory(prefix string) sdkStory {
	return sdkStory{
		UserID:       prefix + "-user-1",
		AnonymousID:  prefix + "-anon-1",
		Email:        prefix + ".user1@example.com",
		Name:         "Ada " + strings.ToUpper(prefix[:1]) + prefix[1:],
		OldUserID:    prefix + "-old-user-1",
		ViewedAnon:   prefix + "-sku-1",
		Purchased:    prefix + "-sku-2",
		Category:     "Shoes",
		Revenue:      99.5,
		PageViews:    2,
		Tracks:       3,
		ProductViews: 2,
	}
}

// checkStoryProfile waits until the profile of st.UserID shows the story and
// checks every way to look it up answers the same profile.
func checkStoryProfile(t *testing.T, s *server, st sdkStory) Profile {
	t.Helper()
	p := s.waitProfile(t, st.UserID, 15*time.Second, func(p *Profile) error {
		c := &p.Computed
		switch {
		case !p.hasIdentity("user_id", st.UserID):
			return fmt.Errorf("identities lack user_id %q", st.UserID)
		case !p.hasIdentity("anonymous_id", st.AnonymousID):
			return fmt.Errorf("identities lack anonymous_id %q", st.AnonymousID)
		case !p.hasIdentity("email", st.Email):
			return fmt.Errorf("identities lack email %q", st.Email)
		case st.OldUserID != "" && !p.hasIdentity("user_id", st.OldUserID):
			return fmt.Errorf("identities lack the alias previousId user_id %q", st.OldUserID)
		case c.EventCounts["Product Viewed"] != st.ProductViews:
			return fmt.Errorf("event_counts[Product Viewed] = %d, want %d (the anonymous view must merge in)", c.EventCounts["Product Viewed"], st.ProductViews)
		case c.EventCounts["Order Completed"] != 1:
			return fmt.Errorf("event_counts[Order Completed] = %d, want 1", c.EventCounts["Order Completed"])
		case c.TypeCounts["track"] != st.Tracks || c.TypeCounts["page"] != st.PageViews || c.TypeCounts["identify"] != 1:
			return fmt.Errorf("type_counts = %v, want track %d, page %d, identify 1", c.TypeCounts, st.Tracks, st.PageViews)
		case c.Orders != 1:
			return fmt.Errorf("orders = %d, want 1", c.Orders)
		}
		return nil
	})

	c := p.Computed
	if got, _ := p.Traits["email"].(string); !strings.EqualFold(got, st.Email) {
		t.Errorf("traits.email = %q, want %q", got, st.Email)
	}
	if got, _ := p.Traits["name"].(string); got != st.Name {
		t.Errorf("traits.name = %q, want %q", got, st.Name)
	}
	if got, _ := p.Traits["plan"].(string); got != "pro" {
		t.Errorf("traits.plan = %q, want %q", got, "pro")
	}
	if !approx(c.TotalRevenue, st.Revenue) {
		t.Errorf("total_revenue = %v, want %v (properties.revenue, not total)", c.TotalRevenue, st.Revenue)
	}
	if !approx(c.AverageOrderValue, st.Revenue) {
		t.Errorf("average_order_value = %v, want %v", c.AverageOrderValue, st.Revenue)
	}
	if c.LastOrderAt == "" {
		t.Errorf("last_order_at is empty after an Order Completed")
	} else if _, err := time.Parse(time.RFC3339, c.LastOrderAt); err != nil {
		t.Errorf("last_order_at %q is not RFC 3339: %v", c.LastOrderAt, err)
	}
	for _, f := range []struct{ name, v string }{{"first_seen", c.FirstSeen}, {"last_seen", c.LastSeen}} {
		if _, err := time.Parse(time.RFC3339, f.v); err != nil {
			t.Errorf("%s %q is not RFC 3339: %v", f.name, f.v, err)
		}
	}
	for _, sku := range []string{st.ViewedAnon, st.Purchased} {
		if !c.viewed(sku) {
			t.Errorf("recently_viewed %v lacks %q", c.RecentlyViewed, sku)
		}
	}
	if !c.purchased(st.Purchased) {
		t.Errorf("recently_purchased %v lacks %q", c.RecentlyPurchased, st.Purchased)
	}
	if c.FavouriteCategory != st.Category {
		t.Errorf("favourite_category = %q, want %q (every product is in it)", c.FavouriteCategory, st.Category)
	}
	sum := 0
	for _, n := range c.TypeCounts {
		sum += n
	}
	if c.EventCount != sum {
		t.Errorf("event_count %d != sum of type_counts %v", c.EventCount, c.TypeCounts)
	}

	// Every identifier, plain and typed, finds the same profile.
	lookups := []string{
		st.AnonymousID, st.Email, p.ID,
		"user_id:" + st.UserID, "anonymous_id:" + st.AnonymousID, "email:" + st.Email,
		strings.ToUpper(st.Email[:1]) + st.Email[1:], // emails are case-insensitive
	}
	if st.OldUserID != "" {
		lookups = append(lookups, st.OldUserID)
	}
	for _, id := range lookups {
		q, ok := s.getProfile(t, id)
		if !ok {
			t.Errorf("GET /api/profiles/%s: 404, want profile %s", url.PathEscape(id), p.ID)
			continue
		}
		if q.ID != p.ID {
			t.Errorf("GET /api/profiles/%s: profile %s, want %s", url.PathEscape(id), q.ID, p.ID)
		}
	}
	if _, ok := s.getProfile(t, "no-such-user-"+st.UserID); ok {
		t.Errorf("GET /api/profiles/ of an unknown id answered 200, want 404")
	}

	tl := s.waitTimeline(t, st.UserID, st.MessageIDs, 10*time.Second)
	if len(tl) != c.EventCount {
		t.Errorf("timeline has %d events, computed.event_count is %d", len(tl), c.EventCount)
	}
	seen := map[string]bool{}
	for i, e := range tl {
		if seen[e.MessageID] {
			t.Errorf("timeline lists message %q twice", e.MessageID)
		}
		seen[e.MessageID] = true
		if i > 0 && parseTime(e.Timestamp).After(parseTime(tl[i-1].Timestamp)) {
			t.Errorf("timeline is not newest first: %s (%s) after %s (%s)", e.MessageID, e.Timestamp, tl[i-1].MessageID, tl[i-1].Timestamp)
		}
		if e.Type == "" {
			t.Errorf("timeline event %q has no type", e.MessageID)
		}
		if e.Type == "track" && e.Event == "" {
			t.Errorf("timeline track event %q has no event name", e.MessageID)
		}
	}
	return p
}

// parseTime parses an RFC 3339 time; the zero time when it does not parse.
func parseTime(s string) time.Time {
	ts, _ := time.Parse(time.RFC3339Nano, s)
	return ts
}

func approx(a, b float64) bool {
	d := a - b
	return d < 1e-6 && d > -1e-6
}

// sdkDir is test/sdk, where the npm packages and node scripts live.
func sdkDir() string { return filepath.Join(repoRoot, "test", "sdk") }

// requireNode returns the node binary, skipping (or failing, in CI) the test
// when node or the npm packages of test/sdk are missing.
func requireNode(t *testing.T, packages ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not on PATH")
	}
	for _, pkg := range packages {
		if _, err := os.Stat(filepath.Join(sdkDir(), "node_modules", pkg, "package.json")); err != nil {
			skipOrFail(t, "test/sdk/node_modules/%s is missing: run `npm ci` in test/sdk", pkg)
		}
	}
	return node
}

// runNode runs a node script of test/sdk and returns its stdout and exit
// error; stderr is logged.
func runNode(t *testing.T, node string, timeout time.Duration, script string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(node, append([]string{script}, args...)...)
	cmd.Dir = sdkDir()
	// Its own process group, so that a timeout also ends the browser it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithTests(cmd)
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	start := time.Now()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("timed out after %v", timeout)
	}
	t.Logf("node %s: %s (%v)", script, exitStatus(err), time.Since(start).Round(time.Millisecond))
	if s := stderr.String(); s != "" {
		t.Logf("node %s stderr:\n%s", script, tail(s, 100))
	}
	return []byte(stdout.String()), err
}

// sortedKeys is for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
