package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"tailor/internal/consent"
	"tailor/internal/message"
	"tailor/internal/segment"
)

// The segment rule language names the channels consent keeps.
func TestSegmentChannelsAreConsentChannels(t *testing.T) {
	if !slices.Equal(segment.Channels, consent.Channels) {
		t.Fatalf("segment channels %v, consent channels %v", segment.Channels, consent.Channels)
	}
}

// "Reachable on email" follows consent through the node: an opt-in trait
// lets the profile in, an unsubscribe through the API takes it out, a new
// grant brings it back, and a restart finds the same members (consent's
// state feeds the index at start) without recording a change.
func TestReachableSegmentFollowsConsentAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	rule, err := segment.ParseText("reachable on email")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.srv.Segments.Save(segment.Definition{ID: "mailable", Name: "Mailable", Rule: rule}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"userId":"r1","traits":{"email":"r1@example.com","email_opt_in":true}}`,
		`{"userId":"r2","traits":{"email":"r2@example.com"}}`, // no consent
		`{"userId":"r3","traits":{"email_opt_in":true}}`,      // no address
	} {
		if code, resp := n.post("/v1/identify", body); code != 200 {
			t.Fatalf("identify: %d %v", code, resp)
		}
	}
	member := func(who string) bool {
		in, _ := n.srv.Segments.Contains("mailable", n.profile(who, 1)["id"].(string))
		return in
	}
	waitUntil(t, 5*time.Second, "r1 to enter", func() bool { return member("r1") })
	if member("r2") || member("r3") {
		t.Fatal("a profile without consent or without an address is reachable")
	}
	if code, body := n.admin("PUT", "/api/profiles/r1/consent", `{"channel":"email","granted":false}`); code != 200 {
		t.Fatalf("revoke: %d %v", code, body)
	}
	waitUntil(t, 5*time.Second, "r1 to leave", func() bool { return !member("r1") })
	if code, body := n.admin("PUT", "/api/profiles/r2/consent", `{"channel":"email","granted":true}`); code != 200 {
		t.Fatalf("grant: %d %v", code, body)
	}
	waitUntil(t, 5*time.Second, "r2 to enter", func() bool { return member("r2") })
	waitUntil(t, 5*time.Second, "the changes on the timelines", func() bool {
		return count(n.timelineEvents("r1"), segment.EventExited) == 1 && count(n.timelineEvents("r2"), segment.EventEntered) == 1
	})
	n.stop()

	n = startNode(t, dir)
	if member("r1") || !member("r2") || member("r3") {
		t.Fatalf("after a restart: r1 %v r2 %v r3 %v, want only r2", member("r1"), member("r2"), member("r3"))
	}
	time.Sleep(300 * time.Millisecond) // anything the restart recorded would land by now
	if got := count(n.timelineEvents("r2"), segment.EventEntered); got != 1 {
		t.Errorf("r2 entered %d times after the restart, want once", got)
	}
	if info, _ := n.srv.Segments.Get("mailable"); info.Size != 1 {
		t.Errorf("size after restart = %d, want 1", info.Size)
	}
}

// With double opt-in, an email grant through the API sends the built-in
// confirmation (transactional, through the outbox); the link in it grants
// the consent.
func TestDoubleOptInConfirmationThroughTheNode(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(c *Config) { c.CheckpointEvery = 50 * time.Millisecond; c.DoubleOptIn = true }, nil)
	if code, resp := n.post("/v1/identify", `{"userId":"d1","traits":{"email":"d1@example.com","first_name":"Dee"}}`); code != 200 {
		t.Fatalf("identify: %d %v", code, resp)
	}
	n.profile("d1", 1)
	if code, body := n.admin("PUT", "/api/profiles/d1/consent", `{"channel":"email","granted":true}`); code != 200 || body["confirm_url"] == nil {
		t.Fatalf("grant: %d %v", code, body)
	}
	var msg map[string]any
	waitUntil(t, 5*time.Second, "the confirmation in the outbox", func() bool {
		_, body := n.admin("GET", "/api/profiles/d1/messages", "")
		msgs, _ := body["messages"].([]any)
		if len(msgs) == 1 {
			msg = msgs[0].(map[string]any)
		}
		return msg != nil
	})
	if msg["template"] != message.ConfirmTemplateID || msg["purpose"] != "transactional" || !strings.HasPrefix(msg["key"].(string), "optin:") {
		t.Fatalf("confirmation = %v", msg)
	}
	if ok, why := n.srv.Consent.Allowed(msg["profile"].(string), "email", "marketing"); ok || why != "pending_confirmation" {
		t.Fatalf("before confirming: %v %s", ok, why)
	}
	out, err := n.srv.Messages.Render(context.Background(), message.RenderRequest{Template: message.ConfirmTemplateID, Profile: "d1", SendKey: msg["key"].(string), BaseURL: n.url})
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(out.Text, n.url+"/t/d/")
	if i < 0 || !strings.Contains(out.HTML, "/t/d/") || out.Subject == "" {
		t.Fatalf("no confirm link: %q", out.Text)
	}
	link := strings.Fields(out.Text[i:])[0]
	resp, err := http.Post(link, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("confirm: %d", resp.StatusCode)
	}
	if ok, why := n.srv.Consent.Allowed(msg["profile"].(string), "email", "marketing"); !ok {
		t.Fatalf("after confirming: %s", why)
	}
}

// An editor may send a transactional message and change a person's
// consent from the dashboard; a viewer may read both but change neither.
func TestEditorsSendAndChangeConsent(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(c *Config) {
		c.CheckpointEvery = 50 * time.Millisecond
		c.AdminEmail, c.AdminPassword = "root@example.com", "root-password-1"
	}, nil)
	if code, resp := n.post("/v1/identify", `{"userId":"e1","traits":{"email":"e1@example.com"}}`); code != 200 {
		t.Fatalf("identify: %d %v", code, resp)
	}
	n.profile("e1", 1)
	if code, body := n.admin("POST", "/api/templates", `{"id":"hello","name":"Hello","channel":"inapp","title":"Hi","body":"x"}`); code != 201 {
		t.Fatalf("template: %d %v", code, body)
	}
	admin := newBrowser(t, n.url)
	admin.login("root@example.com", "root-password-1")
	for _, u := range []string{`{"email":"ed@example.com","password":"ed-password-1","role":"editor"}`, `{"email":"vi@example.com","password":"vi-password-1","role":"viewer"}`} {
		if code, m := admin.do("POST", "/api/users", u, true); code != 201 {
			t.Fatalf("create user: %d %v", code, m)
		}
	}
	editor, viewer := newBrowser(t, n.url), newBrowser(t, n.url)
	editor.login("ed@example.com", "ed-password-1")
	viewer.login("vi@example.com", "vi-password-1")
	send := `{"template":"hello","profile":"user_id:e1","channel":"inapp","key":"ed-1"}`
	grant := `{"channel":"email","granted":true,"source":"support"}`
	cases := []struct {
		who          *browser
		method, path string
		body         string
		want         int
	}{
		{viewer, "POST", "/api/send", send, 403},
		{viewer, "PUT", "/api/profiles/e1/consent", grant, 403},
		{viewer, "GET", "/api/profiles/e1/consent", "", 200},
		{viewer, "GET", "/api/profiles/e1/messages", "", 200},
		{editor, "POST", "/api/send", send, 202},
		{editor, "PUT", "/api/profiles/e1/consent", grant, 200},
		{editor, "POST", "/api/sources", `{"name":"x","trust":"client"}`, 403},
	}
	for _, c := range cases {
		code, m := c.who.do(c.method, c.path, c.body, true)
		if code != c.want {
			t.Errorf("%s %s: %d %v, want %d", c.method, c.path, code, m, c.want)
		}
		if code == 403 && (m["code"] != "forbidden" || !strings.Contains(m["error"].(string), "editor") && c.path != "/api/sources") {
			t.Errorf("%s %s: %v, want forbidden naming editor", c.method, c.path, m)
		}
	}
	if ok, why := n.srv.Consent.Allowed(n.profile("e1", 1)["id"].(string), "email", "marketing"); !ok {
		t.Errorf("the editor's grant did not take: %s", why)
	}
}
