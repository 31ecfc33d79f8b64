package arena

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestStrIndex runs random sets, deletes and compactions against a map,
// with a hash that makes most strings collide (so that the overflow is
// used) and with the real one.
func TestStrIndex(t *testing.T) {
	for _, collide := range []bool{true, false} {
		rng := rand.New(rand.NewPCG(3, 4))
		var x StrIndex[int32]
		x.keys.CompactAt = 1 << 10
		if collide {
			x.Hash = func(s string) uint64 { return uint64(len(s) % 3) }
		}
		want := map[string]int32{}
		for step := range 30000 {
			k := fmt.Sprintf("p_%d", rng.IntN(500))
			switch op := rng.IntN(10); {
			case op < 6:
				v := rng.Int32()
				x.Set(k, v)
				want[k] = v
			case op < 9:
				x.Delete(k)
				delete(want, k)
			default:
				x.Compact()
			}
			if step%1000 == 0 {
				if err := x.keys.Check(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if x.Len() != len(want) {
			t.Fatalf("collide %v: %d strings, want %d", collide, x.Len(), len(want))
		}
		for k, v := range want {
			if got, ok := x.Get(k); !ok || got != v {
				t.Fatalf("collide %v: %s = %d, %v; want %d", collide, k, got, ok, v)
			}
		}
		seen := map[string]int32{}
		for k, v := range x.All() {
			seen[k] = v
		}
		if len(seen) != len(want) {
			t.Fatalf("collide %v: All yields %d strings, want %d", collide, len(seen), len(want))
		}
		if _, ok := x.Get("p_none"); ok {
			t.Fatal("a string never set is found")
		}
		if collide && len(x.overflow) == 0 {
			t.Fatal("no string went to overflow with three hash values")
		}
	}
	var zero StrIndex[int32]
	if _, ok := zero.Get("a"); ok || zero.Len() != 0 {
		t.Fatal("the zero index is not empty")
	}
	zero.Delete("a")
}
