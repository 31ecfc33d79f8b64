package recommend

import (
	"context"
	"testing"
	"time"
)

func TestForYouFallsBackToTheVisitorsOwnSegment(t *testing.T) {
	a := prod{"a", "Shoes", 50}
	b := prod{"b", "Bags", 30}
	c := prod{"c", "Hats", 20}
	members := fakeMembers{
		"vip":     {"v1", "new-vip", "new-both"},
		"outlet":  {"o1", "new-both"},
		"nobuyer": {"new-vip", "new-both"},
	}
	e, _ := newTestEngine(t0.Add(48*time.Hour), Options{Membership: members, FallbackSegments: []string{"nobuyer", "vip", "outlet"}})
	buy(e, "v1", t0, a)
	buy(e, "o1", t0.Add(time.Hour), c)
	for i := range 3 {
		buy(e, "x"+string(rune('1'+i)), t0.Add(time.Duration(i)*time.Minute), b)
	}
	for _, tc := range []struct {
		name, who, segment, first string
	}{
		{"a member of vip gets vip's bestseller (nobuyer, listed first, has no purchases)", "new-vip", "", "a"},
		{"a member of vip and outlet gets the first listed that bought", "new-both", "", "a"},
		{"a visitor in no listed segment gets the global bestseller", "new-none", "", "b"},
		{"an anonymous visitor gets the global bestseller", "", "", "b"},
		{"a request naming a segment wins over the visitor's own", "new-vip", "outlet", "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := e.Recommend(context.Background(), Request{Strategy: ForYou, ProfileID: tc.who, Segment: tc.segment, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 0 || items[0].ID != tc.first {
				t.Fatalf("for_you for %q = %v, want %s first", tc.who, ids(items), tc.first)
			}
		})
	}
	// A profile with a history of its own gets the blend: its segment's
	// bestseller does not replace its repeat purchase.
	buy(e, "new-vip", t0.Add(47*time.Hour), c)
	buy(e, "new-vip", t0.Add(24*time.Hour), c)
	items, err := e.Recommend(context.Background(), Request{Strategy: ForYou, ProfileID: "new-vip", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) > 0 && items[0].Reason == "bestseller among segment vip" {
		t.Fatalf("a profile with history got its segment's bestsellers first: %+v", items)
	}
}
