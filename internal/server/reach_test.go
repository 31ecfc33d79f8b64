package server

import (
	"slices"
	"testing"
	"time"

	"tailor/internal/consent"
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
