package segment

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// A lag's code never stands for less than the lag (a walk stopped on it
// would miss rows), and for little more: exact below 4096 seconds, within
// 0.05 % up to four years, unknown past that.
func TestLagCodeBoundsTheLagFromAbove(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lags := []uint64{1, 2, 4095, 4096, 4097, 8191, 8192, 8193, 86400, 365 * 86400, 4095 << 15, 4095<<15 + 1, 1 << 40, math.MaxUint32}
	for range 10000 {
		lags = append(lags, rng.Uint64N(1<<28))
	}
	for _, lag := range lags {
		c := lagCode(lag)
		if c == 0 || c > lagUnknown {
			t.Fatalf("lagCode(%d) = %d: not a 16-bit code of a lag", lag, c)
		}
		if c == lagUnknown {
			if lag < 4095<<15 {
				t.Errorf("lagCode(%d) is unknown, want a bound", lag)
			}
			continue
		}
		v := lagValue(c)
		if v < lag {
			t.Fatalf("lagCode(%d) stands for %d: less than the lag", lag, v)
		}
		if lag < 4096 && v != lag || float64(v-lag) > 0.0005*float64(lag) {
			t.Errorf("lagCode(%d) stands for %d: too loose", lag, v)
		}
	}
}

// A walk from a window's start visits every row of the profile at or after
// it, whatever order the rows arrived in, and skips whole chain tails
// only where they are all before it.
func TestRowsFromVisitsEveryRowAtOrAfterItsStart(t *testing.T) {
	const start = 1_700_000_000
	for _, tc := range []struct {
		name   string
		ts     func(r *rand.Rand, row int) uint32
		stopFT bool // rows in time order: no lag kept, and the walk visits no row before from
	}{
		{"in time order", func(_ *rand.Rand, row int) uint32 { return start + uint32(row) }, true},
		{"re-sent histories", func(_ *rand.Rand, row int) uint32 { return start + uint32(row%4000)*300 }, false},
		{"any order", func(r *rand.Rand, _ int) uint32 { return start + uint32(r.IntN(3*365*86400)) }, false},
		{"far apart", func(r *rand.Rand, _ int) uint32 { return uint32(r.IntN(math.MaxUint32)) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			ix := NewIndex()
			s := &stream{ix: ix, key: "Page"}
			const profiles, n = 7, 20000
			for row := range n {
				s.appendEvent(uint32(rng.IntN(profiles)), tc.ts(rng, row), nil)
			}
			if tc.stopFT && s.lag.bytes() != 0 {
				t.Errorf("rows in time order: the lag column holds %d bytes, want none", s.lag.bytes())
			}
			for range 200 {
				from := int64(s.ts.get(rng.IntN(n))) + int64(rng.IntN(3)) - 1
				for o := range uint32(profiles) {
					var all, got []int
					sg := &single{ix: ix, ord: o}
					sg.rows(s, func(row int, ts uint32) {
						if int64(ts) >= from {
							all = append(all, row)
						}
					})
					sg.rowsFrom(s, from, func(row int, ts uint32) {
						if int64(ts) >= from {
							got = append(got, row)
						} else if tc.stopFT {
							t.Fatalf("profile %d from %d: row %d at %d visited", o, from, row, ts)
						}
					})
					if !slices.Equal(got, all) {
						t.Fatalf("profile %d from %d: rows %v, want %v", o, from, got, all)
					}
				}
			}
		})
	}
}
