package segment

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// idvec keeps every value through the widening of its chunks, and reads
// never-set rows as 0.
func TestIDVecWidens(t *testing.T) {
	var v idvec
	want := map[int]uint32{}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		i := rng.IntN(3 * vecChunk)
		var x uint32
		switch rng.IntN(4) {
		case 0:
			x = uint32(rng.IntN(200))
		case 1:
			x = uint32(rng.IntN(60000))
		case 2:
			x = rng.Uint32()
		}
		v.set(i, x)
		want[i] = x
	}
	for i := range 3*vecChunk + 10 {
		if got := v.get(i); got != want[i] {
			t.Fatalf("get(%d) = %d, want %d", i, got, want[i])
		}
	}
	var small idvec
	small.set(5, 7)
	if small.bytes() > vecChunk+100 {
		t.Errorf("a chunk of small ids takes %d bytes, want one per row", small.bytes())
	}
}

// The dictionary gives equal values one id and gives each value back, for
// every kind, across the growth of its table.
func TestDictIDsAndValues(t *testing.T) {
	var d dict
	rng := rand.New(rand.NewPCG(5, 6))
	seen := map[string]uint32{}
	key := func(v any) string { b, _ := json.Marshal(v); return fmt.Sprintf("%T:%s", v, b) }
	for range 50000 {
		var v any
		switch rng.IntN(6) {
		case 0:
			v = fmt.Sprintf("s%d", rng.IntN(20000))
		case 1:
			v = float64(rng.IntN(5000)) / 4
		case 2:
			v = rng.IntN(2) == 0
		case 3:
			v = []any{fmt.Sprint(rng.IntN(50))}
		case 4:
			v = ""
		case 5:
			v = fmt.Sprint(rng.IntN(100)) // a string that looks like a number
		}
		id := d.id(v)
		k := key(v)
		if want, ok := seen[k]; ok && want != id {
			t.Fatalf("%s: id %d, earlier %d", k, id, want)
		}
		seen[k] = id
		if got := key(d.value(id)); got != k {
			t.Fatalf("value(%d) = %s, want %s", id, got, k)
		}
	}
	if d.len() != len(seen) {
		t.Fatalf("len %d, distinct values %d", d.len(), len(seen))
	}
	if d.id(math.Copysign(0, -1)) != d.id(0.0) {
		t.Error("-0 and 0 got different ids")
	}
	// find agrees with id for values held and finds none of the others.
	for i := range 20000 {
		s := fmt.Sprintf("s%d", i)
		if got, want := d.find(kindString, s, 0), seen[key(s)]; got != want {
			t.Fatalf("find(%q) = %d, want %d", s, got, want)
		}
		if got := d.find(kindString, fmt.Sprintf("x%d", i), 0); got != 0 {
			t.Fatalf("find of a value never added = %d", got)
		}
	}
}

// Trait keys past MaxTraitColumns are not indexed, and rules or searches
// on them are refused rather than answered as if nobody had the trait.
func TestTraitColumnsAreBounded(t *testing.T) {
	e := NewEngine(Options{})
	ix := e.ix
	o := ix.ord("p_1")
	for i := range MaxTraitColumns + 10 {
		ix.setTraits(o, func(yield func(string, string) bool) { yield(fmt.Sprintf("k%05d", i), `"v"`) })
	}
	if len(ix.traits) != MaxTraitColumns || !ix.traitsFull {
		t.Fatalf("%d trait columns, full %v", len(ix.traits), ix.traitsFull)
	}
	r := &Rule{Trait: fmt.Sprintf("k%05d", MaxTraitColumns+5), Op: Exists}
	if _, err := e.Count(r, time.Now()); err == nil || !strings.Contains(err.Error(), "not indexed") {
		t.Fatalf("rule on an unindexed trait: %v", err)
	}
	if _, err := e.SearchTrait(r.Trait, SearchEq, "v", 10); err == nil {
		t.Fatal("search on an unindexed trait answered")
	}
	if n, err := e.Count(&Rule{Trait: "k00001", Op: Eq, Value: "v"}, time.Now()); err != nil || n != 1 {
		t.Fatalf("an indexed trait: %d, %v", n, err)
	}
}

func TestFramevecKeepsValuesAcrossRebasesAndWidths(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value func(i int) uint32
		width int // bytes per value expected in the first chunk
	}{
		{"close together", func(i int) uint32 { return 4_000_000 + uint32(i%100) }, 1},
		{"rising slowly", func(i int) uint32 { return 3_000_000 + uint32(i/8) }, 1},
		{"rising a frame past a byte", func(i int) uint32 { return 3_000_000 + uint32(i)*3 }, 2},
		{"late values re-base", func(i int) uint32 { return 1_700_000_000 - uint32(i%3000)*7 }, 2},
		{"a late value re-bases a frame past a byte", func(i int) uint32 {
			if i == 3*frameRows+70 {
				return 2_000_000 - 1000
			}
			return 2_000_000 + uint32(i%frameRows)
		}, 2},
		{"spread", func(i int) uint32 { return uint32(i*2654435761) % 5_000_000 }, 4},
		{"one far value widens the chunk", func(i int) uint32 {
			if i == 5000 {
				return 4_000_000_000
			}
			return uint32(i)
		}, 4},
		{"zeros then more", func(i int) uint32 { return 3 * uint32(max(0, i-1000)) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v framevec
			n := vecChunk + vecChunk/2
			for i := range n {
				v.set(i, tc.value(i))
			}
			for i := range n {
				if got := v.get(i); got != tc.value(i) {
					t.Fatalf("value %d: got %d, want %d", i, got, tc.value(i))
				}
			}
			buf := make([]uint32, vecChunk)
			for j, got := range v.decode(1, n-vecChunk-5, buf) { // a partial frame at the end
				if want := tc.value(vecChunk + j); got != want {
					t.Fatalf("decoded value %d: got %d, want %d", vecChunk+j, got, want)
				}
			}
			ch := v.chunkAt(0)
			if w := len(ch.w8) + 2*len(ch.w16) + 4*len(ch.w32); w != tc.width*vecChunk {
				t.Errorf("first chunk holds %d bytes a value, want %d", w/vecChunk, tc.width)
			}
		})
	}
}

// framevec allocates nothing for a chunk of zeros, and reads the zeros
// before a chunk's first other value as zeros, in its frame and before.
func TestFramevecLeavesZeroChunksOut(t *testing.T) {
	for _, first := range []int{0, 1, frameRows - 1, frameRows, 3*frameRows + 5} {
		t.Run(fmt.Sprint(first), func(t *testing.T) {
			var v framevec
			value := func(i int) uint32 {
				if i < vecChunk+first {
					return 0
				}
				return 70_000 + uint32(i)
			}
			n := 2 * vecChunk
			for i := range n {
				v.set(i, value(i))
			}
			if v.chunkAt(0) != nil || v.decode(0, vecChunk, make([]uint32, vecChunk)) != nil {
				t.Error("a chunk of zeros was allocated")
			}
			for i := range n {
				if got := v.get(i); got != value(i) {
					t.Fatalf("value %d: got %d, want %d", i, got, value(i))
				}
			}
			for j, got := range v.decode(1, vecChunk, make([]uint32, vecChunk)) {
				if want := value(vecChunk + j); got != want {
					t.Fatalf("decoded value %d: got %d, want %d", vecChunk+j, got, want)
				}
			}
		})
	}
}
