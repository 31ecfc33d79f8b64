package consent

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestFactTable runs random sets, deletes and compactions against a map,
// with a hash that makes most ids collide (so that overflow is exercised),
// and with the real one.
func TestFactTable(t *testing.T) {
	for _, collide := range []bool{true, false} {
		rng := rand.New(rand.NewPCG(1, 2))
		var tb factTable
		tb.vals.CompactAt = 1 << 10
		if collide {
			tb.idx.Hash = func(id string) uint64 { return uint64(len(id) % 3) }
		}
		want := map[string][]rec{}
		for step := range 20000 {
			id := fmt.Sprintf("p_%d", rng.IntN(300))
			switch op := rng.IntN(10); {
			case op < 6:
				rs := make([]rec, 1+rng.IntN(3))
				for i := range rs {
					rs[i] = rec{at: rng.Int64(), ch: uint8(rng.IntN(len(Channels))), pur: uint8(rng.IntN(len(Purposes))),
						kind: uint8(rng.IntN(3)), granted: rng.IntN(2) == 0, text: fmt.Sprint("source-", rng.IntN(5))}
				}
				rs[0].reach = uint8(rng.IntN(256))
				tb.set(id, rs)
				want[id] = rs
			case op < 9:
				tb.delete(id)
				delete(want, id)
			default:
				tb.compact()
			}
			if step%997 == 0 {
				if err := tb.vals.Check(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if tb.len() != len(want) {
			t.Fatalf("collide %v: %d ids, want %d", collide, tb.len(), len(want))
		}
		for id, rs := range want {
			if got := tb.get(id); !reflect.DeepEqual(got, rs) {
				t.Fatalf("collide %v: %s = %+v, want %+v", collide, id, got, rs)
			}
		}
		seen := 0
		tb.each(func(id string, rs []rec) bool {
			seen++
			if !reflect.DeepEqual(rs, want[id]) {
				t.Fatalf("collide %v: each gives %s = %+v, want %+v", collide, id, rs, want[id])
			}
			return true
		})
		if seen != len(want) {
			t.Fatalf("collide %v: each saw %d ids, want %d", collide, seen, len(want))
		}
		if tb.get("p_none") != nil {
			t.Fatal("an id never set has facts")
		}
		if collide && tb.idx.Collisions() == 0 {
			t.Fatal("no id went to overflow with three hash values")
		}
	}
}
