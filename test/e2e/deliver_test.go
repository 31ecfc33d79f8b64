package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const shopDomain = "shop.example"

// adminSend POSTs a JSON body with the admin token.
func (s *server) adminSend(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	code, out, err := s.do(method, path, b, http.Header{"Authorization": {"Bearer " + s.AdminToken}, "Content-Type": {"application/json"}})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, out
}

// ensureTemplate saves a Liquid template through /api/templates when the
// server has the template engine; a server without it renders its
// built-in templates of the same ids and content.
func ensureTemplate(t *testing.T, s *server, tmpl map[string]any) {
	t.Helper()
	code, body := s.adminSend(t, http.MethodPost, "/api/templates", tmpl)
	switch {
	case code == http.StatusNotFound:
		t.Logf("no /api/templates on this server: the built-in %q renders", tmpl["id"])
	case code/100 == 2 || code == http.StatusConflict:
	default:
		t.Fatalf("POST /api/templates: %d %s", code, body)
	}
}

func deliverArgs(mp *mailpit, extra ...string) []string {
	return append([]string{"--smtp-addr", mp.SMTP, "--smtp-from", "Shop <news@" + shopDomain + ">"}, extra...)
}

// TestDeliverEmail sends a transactional email to a demo customer through
// POST /api/send and reads it in Mailpit (over STARTTLS with AUTH PLAIN):
// personalized, with List-Unsubscribe headers, a Message-ID derived from
// the send key and tracked links; following the click link redirects and
// records Message Clicked on the customer's timeline.
func TestDeliverEmail(t *testing.T) {
	mp := startMailpit(t, true)
	s := startServer(t, t.TempDir(), deliverArgs(mp, "--demo", "--demo-customers", "50",
		"--smtp-tls", "require", "--smtp-tls-insecure", "--smtp-user", "tailor")...)
	m := waitExampleCustomer(t, s)
	user := "user_id:" + m[1]
	var p struct {
		ID     string         `json:"id"`
		Traits map[string]any `json:"traits"`
	}
	if code, body := s.adminGet(t, "/api/profiles/"+user, &p); code != 200 {
		t.Fatalf("profile %s: %d %s", user, code, body)
	}
	first, _ := p.Traits["first_name"].(string)
	email, _ := p.Traits["email"].(string)
	if first == "" || email == "" {
		t.Fatalf("demo customer %s lacks first_name or email: %v", user, p.Traits)
	}
	ensureTemplate(t, s, map[string]any{"id": "order_confirmation", "name": "Order confirmation", "channel": "email",
		"subject": "Thank you for your order, {{ profile.traits.first_name }}",
		"html":    `<p>Hi {{ profile.traits.first_name }},</p><p>your order {{ data.order_id }} is confirmed.</p><p><a href="https://shop.example/orders/{{ data.order_id }}">Track your order</a></p>`,
		"text":    "Hi {{ profile.traits.first_name }},\nyour order {{ data.order_id }} is confirmed.\nTrack it: https://shop.example/orders/{{ data.order_id }}"})

	// Bad requests are refused with the field named, and enqueue nothing.
	for _, tc := range []struct {
		body    any
		code    int
		mention string
	}{
		{map[string]any{"profile": user}, 400, "template"},
		{map[string]any{"template": "order_confirmation"}, 400, "profile"},
		{map[string]any{"template": "order_confirmation", "profile": user, "channel": "fax"}, 400, "channel"},
		{map[string]any{"template": "order_confirmation", "profile": "user_id:nobody-here"}, 404, "nobody-here"},
		{map[string]any{"template": "order_confirmation", "profile": user, "color": "red"}, 400, "color"},
		{map[string]any{"template": "no_such_template", "profile": user}, 404, "no_such_template"},
	} {
		code, body := s.adminSend(t, http.MethodPost, "/api/send", tc.body)
		if code != tc.code || !strings.Contains(string(body), tc.mention) {
			t.Errorf("POST /api/send %v: %d %s, want %d naming %q", tc.body, code, body, tc.code, tc.mention)
		}
	}

	code, body := s.adminSend(t, http.MethodPost, "/api/send", map[string]any{"template": "order_confirmation", "profile": user, "data": map[string]any{"order_id": "o-77"}, "key": "order-o-77"})
	if code != http.StatusAccepted {
		t.Fatalf("POST /api/send: %d %s", code, body)
	}
	var sent struct{ Key, Profile, State string }
	json.Unmarshal(body, &sent)
	if sent.Key != "t:order-o-77" || sent.Profile != p.ID {
		t.Fatalf("send answered %s", body)
	}
	// The same key again is not a second message.
	if code, body := s.adminSend(t, http.MethodPost, "/api/send", map[string]any{"template": "order_confirmation", "profile": user, "data": map[string]any{"order_id": "o-77"}, "key": "order-o-77"}); code != http.StatusAccepted {
		t.Fatalf("second send: %d %s", code, body)
	}

	var msg mailSummary
	deadline := time.Now().Add(20 * time.Second)
	for {
		if all := mp.messages(t); len(all) > 0 {
			msg = all[0]
			if len(all) != 1 {
				t.Errorf("mailbox holds %d messages, want 1 (the same key twice)", len(all))
			}
			break
		}
		if time.Now().After(deadline) {
			var st map[string]any
			s.adminGet(t, "/api/messages/"+sent.Key, &st)
			t.Fatalf("no email in Mailpit after 20s; message state %v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(msg.To) != 1 || msg.To[0].Address != email {
		t.Errorf("sent to %v, want %s", msg.To, email)
	}
	if want := "Thank you for your order, " + first; msg.Subject != want {
		t.Errorf("subject %q, want %q", msg.Subject, want)
	}
	if got, want := trimAngle(msg.MessageID), idempotencyMessageID(sent.Key, shopDomain); got != want {
		t.Errorf("Message-ID %q, want %q (derived from the send key)", got, want)
	}
	var headers map[string][]string
	mp.get(t, "/api/v1/message/"+msg.ID+"/headers", &headers)
	if u := strings.Join(headers["List-Unsubscribe"], ""); !strings.Contains(u, s.URL+"/") {
		t.Errorf("List-Unsubscribe %q, want a link to this server", u)
	}
	if got := strings.Join(headers["List-Unsubscribe-Post"], ""); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post %q", got)
	}
	var full struct{ HTML, Text string }
	mp.get(t, "/api/v1/message/"+msg.ID, &full)
	if !strings.Contains(full.HTML, "Hi "+first) || !strings.Contains(full.HTML, "o-77") || !strings.Contains(full.Text, "Hi "+first) {
		t.Errorf("body not personalized:\nHTML %s\nText %s", full.HTML, full.Text)
	}
	link := regexp.MustCompile(`href="(` + regexp.QuoteMeta(s.URL) + `/t/[^"]+)"`).FindStringSubmatch(full.HTML)
	if link == nil {
		t.Fatalf("no tracked link to %s/t/ in the HTML:\n%s", s.URL, full.HTML)
	}
	if strings.Contains(full.HTML, `href="https://shop.example`) {
		t.Errorf("an untracked link is left in the HTML:\n%s", full.HTML)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(strings.ReplaceAll(link[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "https://shop.example/orders/o-77" {
		t.Fatalf("click link answered %d to %q, want 302 to the order page", resp.StatusCode, loc)
	}
	var evs []TimelineEvent
	pollUntil(t, 15*time.Second, "Message Sent and Message Clicked on the timeline", func() bool {
		evs = s.timeline(t, user)
		n := 0
		for _, e := range evs {
			if e.Event == "Message Sent" || e.Event == "Message Clicked" {
				n++
			}
		}
		return n == 2
	})
	for _, e := range evs {
		if e.Event == "Message Clicked" && (e.Properties["message_key"] != sent.Key || e.Properties["url"] != "https://shop.example/orders/o-77") {
			t.Errorf("Message Clicked properties %v", e.Properties)
		}
	}
	var hist struct {
		Messages []struct {
			Key, State, Purpose, Template string
			Attempts                      int
		} `json:"messages"`
	}
	if code, body := s.adminGet(t, "/api/messages?profile="+user, &hist); code != 200 || len(hist.Messages) != 1 {
		t.Fatalf("GET /api/messages: %d %s", code, body)
	}
	if h := hist.Messages[0]; h.Key != sent.Key || h.State != "sent" || h.Purpose != "transactional" || h.Attempts != 1 {
		t.Errorf("history %+v", h)
	}
}

// TestDeliverCrash enqueues a broadcast of a few thousand emails, SIGKILLs
// the server while it sends, restarts it, and checks in Mailpit that every
// message arrived, exactly once by Message-ID. Raw duplicates (a message
// resent after the crash because the kill came between the SMTP accept and
// the durable "sent") are reported, and must not outnumber the resends the
// server counted.
func TestDeliverCrash(t *testing.T) {
	const n = 3000
	mp := startMailpit(t, false)
	dir := t.TempDir()
	args := deliverArgs(mp, "--rate", "email=300", "--deliver-workers", "8")
	s := startServer(t, dir, args...)

	// n customers with an email each.
	batch := make([]map[string]any, 0, 500)
	for i := range n {
		batch = append(batch, map[string]any{"type": "identify", "userId": fmt.Sprint("c", i), "messageId": fmt.Sprint("crash-id-", i),
			"traits": map[string]any{"email": fmt.Sprintf("c%d@test.example", i), "first_name": fmt.Sprint("Cust", i)}})
		if len(batch) == cap(batch) {
			s.mustPostEvents(t, "/v1/batch", map[string]any{"batch": batch})
			batch = batch[:0]
		}
	}
	ensureTemplate(t, s, map[string]any{"id": "broadcast", "name": "Broadcast", "channel": "email",
		"subject": "News for {{ profile.traits.first_name }}",
		"html":    `<p>Hi {{ profile.traits.first_name }}, see <a href="https://shop.example/new">what is new</a>.</p>`,
		"text":    "Hi {{ profile.traits.first_name }}, see what is new: https://shop.example/new"})
	pollUntil(t, 30*time.Second, "the last customer's profile", func() bool {
		code, _ := s.adminGet(t, fmt.Sprint("/api/profiles/user_id:c", n-1), nil)
		return code == 200
	})

	// The broadcast: n sends, 16 at a time.
	var next atomic.Int64
	var wg sync.WaitGroup
	var sendErr atomic.Value
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				b, _ := json.Marshal(map[string]any{"template": "broadcast", "profile": fmt.Sprint("user_id:c", i), "key": fmt.Sprint("b1-", i)})
				code, body, err := s.do(http.MethodPost, "/api/send", b, http.Header{"Authorization": {"Bearer " + s.AdminToken}})
				if err != nil || code != http.StatusAccepted {
					sendErr.Store(fmt.Sprintf("send %d: %d %s %v", i, code, body, err))
					return
				}
			}
		})
	}
	wg.Wait()
	if e := sendErr.Load(); e != nil {
		t.Fatal(e)
	}
	t.Logf("enqueued %d sends in %v", n, time.Since(start).Round(time.Millisecond))

	pollUntil(t, 60*time.Second, "a third of the broadcast in Mailpit", func() bool { return mp.count(t) >= n/3 })
	before := mp.count(t)
	s.kill(t)
	t.Logf("SIGKILLed the server with %d of %d messages in Mailpit", before, n)
	if before >= n {
		t.Fatalf("the whole broadcast was sent before the kill; slow it down")
	}

	s2 := startServer(t, dir, args...)
	pollUntil(t, 90*time.Second, "every message in Mailpit", func() bool { return mp.count(t) >= n })
	time.Sleep(time.Second) // a resend still in flight would show now
	all := mp.messages(t)
	seen := map[string]int{}
	for _, m := range all {
		seen[trimAngle(m.MessageID)]++
	}
	missing, dups := 0, 0
	for i := range n {
		c := seen[idempotencyMessageID(fmt.Sprint("t:b1-", i), shopDomain)]
		if c == 0 {
			missing++
		}
		dups += max(c-1, 0)
	}
	if len(seen) != n || missing != 0 {
		t.Fatalf("%d distinct Message-IDs in Mailpit, want %d; %d sends missing", len(seen), n, missing)
	}
	resends := promSum(t, s2, "tailor_deliver_resends_after_crash_total")
	t.Logf("all %d messages arrived, each Message-ID once; raw duplicates (resent after the crash): %d; the restarted server resent %v messages left in sending", n, dups, resends)
	if float64(dups) > resends {
		t.Errorf("%d raw duplicates but only %v resends counted: something sent twice without a crash", dups, resends)
	}
}

// promSum sums a Prometheus counter over its labels.
func promSum(t *testing.T, s *server, name string) float64 {
	t.Helper()
	code, body, err := s.do(http.MethodGet, "/metrics", nil, nil)
	if err != nil || code != 200 {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := strings.TrimPrefix(line, name)
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}

// pollUntil polls cond until it holds or timeout passes.
func pollUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
