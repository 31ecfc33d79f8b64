package recommend

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"tailor/internal/arena/arenatest"
	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/store/storetest"
)

// BenchmarkGCWithProfiles measures what the engine's profiles cost the
// garbage collector: the time of one full collection (marking is
// proportional to the live objects and pointers) and the engine's heap
// objects per profile. Each of 300,000 profiles has a demo-like history
// over 5,000 products: four views, two cart additions and one order of two
// products. A checkpoint runs before measuring, as in a server, so the
// change sets are the steady state's, not every profile.
//
//	go test -run '^$' -bench GCWithProfiles -benchtime 3x ./internal/recommend/
func BenchmarkGCWithProfiles(b *testing.B) {
	const n, nProducts = 300_000, 5_000
	products := make([]map[string]any, nProducts)
	for i := range products {
		products[i] = map[string]any{"product_id": fmt.Sprintf("sku-%05d", i), "category": fmt.Sprintf("Cat %02d", i%50),
			"price": float64(5 + i%300), "name": fmt.Sprintf("Product %d", i)}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	// The ids are counted: a server's profile ids come from decoded events,
	// and the engine keeps them or copies of them.
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("2b3e2a4c-1111-4a2b-9c3d-%012d", i)
	}

	e := New(Options{})
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := &event.Event{Type: event.Track}
	apply := func(who string, name string, props map[string]any) {
		at = at.Add(time.Second)
		ev.Event, ev.UserID, ev.Timestamp, ev.Properties = name, who, at, props
		e.Apply(ev, profile.Resolution{Profile: who})
	}
	for i, who := range ids {
		p := func(k int) map[string]any { return products[(i*7+k*131)%nProducts] }
		for k := range 4 {
			apply(who, event.ProductViewed, p(k))
		}
		apply(who, event.ProductAdded, p(1))
		apply(who, event.ProductAdded, p(2))
		apply(who, event.OrderCompleted, map[string]any{"products": []any{p(1), p(2)}})
	}
	db := storetest.MemDB(b)
	batch := db.NewBatch()
	if err := e.Checkpoint(batch); err != nil {
		b.Fatal(err)
	}
	batch.Close()
	ids = nil // what the engine keeps of them stays counted

	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
	}
	b.ReportMetric(float64(after.HeapObjects-before.HeapObjects)/n, "objects/profile")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-bytes/profile")
	runtime.KeepAlive(e)
	runtime.KeepAlive(products)
}

// BenchmarkGCAfterLoad is the time of one full collection while an engine
// loaded from its checkpoint is live (200,000 profiles after 400,000
// events), with the heap's objects per profile: the profiles and their
// arrays hold no pointers (prof, touchPool).
//
//	go test -run '^$' -bench GCAfterLoad -benchtime 3x ./internal/recommend/
func BenchmarkGCAfterLoad(b *testing.B) {
	db := storetest.MemDB(b)
	n := func() int {
		s := newBenchShop(100_000, 200_000, 400_000)
		e := New(Options{})
		for i := range s.events {
			e.Apply(s.events[i], s.res[i])
		}
		cp := db.NewBatch()
		defer cp.Close()
		if err := e.Checkpoint(cp); err != nil {
			b.Fatal(err)
		}
		if err := cp.Commit(nil); err != nil {
			b.Fatal(err)
		}
		return e.profiles.len()
	}()
	e := New(Options{DB: db})
	if err := e.Load(); err != nil {
		b.Fatal(err)
	}
	if got := e.profiles.len(); got != n {
		b.Fatalf("loaded %d profiles, want %d", got, n)
	}
	arenatest.Collect(b, e, n, "profile")
}
