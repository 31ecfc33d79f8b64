package profile

import (
	"fmt"
	"testing"
	"time"

	"tailor/internal/arena/arenatest"
	"tailor/internal/event"
	"tailor/internal/store/storetest"
)

// BenchmarkGCWithProfiles measures what a store of many profiles costs the
// garbage collector: the time of one full collection (marking is
// proportional to the live objects and pointers) and the heap objects per
// profile. Every profile has a userId, an anonymousId and an email and one
// order; 10,000 of them are hot (decoded), the rest encoded, as in a large
// store.
//
//	go test -run '^$' -bench GCWithProfiles -benchtime 3x ./internal/profile/
func BenchmarkGCWithProfiles(b *testing.B) {
	const n = 300_000
	s := gcStore(n)
	arenatest.Collect(b, s, n, "profile")
}

// BenchmarkGCAfterLoad is BenchmarkGCWithProfiles for a store loaded from
// its checkpoint, as a restarted server holds it: the load packs what it
// keeps of each profile (loadArena). "changed" is near the packing's worst
// case: nine profiles in ten then get an event and a checkpoint re-encodes
// them, and their loaded encodings stay in chunks that the tenth keeps
// alive (heap-bytes/profile says what that holds).
//
//	go test -run '^$' -bench GCAfterLoad -benchtime 3x ./internal/profile/
func BenchmarkGCAfterLoad(b *testing.B) {
	const n = 300_000
	db := storetest.MemDB(b)
	batch := db.NewBatch()
	if err := gcStore(n).Checkpoint(batch); err != nil {
		b.Fatal(err)
	}
	if err := batch.Commit(nil); err != nil {
		b.Fatal(err)
	}
	batch.Close()
	for _, changed := range []bool{false, true} {
		name := "loaded"
		if changed {
			name = "changed"
		}
		b.Run(name, func(b *testing.B) {
			s := NewStore()
			s.SetHot(10_000)
			if err := s.Load(db); err != nil {
				b.Fatal(err)
			}
			if s.Len() != n {
				b.Fatalf("loaded %d profiles, want %d", s.Len(), n)
			}
			if changed {
				ts := time.Unix(1700001000, 0)
				for i := range n {
					if i%10 == 0 {
						continue
					}
					seq := uint64(2*n + 1 + i)
					s.apply(&event.Event{Seq: seq, Type: event.Identify, MessageID: fmt.Sprint("c", seq), UserID: fmt.Sprint("user-", i),
						Timestamp: ts.Add(time.Duration(i)), Traits: map[string]any{"plan": "gold"}})
				}
				cp := db.NewBatch()
				if err := s.Checkpoint(cp); err != nil {
					b.Fatal(err)
				}
				cp.Close()
			}
			arenatest.Collect(b, s, n, "profile")
		})
	}
}

// gcStore is a store of n profiles, each with a userId, an anonymousId and
// an email and one order; 10,000 of them are hot.
func gcStore(n int) *Store {
	s := NewStore()
	s.SetHot(10_000)
	ts := time.Unix(1700000000, 0)
	seq := uint64(0)
	for i := range n {
		for _, typ := range []event.Type{event.Identify, event.Track} {
			seq++
			e := &event.Event{Seq: seq, Type: typ, MessageID: fmt.Sprint("m", seq), UserID: fmt.Sprint("user-", i),
				AnonymousID: fmt.Sprintf("2b3e2a4c-1111-4a2b-9c3d-%012d", i), Timestamp: ts.Add(time.Duration(seq))}
			if typ == event.Identify {
				e.Traits = map[string]any{"email": fmt.Sprintf("u%d@example.org", i), "name": "Ann"}
			} else {
				e.Event = "Order Completed"
				e.Properties = map[string]any{"revenue": 42.0, "products": []any{map[string]any{"product_id": "p1", "category": "shoes"}}}
			}
			s.apply(e)
		}
	}
	return s
}
