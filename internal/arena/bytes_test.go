package arena

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestBytesKeepValues allocates, frees and compacts at random against a
// model: every live Ref reads back its value, a view taken before a value
// moved or was freed still reads the same, and the accounting adds up.
func TestBytesKeepValues(t *testing.T) {
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var b Bytes
		held := map[int]Ref{} // key → Ref
		want := map[int][]byte{}
		type view struct {
			v    []byte
			want []byte
		}
		var views []view
		next := 0
		for step := range 30000 {
			switch op := rng.IntN(10); {
			case op < 6 || len(held) == 0: // add
				n := rng.IntN(200)
				if rng.IntN(500) == 0 {
					n = chunkSize // a value with a chunk of its own
				}
				v := make([]byte, n)
				for i := range v {
					v[i] = byte(rng.Uint32())
				}
				r, dst := b.Alloc(n)
				copy(dst, v)
				held[next], want[next] = r, v
				next++
			case op < 9: // replace or free
				for k, r := range held {
					if rng.IntN(2) == 0 {
						views = append(views, view{b.Get(r), want[k]})
					}
					b.Free(r)
					delete(held, k)
					delete(want, k)
					break
				}
			default:
				b.compact(func(move func(Ref) Ref) {
					for k, r := range held {
						held[k] = move(r)
					}
				})
			}
			if step%1000 == 0 {
				if err := b.Check(); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, step, err)
				}
			}
		}
		for k, r := range held {
			if got := b.Get(r); !bytes.Equal(got, want[k]) {
				t.Fatalf("seed %d: value %d = %x, want %x", seed, k, got, want[k])
			}
		}
		for i, v := range views {
			if !bytes.Equal(v.v, v.want) {
				t.Fatalf("seed %d: view %d changed after its value was freed", seed, i)
			}
		}
	}
}

func TestBytesCompactReclaims(t *testing.T) {
	var b Bytes
	refs := make([]Ref, 0, 100000)
	for i := range 100000 {
		v := fmt.Appendf(nil, "value-%06d-%s", i, bytes.Repeat([]byte("x"), 200))
		r, dst := b.Alloc(len(v))
		copy(dst, v)
		refs = append(refs, r)
	}
	heldBefore, _ := b.Stats()
	if b.Compact(func(func(Ref) Ref) { t.Fatal("compacted with nothing freed") }) {
		t.Fatal("Compact says it compacted")
	}
	// Free nine values in ten: the chunks are a tenth live.
	kept := refs[:0]
	for i, r := range refs {
		if i%10 == 0 {
			kept = append(kept, r)
			continue
		}
		b.Free(r)
	}
	if !b.Compact(func(move func(Ref) Ref) {
		for i := range kept {
			kept[i] = move(kept[i])
		}
	}) {
		t.Fatal("nine tenths freed and no compaction")
	}
	held, freed := b.Stats()
	if held > heldBefore/5 || freed > held/4 {
		t.Fatalf("after compaction: %d bytes held of %d before, %d freed", held, heldBefore, freed)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	for j, r := range kept {
		want := fmt.Sprintf("value-%06d-", 10*j)
		if got := b.String(r); got[:len(want)] != want {
			t.Fatalf("kept value %d = %.20q, want %q…", j, got, want)
		}
	}
}

func TestBytesMissedRefStaysValid(t *testing.T) {
	var b Bytes
	var refs []Ref
	for i := range 1000 {
		r, dst := b.Alloc(100)
		dst[0] = byte(i)
		refs = append(refs, r)
	}
	for _, r := range refs[1:] {
		b.Free(r)
	}
	b.compact(func(func(Ref) Ref) {}) // a holder that visits nothing
	if got := b.Get(refs[0]); len(got) != 100 || got[0] != 0 {
		t.Fatalf("the missed value reads %d bytes, first %d", len(got), got[0])
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestBytesZero(t *testing.T) {
	var b Bytes
	r, dst := b.Alloc(0)
	if r != 0 || dst != nil || b.Get(0) != nil || b.String(0) != "" {
		t.Fatal("the empty value")
	}
	b.Free(0)
	if held, freed := b.Stats(); held != 0 || freed != 0 {
		t.Fatalf("held %d, freed %d after nothing", held, freed)
	}
}

// TestBytesCompactBudget checks that one pass moves about compactBudget
// bytes, the sparsest chunks first, and that passes in turn reclaim the rest.
func TestBytesCompactBudget(t *testing.T) {
	b := Bytes{CompactAt: 1}
	var refs []Ref
	for range 3 * compactBudget / 1000 * 4 { // 4× the budget's worth of 1,000-byte values
		r, _ := b.Alloc(1000)
		refs = append(refs, r)
	}
	kept := refs[:0]
	for i, r := range refs {
		if i%4 == 0 {
			kept = append(kept, r) // a quarter live: 3× the budget
			continue
		}
		b.Free(r)
	}
	visit := func(move func(Ref) Ref) {
		for i := range kept {
			kept[i] = move(kept[i])
		}
	}
	passes := 0
	for b.Compact(visit) {
		passes++
		if _, freed := b.Stats(); passes == 1 && freed < compactBudget {
			t.Fatalf("one pass reclaimed all but %d freed bytes: more than its budget", freed)
		}
		if passes > 10 {
			t.Fatal("compaction does not converge")
		}
	}
	if passes < 3 {
		t.Fatalf("%d passes moved 3× the budget", passes)
	}
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	if held, freed := b.Stats(); held > 2*len(kept)*1002 || freed > held/4 {
		t.Fatalf("held %d, freed %d for %d live bytes", held, freed, len(kept)*1002)
	}
}
