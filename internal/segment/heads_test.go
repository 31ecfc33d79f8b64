package segment

import (
	"math"
	"math/rand/v2"
	"testing"
)

// headvec reads back every value it was given, through widening,
// re-basing and clearing, and reads never-set ordinals as 0.
func TestHeadvecKeepsValuesAcrossRebasesAndWidths(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int                           // ordinals
		sets  int                           // writes
		value func(r *rand.Rand) uint32     // the value of a write
		at    func(r *rand.Rand, k int) int // the ordinal of write k
		width int                           // bytes per value expected in block 0
	}{
		{"an import: one row for every other ordinal", headBlock, headBlock/2 - 1,
			nil, func(_ *rand.Rand, k int) int { return 2 * k }, 1},
		{"an import: four rows per ordinal", 3 * headBlock, 12 * headBlock,
			nil, func(_ *rand.Rand, k int) int { return k / 4 }, 2},
		{"rising rows, a block spread wide", 4 * headBlock, 20000,
			nil, func(r *rand.Rand, _ int) int { return r.IntN(4 * headBlock) }, 2},
		{"lower values re-base", 2 * headBlock, 5000,
			func(r *rand.Rand) uint32 { return 1_000_000 - uint32(r.IntN(900_000)) },
			func(r *rand.Rand, _ int) int { return r.IntN(2 * headBlock) }, 3},
		{"any value, zeros among them", 3 * headBlock, 20000,
			func(r *rand.Rand) uint32 {
				switch r.IntN(4) {
				case 0:
					return 0
				case 1:
					return math.MaxUint32
				case 2:
					return 1
				}
				return r.Uint32()
			},
			func(r *rand.Rand, _ int) int { return r.IntN(3 * headBlock) }, 4},
		{"sparse: far ordinals only", 100 * headBlock, 3,
			nil, func(_ *rand.Rand, k int) int { return 97*headBlock + k*5 }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			var v headvec
			want := make([]uint32, tc.n)
			for k := range tc.sets {
				x := uint32(k + 1) // a stream's heads: ever newer rows
				if tc.value != nil {
					x = tc.value(rng)
				}
				i := tc.at(rng, k)
				v.set(i, x)
				want[i] = x
			}
			for i := range tc.n + 2*headBlock {
				var w uint32
				if i < tc.n {
					w = want[i]
				}
				if got := v.get(i); got != w {
					t.Fatalf("get(%d) = %d, want %d", i, got, w)
				}
			}
			var got int
			if len(v.blocks) > 0 {
				got = int(v.blocks[0].w)
			}
			if got != tc.width {
				t.Errorf("block 0 holds %d bytes a value, want %d", got, tc.width)
			}
		})
	}
}

// A stream few profiles send costs its heads' blocks, not four bytes for
// every profile.
func TestHeadvecLeavesEmptyBlocksOut(t *testing.T) {
	var v headvec
	const ords = 1 << 20
	for k := range 100 {
		v.set(ords-1-k*headBlock*7, uint32(k+1))
	}
	if b, dense := v.bytes(), 4*ords; b*10 > dense {
		t.Errorf("100 heads over %d ordinals take %d bytes, a dense vector %d", ords, b, dense)
	}
	v.set(ords-1, 0)
	if got := v.get(ords - 1); got != 0 {
		t.Errorf("a cleared head reads %d", got)
	}
}

// The pool holds a slot for every block with values, of the block's width,
// and no more: a block that widens or re-bases gives its old slot back, and
// the next block of that width takes it, zeroed.
func TestHeadPoolReusesSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var v headvec
	const n = 64 * headBlock
	want := make([]uint32, n)
	for k := range 50000 {
		i := rng.IntN(min(n, 1+k/4)) // new blocks keep coming as old ones widen

		x := uint32(k + 1)
		switch rng.IntN(8) {
		case 0:
			x = 0
		case 1:
			x = uint32(rng.IntN(1 << 28)) // a lower value re-bases, a higher one widens
		}
		v.set(i, x)
		want[i] = x
	}
	for i, w := range want {
		if got := v.get(i); got != w {
			t.Fatalf("get(%d) = %d, want %d", i, got, w)
		}
	}
	var blocks [4]int
	for _, b := range v.blocks {
		if b.w != 0 {
			blocks[b.w-1]++
		}
	}
	for k := range blocks {
		if live := int(v.pool.n[k]) - len(v.pool.free[k]); live != blocks[k] {
			t.Errorf("width %d: %d slots in use, %d blocks", k+1, live, blocks[k])
		}
	}
	if b := v.bytes(); b > 3*4*n {
		t.Errorf("heads of %d ordinals take %d bytes", n, b)
	}
}

// BenchmarkHeadvecGet reads the heads of random profiles of a million, as
// an evaluation walks them.
func BenchmarkHeadvecGet(b *testing.B) {
	const n = 1 << 20
	var v headvec
	rng := rand.New(rand.NewPCG(7, 8))
	for k := range n {
		v.set(rng.IntN(n), uint32(k+1))
	}
	var sum uint32
	i := 0
	for b.Loop() {
		sum += v.get((i * 7919) & (n - 1))
		i++
	}
	_ = sum
}
