package segment

import (
	"math/rand/v2"
	"testing"
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
