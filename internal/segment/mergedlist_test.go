package segment

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMergedListsMatchSlicesPerSurvivor merges at random (chains, a
// survivor absorbing many, merged profiles absorbing others before) and
// checks every ordinal's list against the map of slices it replaced,
// through packs, and a load's lists packed by mergedListsOf.
func TestMergedListsMatchSlicesPerSurvivor(t *testing.T) {
	const n = 3000
	m := newMergedLists()
	ref := map[uint32][]uint32{}
	alive := make([]uint32, n)
	for i := range alive {
		alive[i] = uint32(i)
	}
	rnd := rand.New(rand.NewPCG(7, 7))
	packs := 0
	for step := 0; len(alive) > 1; step++ {
		i, j := rnd.IntN(len(alive)), rnd.IntN(len(alive))
		if i == j {
			continue
		}
		into, from := alive[i], alive[j]
		before := cap(m.ords)
		moved := m.merge(into, from)
		if cap(m.ords) < before {
			packs++
		}
		if want := append(slices.Clone(ref[from]), from); !slices.Equal(moved, want) {
			t.Fatalf("step %d: merge moved %v, want %v", step, moved, want)
		}
		ref[into] = append(append(ref[into], ref[from]...), from)
		delete(ref, from)
		alive[j] = alive[len(alive)-1]
		alive = alive[:len(alive)-1]
		if step%50 == 0 || len(alive) == 1 {
			for o := range uint32(n) {
				if got := m.of(o); !slices.Equal(got, ref[o]) {
					t.Fatalf("step %d: ordinal %d's list is %v, want %v", step, o, got, ref[o])
				}
			}
		}
	}
	if packs == 0 {
		t.Fatal("no merge packed the lists: the garbage was never reclaimed")
	}
	if len(m.ords) > 2*m.live+n {
		t.Fatalf("%d ordinals held for %d in lists", len(m.ords), m.live)
	}
	loaded := mergedListsOf(ref)
	for o := range uint32(n) {
		if got := loaded.of(o); !slices.Equal(got, ref[o]) {
			t.Fatalf("loaded: ordinal %d's list is %v, want %v", o, got, ref[o])
		}
	}
}
