package segment

import (
	"fmt"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func track(profileID, name string, at time.Time, props map[string]any) (*event.Event, profile.Resolution) {
	return &event.Event{Type: event.Track, Event: name, Timestamp: at, MessageID: fmt.Sprint(at.UnixNano()), Properties: props},
		profile.Resolution{Profile: profileID}
}

func mustRule(t *testing.T, js string) *Rule {
	t.Helper()
	r, err := ParseJSON([]byte(js))
	if err != nil {
		t.Fatalf("rule %s: %v", js, err)
	}
	return r
}

func TestLiveMembershipEntersAndExpires(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	// Bought in the last 7 days.
	if _, err := e.Save(Definition{ID: "recent-buyers", Rule: mustRule(t, `{"event":"Order Completed","within":{"last":"7d"}}`)}); err != nil {
		t.Fatal(err)
	}
	e.Apply(track("p_1", "Order Completed", t0.Add(-time.Hour), map[string]any{"revenue": 20.0}))
	if in, _ := e.Contains("recent-buyers", "p_1"); !in {
		t.Fatal("p_1 bought an hour ago but is not a member")
	}
	tr := e.Transitions()
	if len(tr) != 1 || !tr[0].Entered || tr[0].Profile != "p_1" {
		t.Fatalf("transitions = %+v, want p_1 entered", tr)
	}
	// One second before the order is 7 days old: still in.
	c.t = t0.Add(7*24*time.Hour - time.Hour - time.Second)
	e.Tick()
	if in, _ := e.Contains("recent-buyers", "p_1"); !in {
		t.Fatal("left before the window ended")
	}
	// At the instant the window ends: out, without any event.
	c.t = t0.Add(7*24*time.Hour - time.Hour)
	if n := e.Tick(); n != 1 {
		t.Fatalf("timers fired = %d, want 1", n)
	}
	if in, _ := e.Contains("recent-buyers", "p_1"); in {
		t.Fatal("still a member after the window ended")
	}
	tr = e.Transitions()
	if len(tr) != 1 || tr[0].Entered {
		t.Fatalf("transitions = %+v, want p_1 exited", tr)
	}
}

// TestTimersOfReplacedAndDeletedSegments: timers name their segment by
// number; those of a segment replaced by a new rule or deleted fire nothing,
// and the replacing rule's own timers fire at its instants.
func TestTimersOfReplacedAndDeletedSegments(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	for _, id := range []string{"recent", "gone"} {
		if _, err := e.Save(Definition{ID: id, Rule: mustRule(t, `{"event":"Order Completed","within":{"last":"7d"}}`)}); err != nil {
			t.Fatal(err)
		}
	}
	e.Apply(track("p_1", "Order Completed", t0.Add(-time.Hour), nil))
	if len(e.Transitions()) != 2 {
		t.Fatal("p_1 did not enter both segments")
	}
	// "recent" becomes a 3-day window: p_1 now leaves 3 days after the order,
	// and the 7-day timer of the rule it replaced must not fire for it.
	if _, err := e.Save(Definition{ID: "recent", Rule: mustRule(t, `{"event":"Order Completed","within":{"last":"3d"}}`)}); err != nil {
		t.Fatal(err)
	}
	if err := e.Delete("gone"); err != nil {
		t.Fatal(err)
	}
	e.Transitions()
	c.t = t0.Add(3*24*time.Hour - time.Hour)
	if n := e.Tick(); n != 1 {
		t.Fatalf("at 3 days: timers fired = %d, want 1 (the new rule's)", n)
	}
	if in, _ := e.Contains("recent", "p_1"); in {
		t.Fatal("still in recent after its 3-day window")
	}
	if tr := e.Transitions(); len(tr) != 1 || tr[0].Entered || tr[0].Segment != "recent" {
		t.Fatalf("transitions at 3 days = %+v, want p_1 exited recent", tr)
	}
	c.t = t0.Add(8 * 24 * time.Hour)
	if n := e.Tick(); n != 0 {
		t.Fatalf("at 8 days: timers fired = %d, want 0 (the replaced and the deleted rule's)", n)
	}
	if tr := e.Transitions(); len(tr) != 0 {
		t.Fatalf("transitions at 8 days = %+v, want none", tr)
	}
}

func TestNotDidEntersWhenWindowPasses(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	e.Apply(track("p_1", "Order Completed", t0.Add(-24*time.Hour), nil))
	e.Apply(track("p_2", "Product Viewed", t0.Add(-24*time.Hour), nil))
	info, err := e.Save(Definition{ID: "lapsed", Rule: mustRule(t, `{"and":[{"computed":"orders","op":"gte","value":1},{"not":{"event":"Order Completed","within":{"last":"30d"}}}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 0 {
		t.Fatalf("size = %d, want 0", info.Size)
	}
	c.t = t0.Add(29 * 24 * time.Hour)
	e.Tick()
	if in, _ := e.Contains("lapsed", "p_1"); !in {
		t.Fatal("p_1 ordered 30 days ago and should have entered lapsed")
	}
	if in, _ := e.Contains("lapsed", "p_2"); in {
		t.Fatal("p_2 never ordered")
	}
}

func TestMergeMovesMembership(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	if _, err := e.Save(Definition{ID: "two-adds", Rule: mustRule(t, `{"event":"Product Added","measure":"count","op":"gte","value":2}`)}); err != nil {
		t.Fatal(err)
	}
	e.Apply(track("p_1", "Product Added", t0.Add(-time.Minute), nil))
	e.Apply(track("p_2", "Product Added", t0.Add(-time.Minute), nil))
	if info, _ := e.Get("two-adds"); info.Size != 0 {
		t.Fatalf("size = %d before the merge", info.Size)
	}
	ev, _ := track("p_1", "Page", t0, nil)
	e.Apply(ev, profile.Resolution{Profile: "p_1", Merged: []string{"p_2"}})
	if in, _ := e.Contains("two-adds", "p_1"); !in {
		t.Fatal("after the merge p_1 has two adds but is not a member")
	}
	n, err := e.Count(mustRule(t, `{"event":"Product Added","measure":"count","op":"gte","value":2}`), t0)
	if err != nil || n != 1 {
		t.Fatalf("full count = %d, %v; want 1", n, err)
	}
}
