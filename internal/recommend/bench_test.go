package recommend

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/store/storetest"
)

// benchShop is a synthetic shop of nProducts in 500 categories with a
// heavy-tailed popularity, and a stream of events by nProfiles.
type benchShop struct {
	products []map[string]any
	events   []*event.Event
	res      []profile.Resolution
}

func newBenchShop(nProducts, nProfiles, nEvents int) *benchShop {
	r := rand.New(rand.NewPCG(1, 2))
	s := &benchShop{products: make([]map[string]any, nProducts)}
	for i := range s.products {
		s.products[i] = map[string]any{"product_id": fmt.Sprintf("sku-%06d", i), "category": fmt.Sprintf("Cat %03d", i%500),
			"price": float64(5 + i%300), "name": fmt.Sprintf("Product %d", i)}
	}
	// Zipf-like: product k drawn with weight ~1/(k+10).
	zipf := rand.NewZipf(r, 1.1, 10, uint64(nProducts-1))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range nEvents {
		at = at.Add(time.Duration(r.IntN(2000)) * time.Millisecond)
		who := fmt.Sprintf("p_%d", r.IntN(nProfiles))
		p := s.products[zipf.Uint64()]
		var e *event.Event
		switch x := r.IntN(100); {
		case x < 60:
			e = &event.Event{Type: event.Track, Event: event.ProductViewed, Properties: p}
		case x < 85:
			e = &event.Event{Type: event.Track, Event: event.ProductAdded, Properties: p}
		default:
			items := []any{p}
			for range r.IntN(3) {
				items = append(items, s.products[zipf.Uint64()])
			}
			e = &event.Event{Type: event.Track, Event: event.OrderCompleted, Properties: map[string]any{"products": items}}
		}
		e.UserID, e.Timestamp = who, at
		s.events = append(s.events, e)
		s.res = append(s.res, profile.Resolution{Profile: who})
	}
	return s
}

// BenchmarkApply is how many events per second the models keep up with
// (views 60 %, cart additions 25 %, orders of 1-3 products 15 %, 100,000
// products, 200,000 profiles). The target is 20,000 events/s.
func BenchmarkApply(b *testing.B) {
	s := newBenchShop(100_000, 200_000, 400_000)
	e := New(Options{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(s.events)
		e.Apply(s.events[k], s.res[k])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRecommend is the time of one call per strategy, on a model fed
// 400,000 events over 100,000 products, without the answer cache.
func BenchmarkRecommend(b *testing.B) {
	s := newBenchShop(100_000, 50_000, 400_000)
	e := New(Options{Now: func() time.Time { return s.events[len(s.events)-1].Timestamp }})
	for i := range s.events {
		e.Apply(s.events[i], s.res[i])
	}
	ctx := context.Background()
	for _, strategy := range []string{ForYou, AlsoBought, Complements, BuyAgain, Bestsellers, Trending} {
		b.Run(strategy, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				// At bypasses the answer cache: every call computes.
				req := Request{Strategy: strategy, ProfileID: fmt.Sprintf("p_%d", i%50_000), Limit: 10,
					Filter: Filter{MaxPerCategory: 2, ExcludeCategoryFor: 24 * time.Hour}, At: s.events[len(s.events)-1].Timestamp}
				if IsItemStrategy(strategy) {
					req.ItemID = fmt.Sprintf("sku-%06d", i%1000)
				}
				if _, err := e.Recommend(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPurchaseToAnswer is the in-process latency from a purchase
// being applied to the next for_you answer that no longer holds it.
func BenchmarkPurchaseToAnswer(b *testing.B) {
	s := newBenchShop(100_000, 50_000, 400_000)
	now := s.events[len(s.events)-1].Timestamp
	e := New(Options{Now: func() time.Time { return now }})
	for i := range s.events {
		e.Apply(s.events[i], s.res[i])
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		who := fmt.Sprintf("p_%d", i%50_000)
		before, _ := e.Recommend(ctx, Request{Strategy: ForYou, ProfileID: who, Limit: 10})
		if len(before) == 0 {
			b.Fatal("no recommendations")
		}
		top := before[0].ID
		e.Apply(&event.Event{Type: event.Track, Event: event.OrderCompleted, UserID: who, Timestamp: now,
			Properties: map[string]any{"products": []any{map[string]any{"product_id": top}}}}, profile.Resolution{Profile: who})
		after, _ := e.Recommend(ctx, Request{Strategy: ForYou, ProfileID: who, Limit: 10})
		if slices.ContainsFunc(after, func(it Item) bool { return it.ID == top }) {
			b.Fatalf("%s still recommended after its purchase", top)
		}
	}
}

// BenchmarkCheckpoint is the cost of one checkpoint after 40,000 events
// (two seconds of ingest at 20,000 events/s, the server's default
// checkpoint interval) on a model warmed with 400,000: ns/op both parts,
// pause-ms/op the first, during which the processor does not apply.
func BenchmarkCheckpoint(b *testing.B) {
	s := newBenchShop(100_000, 200_000, 440_000)
	e := New(Options{})
	for i := range 400_000 {
		e.Apply(s.events[i], s.res[i])
	}
	db := storetest.MemDB(b)
	warm := db.NewBatch()
	if err := e.Checkpoint(warm); err != nil {
		b.Fatal(err)
	}
	warm.Close()
	var bytes int
	var pause time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for k := 400_000; k < 440_000; k++ {
			e.Apply(s.events[k], s.res[k])
		}
		batch := db.NewBatch()
		b.StartTimer()
		start := time.Now()
		finish, err := e.CheckpointSplit(batch)
		if err != nil {
			b.Fatal(err)
		}
		pause += time.Since(start)
		if err := finish(); err != nil {
			b.Fatal(err)
		}
		bytes = batch.Len()
		batch.Close()
	}
	b.ReportMetric(float64(bytes)/1e6, "MB/checkpoint")
	b.ReportMetric(float64(pause.Microseconds())/1e3/float64(b.N), "pause-ms/op")
}

// BenchmarkLoad is a restart's load of the profile histories (200,000
// profiles after 400,000 events), from records in the binary format and
// in the JSON one it replaced, in the same run.
func BenchmarkLoad(b *testing.B) {
	s := newBenchShop(100_000, 200_000, 400_000)
	e := New(Options{})
	for i := range s.events {
		e.Apply(s.events[i], s.res[i])
	}
	bin := storetest.MemDB(b)
	cp := bin.NewBatch()
	if err := e.Checkpoint(cp); err != nil {
		b.Fatal(err)
	}
	if err := cp.Commit(nil); err != nil {
		b.Fatal(err)
	}
	js := storetest.MemDB(b)
	cp = js.NewBatch()
	it, err := bin.NewIter(nil)
	if err != nil {
		b.Fatal(err)
	}
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		if k := string(it.Key()); strings.HasPrefix(k, profPrefix) {
			var r profRecord
			if err := decodeProf(v, &r); err != nil {
				b.Fatal(err)
			}
			v, _ = json.Marshal(r)
		}
		if err := cp.Set(append([]byte(nil), it.Key()...), v, nil); err != nil {
			b.Fatal(err)
		}
	}
	it.Close()
	if err := cp.Commit(nil); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		db   *pebble.DB
	}{{"json", js}, {"binary", bin}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := New(Options{DB: c.db}).Load(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(e.profiles.len()), "profiles")
		})
	}
}
