package segment

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// A full chunk's window holds exactly its rows with times in [lo, hi], in
// time order, whether the rows arrived in time order (live traffic: the
// chunk shares one time order instead of keeping its own) or not (an
// import), and the prev chains walk each profile's rows newest first.
func TestWindowAndChainsForEveryArrivalOrder(t *testing.T) {
	const start = 1_700_000_000
	for _, tc := range []struct {
		name     string
		ts       func(r *rand.Rand, row int) uint32
		ownOrder bool // the first chunk keeps a time order of its own
	}{
		{"live: in time order", func(r *rand.Rand, row int) uint32 { return start + uint32(row/3) }, false},
		{"live: equal times", func(*rand.Rand, int) uint32 { return start }, false},
		{"import: times in any order", func(r *rand.Rand, _ int) uint32 { return start + uint32(r.IntN(400*86400)) }, true},
		{"one late event", func(r *rand.Rand, row int) uint32 {
			if row == 1000 {
				return start - 5
			}
			return start + uint32(row)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			s := &stream{key: "Page"}
			n := 2*vecChunk + 100
			ords := make([]uint32, n)
			for row := range n {
				ords[row] = uint32(rng.IntN(5000))
				s.appendEvent(ords[row], tc.ts(rng, row), nil)
			}
			if got := len(s.byTime[0]) > 0 && &s.byTime[0][0] != &inOrder[0]; got != tc.ownOrder {
				t.Errorf("chunk 0 keeps its own time order: %v, want %v", got, tc.ownOrder)
			}
			for range 50 {
				lo := int64(start) - 10 + int64(rng.IntN(vecChunk))
				hi := lo + int64(rng.IntN(2*vecChunk))
				if rng.IntN(5) == 0 {
					hi = math.MaxUint32
				}
				for ci := range 2 {
					var want []int
					for j := range vecChunk {
						if t := int64(s.ts.get(ci*vecChunk + j)); t >= lo && t <= hi {
							want = append(want, j)
						}
					}
					rows, ok := s.window(ci, lo, hi)
					if !ok {
						if len(want) != vecChunk {
							t.Fatalf("chunk %d [%d, %d]: no window, but %d of its rows are in it", ci, lo, hi, len(want))
						}
						continue
					}
					var got []int
					for k, j := range rows {
						got = append(got, int(j))
						if k > 0 && s.ts.get(ci*vecChunk+int(rows[k-1])) > s.ts.get(ci*vecChunk+int(j)) {
							t.Fatalf("chunk %d [%d, %d]: window not in time order at %d", ci, lo, hi, k)
						}
					}
					slices.Sort(got)
					if !slices.Equal(got, want) {
						t.Fatalf("chunk %d [%d, %d]: window has %d rows, want %d", ci, lo, hi, len(got), len(want))
					}
				}
			}
			for o := range uint32(5000) {
				var want []int
				for row := n - 1; row >= 0; row-- {
					if ords[row] == o {
						want = append(want, row)
					}
				}
				var got []int
				for r := int(s.heads.get(int(o))) - 1; r >= 0; {
					got = append(got, r)
					d := s.prev.get(r)
					if d == 0 {
						break
					}
					r -= int(d)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("profile %d: chain %v, want %v", o, got, want)
				}
			}
		})
	}
}

// TestAccsComeZeroed: an accumulator array back from the pool is zeroed,
// whatever the evaluation before it left in it, and as long as asked.
func TestAccsComeZeroed(t *testing.T) {
	a := accPool.get(1000)
	for i := range a {
		a[i].addRow(&eventPlan{}, 0, uint32(i))
	}
	accPool.put(a)
	for _, n := range []int{1000, 10, 2000} {
		b := accPool.get(n)
		if len(b) != n {
			t.Fatalf("accPool.get(%d): %d accs", n, len(b))
		}
		for i := range b {
			if b[i] != (acc{}) {
				t.Fatalf("accPool.get(%d)[%d] = %+v, want zero", n, i, b[i])
			}
		}
		accPool.put(b)
	}
}
