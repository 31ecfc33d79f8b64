package journey

import (
	"testing"
	"time"

	"tailor/internal/segment"
)

func TestDemoJourneysAreValidAgainstTheDemoSegments(t *testing.T) {
	segs := map[string]bool{}
	for _, d := range segment.DemoSegments() {
		segs[d.ID] = true
	}
	h := newHarness(t, Options{SegmentExists: func(id string) bool { return segs[id] }})
	live := 0
	for _, j := range DemoJourneys() {
		in, err := h.e.Create(j)
		if err != nil {
			t.Fatalf("demo journey %s: %v", j.ID, err)
		}
		if in.Status == StatusLive {
			live++
		}
	}
	if live != 4 || len(h.e.List()) != 6 {
		t.Fatalf("%d live of %d", live, len(h.e.List()))
	}
	// The cart journey reminds after an hour, unless the profile is in its
	// 5 % holdout.
	h.track("p_1", "Product Added", map[string]any{"product_id": "x"})
	h.at(61 * time.Minute)
	st, _ := h.e.Stats("abandoned-cart")
	if sent := len(h.sent()); st.Entered != 1 || sent+int(st.HeldOut) != 1 {
		t.Fatalf("entered %d, sent %d, held out %d; want one entry, sent or held out", st.Entered, sent, st.HeldOut)
	}
}
