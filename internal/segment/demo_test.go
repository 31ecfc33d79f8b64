package segment

import (
	"strings"
	"testing"
)

func TestDemoSegmentsParseValidateAndSave(t *testing.T) {
	defs := DemoSegments()
	if len(defs) < 10 {
		t.Fatalf("%d demo segments, want at least 10", len(defs))
	}
	e := shopEngine(t, 5)
	seen := map[string]bool{}
	for _, d := range defs {
		if seen[d.ID] {
			t.Errorf("%s: id used twice", d.ID)
		}
		seen[d.ID] = true
		if err := d.Rule.Validate(); err != nil {
			t.Errorf("%s: %v", d.ID, err)
		}
		if d.Name == "" || d.Description == "" {
			t.Errorf("%s: no name or description", d.ID)
		}
		// The text form round-trips, so the admin UI shows what is here.
		if back, err := ParseText(FormatText(d.Rule)); err != nil || FormatText(back) != FormatText(d.Rule) {
			t.Errorf("%s: text form does not round-trip: %v", d.ID, err)
		}
		if _, err := e.Save(d); err != nil {
			t.Errorf("%s: save: %v", d.ID, err)
		}
	}
	// On the shop (see shopEngine), the segments hold whom they describe.
	for id, want := range map[string][]string{
		"cart-abandoners": {"p_2"},
		"high-spenders":   nil, // p_1 spent 300, not more
		// p_1's order, exactly 2 days ago, is just outside the 2-day window.
		"visited-2d-no-order": {"p_1", "p_4", "p_5"},
		"visited-7d-no-order": {"p_2", "p_4", "p_5"},
		"stage-lapsed":        {"p_3"},
		"stage-new":           {"p_1"},
	} {
		got, _, err := e.Members(id, "", 100)
		if err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: members %v, %v; want %v", id, got, err, want)
		}
	}
}
