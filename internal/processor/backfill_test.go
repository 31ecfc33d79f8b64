package processor

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"tailor/internal/demo"
	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/profile"
	"tailor/internal/recommend"
	"tailor/internal/store"
)

// filler is a counter that joins a store: it needs a backfill unless its
// mark is stored.
type filler struct {
	counter
	need bool
	key  string
}

func (f *filler) NeedsBackfill() bool { return f.need }

func (f *filler) MarkBackfilled(b *pebble.Batch) error {
	f.need = false
	return b.Set([]byte(f.key), nil, nil)
}

func marked(t *testing.T, db *pebble.DB, key string) bool {
	t.Helper()
	_, closer, err := db.Get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	closer.Close()
	return true
}

// TestBackfillBringsANewApplierToTheCheckpoint: an applier added to a store
// whose checkpoint is halfway through the demo log gets exactly the events
// up to it, each with the profile it belongs to now, so its per-profile
// counts equal those of an applier that was there all along (which was told
// of the merges instead); appliers that have state get nothing.
func TestBackfillBringsANewApplierToTheCheckpoint(t *testing.T) {
	entries := demoEntries(t, 100, 1<<30)
	half := len(entries) / 2
	db, err := store.Open(t.TempDir(), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	first := profile.NewStore()
	p := New(first, 1)
	along := &counter{perProf: map[string]int{}}
	p.Register(along)
	if _, err := p.Replay(ctx, sliceSource(entries[:half]), nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Checkpoint(db); err != nil {
		t.Fatal(err)
	}
	if len(along.merged) == 0 {
		t.Fatal("the first half of the demo log merges no profiles; the test proves nothing about identity")
	}

	second, q := restart(t, db)
	newbie := &filler{counter: counter{perProf: map[string]int{}}, need: true, key: "test/mark-new"}
	old := &filler{counter: counter{perProf: map[string]int{}}, key: "test/mark-old"}
	q.Register(newbie)
	q.Register(old)
	bs, err := q.Backfill(ctx, sliceSource(entries), db, func(e *event.Event) (string, bool) {
		id, _, _, ok := second.IdentityKeys(e.PrimaryID().Key(), 0)
		return id, ok
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bs.Events != uint64(half) || newbie.seen != half || bs.Skipped != 0 {
		t.Fatalf("backfill read %d events (%d skipped), the applier saw %d; want the %d up to the checkpoint", bs.Events, bs.Skipped, newbie.seen, half)
	}
	if len(newbie.merged) != 0 {
		t.Errorf("backfill told of merges %v; they happened before", newbie.merged)
	}
	if !maps.Equal(newbie.perProf, along.perProf) {
		t.Errorf("backfilled per-profile counts differ from the applier's that was there all along (%d vs %d profiles)", len(newbie.perProf), len(along.perProf))
	}
	if old.seen != 0 || marked(t, db, old.key) {
		t.Errorf("an applier with state saw %d events (marked %v)", old.seen, marked(t, db, old.key))
	}
	if !marked(t, db, newbie.key) || newbie.NeedsBackfill() {
		t.Error("the backfilled applier is not marked")
	}
	if q.Applied() != uint64(half) {
		t.Errorf("backfill moved the applied seq to %d", q.Applied())
	}
	// The rest arrives by the ordinary replay, with merges.
	if _, err := q.Replay(ctx, sliceSource(entries), nil); err != nil {
		t.Fatal(err)
	}
	if newbie.seen != len(entries) {
		t.Errorf("after replay the applier saw %d events, want %d", newbie.seen, len(entries))
	}
}

// TestBackfillOnANewStoreOnlyMarks: with nothing applied yet there is
// nothing to read, but the mark is written, so an applier that never
// writes state of its own is not backfilled at every later start.
func TestBackfillOnANewStoreOnlyMarks(t *testing.T) {
	db, err := store.Open(t.TempDir(), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := New(profile.NewStore(), 1)
	f := &filler{counter: counter{perProf: map[string]int{}}, need: true, key: "test/mark"}
	p.Register(f)
	read := false
	bs, err := p.Backfill(context.Background(), sliceSource(demoEntries(t, 10, 50)), db, func(*event.Event) (string, bool) {
		read = true
		return "p_x", true
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if read || bs.Events != 0 || f.seen != 0 {
		t.Errorf("a new store backfilled %d events", bs.Events)
	}
	if !marked(t, db, "test/mark") {
		t.Error("not marked")
	}
}

// BenchmarkBackfill is a backfill of the recommendation engine from a demo
// log of stored (encoded) entries: read, decode, resolve, apply, and the
// final checkpoint. ns/event is the figure; a replay costs about as much
// per event plus the profiles' work.
func BenchmarkBackfill(b *testing.B) {
	recv := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	var entries []eventlog.Entry
	err := demo.New(demo.Config{Customers: 3000}).Messages(func(msg []byte) error {
		entries = append(entries, eventlog.Entry{Seq: uint64(len(entries) + 1), Value: event.AppendStored(nil, msg, event.Meta{ReceivedAt: recv, SourceID: "demo"})})
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	profiles := profile.NewStore()
	if _, err := New(profiles, 1).Replay(context.Background(), storedSource(entries), nil); err != nil {
		b.Fatal(err)
	}
	resolve := func(e *event.Event) (string, bool) {
		id, _, _, ok := profiles.IdentityKeys(e.PrimaryID().Key(), 0)
		return id, ok
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
		if err != nil {
			b.Fatal(err)
		}
		p := New(profiles, 1)
		p.applied = uint64(len(entries))
		rec := recommend.New(recommend.Options{DB: db})
		p.Register(rec)
		b.StartTimer()
		bs, err := p.Backfill(context.Background(), storedSource(entries), db, resolve, nil)
		if err != nil || bs.Events != uint64(len(entries)) || bs.Skipped > 0 {
			b.Fatalf("backfill: %+v, %v", bs, err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(entries)), "ns/event")
	b.ReportMetric(float64(len(entries)), "events")
}

// storedSource replays entries that hold only their stored bytes.
type storedSource []eventlog.Entry

func (s storedSource) ReplayAll(ctx context.Context, after uint64, fn func(eventlog.Entry) error) error {
	for _, en := range s {
		if en.Seq > after {
			if err := fn(en); err != nil {
				return err
			}
		}
	}
	return nil
}
