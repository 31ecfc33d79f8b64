package recommend

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// coList keeps the counts a map would, sorted by item, and prunes to the
// same survivors as pruneCo does for the map, ties included.
func TestCoListMatchesAMap(t *testing.T) {
	for _, tc := range []struct {
		name        string
		items, keep int
		score       func(o int32, c float32) float64
	}{
		{"scores by count", 300, 50, func(_ int32, c float32) float64 { return float64(c) }},
		{"all tied: names decide", 300, 50, func(int32, float32) float64 { return 1 }},
		{"few items, no pruning", 40, 50, func(_ int32, c float32) float64 { return float64(c) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			name := func(o int32) string { return "item-" + strconv.Itoa(int(o)) }
			var l coList
			m := map[int32]float32{}
			for range 5000 {
				o, w := int32(rng.IntN(tc.items)), float32(rng.IntN(4)+1)
				l = l.add(o, w)
				m[o] += w
				if len(l) > 2*tc.keep {
					l = l.prune(tc.keep, tc.score, name)
					pruneCo(m, tc.keep, tc.score, name)
				}
			}
			if len(l) != len(m) {
				t.Fatalf("%d entries, the map %d", len(l), len(m))
			}
			for i, e := range l {
				if i > 0 && l[i-1].o >= e.o {
					t.Fatalf("entries %d and %d out of order: %d, %d", i-1, i, l[i-1].o, e.o)
				}
				if c, ok := m[e.o]; !ok || c != e.c {
					t.Errorf("item %d: %v, the map %v (%v)", e.o, e.c, c, ok)
				}
				if got := l.get(e.o); got != e.c {
					t.Errorf("get(%d) = %v, want %v", e.o, got, e.c)
				}
			}
			if got := l.get(int32(tc.items + 1)); got != 0 {
				t.Errorf("an absent item counts %v", got)
			}
		})
	}
}

// A load appends in any order and sorts once.
func TestSortCo(t *testing.T) {
	l := coList{{5, 1}, {-1, 2}, {3, 3}, {0, 4}}
	sortCo(l)
	for i, want := range []int32{-1, 0, 3, 5} {
		if l[i].o != want {
			t.Fatalf("sorted %v", l)
		}
	}
	if l.get(3) != 3 || l.get(4) != 0 {
		t.Errorf("get after sort: %v %v", l.get(3), l.get(4))
	}
}
