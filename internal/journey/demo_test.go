package journey

import (
	"testing"

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
	// The cart journey reminds after an hour.
	h.track("p_1", "Product Added", map[string]any{"product_id": "x"})
	h.at(61 * 60e9)
	if got := h.sent(); len(got) != 1 && h.e.journeys["abandoned-cart"] != nil {
		// p_1 may be in the 5 % holdout; then it is counted there.
		if st, _ := h.e.Stats("abandoned-cart"); st.HeldOut != 1 {
			t.Fatalf("cart reminder sent %v, held out %d", got, st.HeldOut)
		}
	}
}
