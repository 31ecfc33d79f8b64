package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"tailor/internal/segment"
)

// waitUntil polls cond until it holds or the timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// timelineEvents returns the event names on an identifier's timeline.
func (n *node) timelineEvents(ident string) []string {
	_, tl := n.get("/api/profiles/" + ident + "/timeline?limit=100")
	var names []string
	evs, _ := tl["events"].([]any)
	for _, e := range evs {
		m := e.(map[string]any)
		name, _ := m["event"].(string)
		names = append(names, name)
	}
	return names
}

func count(names []string, want string) int {
	c := 0
	for _, n := range names {
		if n == want {
			c++
		}
	}
	return c
}

// A saved segment with a time window: the member enters when the event
// arrives and leaves when the window ends, with no event; both changes land
// on the profile's timeline; membership and the index survive a restart.
func TestSegmentLiveExpiryAndRestart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	rule, err := segment.ParseJSON([]byte(`{"event":"Order Completed","within":{"last":"3s"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.srv.Segments.Save(segment.Definition{ID: "just-bought", Name: "Just bought", Rule: rule}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	code, resp := n.post("/v1/batch", fmt.Sprintf(`{"batch":[
	 {"type":"track","userId":"u-1","messageId":"o1","event":"Order Completed","properties":{"revenue":10},"timestamp":%q},
	 {"type":"track","userId":"u-2","messageId":"v1","event":"Product Viewed","timestamp":%q}]}`,
		now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano)))
	if code != 200 {
		t.Fatalf("batch: %d %v", code, resp)
	}
	waitUntil(t, 5*time.Second, "u-1 to enter", func() bool {
		return count(n.timelineEvents("u-1"), segment.EventEntered) == 1
	})
	if names := n.timelineEvents("u-2"); count(names, segment.EventEntered) != 0 {
		t.Fatalf("u-2 entered: %v", names)
	}
	waitUntil(t, 8*time.Second, "u-1 to leave when the window ends", func() bool {
		return count(n.timelineEvents("u-1"), segment.EventExited) == 1
	})
	if info, _ := n.srv.Segments.Get("just-bought"); info.Size != 0 || info.Entered != 1 || info.Exited != 1 {
		t.Fatalf("info = %+v", info)
	}

	// A segment that stays true, across a restart.
	rule2, _ := segment.ParseJSON([]byte(`{"event":"Order Completed","where":[{"property":"revenue","op":"gte","value":5}]}`))
	if _, err := n.srv.Segments.Save(segment.Definition{ID: "buyers", Rule: rule2}); err != nil {
		t.Fatal(err)
	}
	n.stop()
	n = startNode(t, dir)
	info, ok := n.srv.Segments.Get("buyers")
	if !ok || info.Size != 1 {
		t.Fatalf("after restart: %+v %v", info, ok)
	}
	c, err := n.srv.Segments.Count(rule2, time.Now())
	if err != nil || c != 1 {
		t.Fatalf("full evaluation after restart = %d, %v; want 1 (index rebuilt from the log)", c, err)
	}
	// The restart recorded no new transition for u-1.
	if names := n.timelineEvents("u-1"); count(names, segment.EventEntered) != 1 || count(names, segment.EventExited) != 1 {
		t.Fatalf("u-1 timeline after restart: %s", strings.Join(names, ", "))
	}
}

// A window that ends while Tailor is down: the restart finds the member
// out and records the exit once, with no event.
func TestSegmentExpiresWhileStopped(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	rule, _ := segment.ParseText(`did "Order Completed" in last 3s`)
	if _, err := n.srv.Segments.Save(segment.Definition{ID: "just-bought", Rule: rule}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if code, resp := n.post("/v1/track", fmt.Sprintf(`{"userId":"u-1","messageId":"o1","event":"Order Completed","timestamp":%q}`, now)); code != 200 {
		t.Fatalf("track: %d %v", code, resp)
	}
	waitUntil(t, 5*time.Second, "u-1 to enter", func() bool {
		return count(n.timelineEvents("u-1"), segment.EventEntered) == 1
	})
	n.stop()
	time.Sleep(3500 * time.Millisecond)
	n = startNode(t, dir)
	waitUntil(t, 5*time.Second, "the exit recorded at start", func() bool {
		return count(n.timelineEvents("u-1"), segment.EventExited) == 1
	})
	if info, _ := n.srv.Segments.Get("just-bought"); info.Size != 0 {
		t.Fatalf("size after restart = %d", info.Size)
	}
	n.stop()
	n = startNode(t, dir)
	time.Sleep(300 * time.Millisecond)
	if names := n.timelineEvents("u-1"); count(names, segment.EventExited) != 1 || count(names, segment.EventEntered) != 1 {
		t.Fatalf("after a second restart: %v", names)
	}
}
