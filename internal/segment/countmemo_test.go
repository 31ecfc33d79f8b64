package segment

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// The live engine's memberships, kept with count memos through events in
// any time order, clock moves, timers and merges, always equal a fresh
// evaluation that walks every row (Holds), and the memos were used.
func TestCountMemosAgreeWithWalking(t *testing.T) {
	rules := map[string]string{
		"acc-2x-3d":   `did "View" where cat = "acc" at least 2 times in last 3d`,
		"no-buy-1d":   `did not "Buy" in last 1d`,
		"once-2d":     `did "View" exactly 1 times in last 2d`,
		"few-ever":    `did "View" fewer than 3 times`,
		"since":       `did "Buy" at least 2 times since 2026-10-30`,
		"many-5d":     `did "View" at least 10 times in last 5d`,
		"mixed":       `did "View" more than 1 times in last 12h and did "Buy" in last 2d`,
		"between-2x":  `did "View" times between 1 and 2 in last 1d`,
		"not-in-list": `did "Buy" count not in (0, 3) in last 4d`,
		"acc-3x-2d":   `did "View" where cat = "acc" exactly 3 times in last 2d`,
		"in-2-5":      `did "View" times in (2, 5) in last 3d`,
		"at-most-6":   `did "View" at most 6 times in last 1d`,
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			c := &clock{t: t0}
			e := NewEngine(Options{Now: c.now})
			e.Begin()
			parsed := map[string]*Rule{}
			for id, text := range rules {
				r, err := ParseText(text)
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				if _, err := e.Save(Definition{ID: id, Rule: r}); err != nil {
					t.Fatalf("save %s: %v", id, err)
				}
				parsed[id] = r
			}
			// A few heavy profiles, whose chains are long enough for
			// memos, and many light ones, whose counts hover around the
			// thresholds.
			const profiles, heavy = 40, 4
			seen := map[string]bool{}
			for step := range 2500 {
				switch x := rng.IntN(100); {
				case x < 65:
					p := fmt.Sprint("p", rng.IntN(profiles))
					if rng.IntN(2) == 0 {
						p = fmt.Sprint("p", rng.IntN(heavy))
					}
					name := "View"
					if rng.IntN(4) == 0 {
						name = "Buy"
					}
					at := c.t.Add(-time.Duration(rng.Int64N(int64(4 * 24 * time.Hour))))
					switch rng.IntN(20) {
					case 0:
						at = c.t.Add(-time.Duration(rng.Int64N(int64(60 * 24 * time.Hour))))
					case 1:
						at = c.t.Add(time.Duration(rng.Int64N(int64(6 * time.Hour)))) // dated after now
					}
					cat := "acc"
					if rng.IntN(2) == 0 {
						cat = "shoes"
					}
					ev, res := track(p, name, at, map[string]any{"cat": cat})
					ev.MessageID = fmt.Sprint(step)
					if rng.IntN(150) == 0 {
						q := fmt.Sprint("p", rng.IntN(profiles))
						if q != p && seen[q] {
							res.Merged = []string{q}
						}
					}
					e.Apply(ev, res)
					seen[p] = true
				default:
					c.t = c.t.Add(time.Duration(rng.Int64N(int64(8 * time.Hour))))
					e.Tick()
				}
				for p := range seen {
					for id, r := range parsed {
						want, err := e.Holds(r, p, c.t)
						if err != nil {
							continue // merged away
						}
						got, _ := e.Contains(id, p)
						if got != want {
							t.Fatalf("step %d at %s: %s in %s = %v, a walk says %v", step, c.t.Format(time.RFC3339), p, id, got, want)
						}
					}
				}
			}
			used := 0
			for _, r := range parsed {
				used += memoProfiles(r)
			}
			if used == 0 {
				t.Fatal("no leaf kept a count memo")
			}
		})
	}
}

// memoProfiles counts the profiles with a count memo in r's leaves.
func memoProfiles(r *Rule) int {
	n := 0
	if r.leaf != nil && r.leaf.memo != nil {
		n += len(r.leaf.memo.m)
	}
	for _, c := range append(append([]*Rule{}, r.And...), r.Or...) {
		n += memoProfiles(c)
	}
	if r.Not != nil {
		n += memoProfiles(r.Not)
	}
	return n
}

func TestMemoK(t *testing.T) {
	for _, tc := range []struct {
		text string
		want int
	}{
		{`did "A"`, 2},
		{`did "A" at least 3 times`, 4},
		{`did "A" fewer than 1 times`, 2},
		{`did "A" times between 2 and 5`, 6},
		{`did "A" count in (1, 7)`, 8},
		{`did "A" at least 8 times`, 0},
		{`did "A" count exists`, 1},
	} {
		r, err := ParseText(tc.text)
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		pl, err := compileEvent(NewIndex(), r, "")
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if got := memoK(pl.cmp); got != tc.want {
			t.Errorf("%s: k = %d, want %d", tc.text, got, tc.want)
		}
	}
}

// The k newest stay, newest first, whatever order they come in.
func TestCountMemoAddKeepsTheNewest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		k := 1 + rng.IntN(maxCountMemoK)
		var m countMemo
		var all []uint32
		for range rng.IntN(30) {
			v := uint32(rng.IntN(50))
			all = append(all, v)
			m.add(v, k)
		}
		// The k largest of all, descending.
		for i := range all {
			for j := i + 1; j < len(all); j++ {
				if all[j] > all[i] {
					all[i], all[j] = all[j], all[i]
				}
			}
		}
		want := all[:min(k, len(all))]
		got := m.times[:m.n]
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("k=%d: kept %v, want %v", k, got, want)
		}
	}
}
