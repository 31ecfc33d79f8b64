package processor

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/demo"
	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/profile"
	"tailor/internal/store"
	"tailor/internal/store/storetest"
)

var errStop = errors.New("stop")

// demoEntries decodes the first n messages of the demo store as log entries.
func demoEntries(t testing.TB, customers, n int) []eventlog.Entry {
	t.Helper()
	var out []eventlog.Entry
	recv := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	err := demo.New(demo.Config{Customers: customers}).Messages(func(msg []byte) error {
		if len(out) == n {
			return errStop
		}
		e, err := event.Decode(msg, event.Meta{ReceivedAt: recv, SourceID: "demo"})
		if err != nil {
			t.Fatalf("demo message does not decode: %v", err)
		}
		out = append(out, eventlog.Entry{Seq: uint64(len(out) + 1), Payload: &e, AppendedAt: time.Now()})
		return nil
	})
	if err != nil && err != errStop {
		t.Fatal(err)
	}
	return out
}

// sliceSource replays entries from memory.
type sliceSource []eventlog.Entry

func (s sliceSource) ReplayAll(ctx context.Context, after uint64, fn func(eventlog.Entry) error) error {
	for _, en := range s {
		if en.Seq > after {
			// Each replay gets its own copy of the event, as a decode would.
			e := *en.Payload.(*event.Event)
			en.Payload = &e
			if err := fn(en); err != nil {
				return err
			}
		}
	}
	return nil
}

// counter is an applier that counts events per profile and records the
// merges it is told about, checkpointing its count under its own key.
type counter struct {
	seen    int
	perProf map[string]int
	merged  []string
	order   *[]string
}

func (c *counter) Name() string { return "counter" }

func (c *counter) Apply(e *event.Event, r profile.Resolution) {
	if c.order != nil {
		*c.order = append(*c.order, "counter")
	}
	c.seen++
	for _, m := range r.Merged {
		c.perProf[r.Profile] += c.perProf[m]
		delete(c.perProf, m)
		c.merged = append(c.merged, m)
	}
	c.perProf[r.Profile]++
}

func (c *counter) Checkpoint(b *pebble.Batch) error {
	return b.Set([]byte("test/counter"), binary.BigEndian.AppendUint64(nil, uint64(c.seen)), nil)
}

// TestBatchesAndAppliers feeds demo events through Sink/Run in batches: the
// profiles equal applying them one by one, and a registered applier sees
// every event with the profile it went to and every merge, so its per-profile
// counts equal the profiles' event counts.
func TestBatchesAndAppliers(t *testing.T) {
	entries := demoEntries(t, 200, 1<<30)
	live := profile.NewStore()
	p := New(live, 4)
	c := &counter{perProf: map[string]int{}}
	p.Register(c)
	done := make(chan struct{})
	go func() { p.Run(); close(done) }()
	for i := 0; i < len(entries); i += 37 {
		p.Sink(slices.Clone(entries[i:min(i+37, len(entries))]))
	}
	p.CloseInput()
	<-done
	if p.LagEvents() != 0 || p.Applied() != uint64(len(entries)) || c.seen != len(entries) {
		t.Fatalf("lag %d, applied %d, applier saw %d, of %d", p.LagEvents(), p.Applied(), c.seen, len(entries))
	}
	ref := profile.NewStore()
	if _, err := New(ref, 1).Replay(context.Background(), sliceSource(entries), nil); err != nil {
		t.Fatal(err)
	}
	if d := profile.Diff(live, ref, 5); len(d) > 0 {
		t.Fatalf("batched processing differs: %v", d)
	}
	if len(c.merged) == 0 {
		t.Fatal("the demo store merges profiles; the applier was told of none")
	}
	if len(c.perProf) != live.Len() {
		t.Fatalf("applier tracks %d profiles, the store holds %d", len(c.perProf), live.Len())
	}
	for id, n := range c.perProf {
		snap, ok := live.Lookup(id)
		if !ok || snap.Computed.EventCount != int64(n) {
			t.Fatalf("profile %s: applier counted %d events, profile has %d (found %v)", id, n, snap.Computed.EventCount, ok)
		}
	}
}

// TestCheckpointAndReplay checkpoints halfway, then restarts from the
// checkpoint: the profiles and the applier's stored state match the log
// position, and replaying the rest gives what applying everything gives.
func TestCheckpointAndReplay(t *testing.T) {
	entries := demoEntries(t, 100, 1<<30)
	half := len(entries) / 2
	db, err := store.Open(t.TempDir(), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	first := profile.NewStore()
	p := New(first, 1)
	c := &counter{perProf: map[string]int{}}
	p.Register(c)
	if _, err := p.Replay(context.Background(), sliceSource(entries[:half]), nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Checkpoint(db); err != nil {
		t.Fatal(err)
	}
	// Events applied after the checkpoint are not in it.
	if _, err := p.Replay(context.Background(), sliceSource(entries[half:half+10]), nil); err != nil {
		t.Fatal(err)
	}

	second, q := restart(t, db)
	if q.Applied() != uint64(half) {
		t.Fatalf("checkpoint holds seq %d, want %d", q.Applied(), half)
	}
	v, closer, err := db.Get([]byte("test/counter"))
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint64(v); got != uint64(half) {
		t.Fatalf("applier checkpointed %d events, want %d", got, half)
	}
	closer.Close()
	n, err := q.Replay(context.Background(), sliceSource(entries), nil)
	if err != nil || n != uint64(len(entries)-half) {
		t.Fatalf("replay: %d entries after the checkpoint, want %d, err %v", n, len(entries)-half, err)
	}
	all := profile.NewStore()
	if _, err := New(all, 1).Replay(context.Background(), sliceSource(entries), nil); err != nil {
		t.Fatal(err)
	}
	if d := profile.Diff(second, all, 5); len(d) > 0 {
		t.Fatalf("restart from checkpoint differs from a clean replay:\n%s", strings.Join(d, "\n"))
	}
	// Nothing changed since: a second checkpoint writes nothing.
	if err := q.Checkpoint(db); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointsReuseBatch: checkpoints in a row write through the batch
// the previous one kept (reset), and a restart from the last of them holds
// what applying everything holds; another store does not get that batch.
func TestCheckpointsReuseBatch(t *testing.T) {
	entries := demoEntries(t, 100, 1<<30)
	db := storetest.MemDB(t)
	live := profile.NewStore()
	p := New(live, 1)
	c := &counter{perProf: map[string]int{}}
	p.Register(c)
	var kept *pebble.Batch
	for i, part := range [][]eventlog.Entry{entries[:len(entries)/3], entries[:2*len(entries)/3], entries} {
		if _, err := p.Replay(context.Background(), sliceSource(part), nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Checkpoint(db); err != nil {
			t.Fatal(err)
		}
		if p.cpBatch == nil || p.cpDB != DB(db) {
			t.Fatalf("checkpoint %d kept no batch for its store", i)
		}
		if i > 0 && p.cpBatch != kept {
			t.Fatalf("checkpoint %d did not reuse the batch the one before kept", i)
		}
		if !p.cpBatch.Empty() {
			t.Fatalf("kept batch holds %d bytes, not reset", p.cpBatch.Len())
		}
		kept = p.cpBatch
	}
	restarted, q := restart(t, db)
	if q.Applied() != uint64(len(entries)) {
		t.Fatalf("last checkpoint holds seq %d, want %d", q.Applied(), len(entries))
	}
	if d := profile.Diff(restarted, live, 5); len(d) > 0 {
		t.Fatalf("restart from the last checkpoint differs from the live state:\n%s", strings.Join(d, "\n"))
	}

	if b := p.takeBatch(storetest.MemDB(t)); b != nil {
		t.Fatal("another store took the first store's batch")
	}
	if p.takeBatch(db) != kept {
		t.Fatal("the first store's batch was not kept for it")
	}
}

// restart loads the profiles and the processor's checkpoint from db, as a
// start does.
func restart(t *testing.T, db *pebble.DB) (*profile.Store, *Processor) {
	t.Helper()
	s := profile.NewStore()
	if err := s.Load(db); err != nil {
		t.Fatal(err)
	}
	q := New(s, 1)
	if err := q.Load(db); err != nil {
		t.Fatal(err)
	}
	return s, q
}

// TestAppliersInOrder checks the processor calls the appliers in the order
// they registered, after the profiles.
func TestAppliersInOrder(t *testing.T) {
	var order []string
	s := profile.NewStore()
	p := New(s, 1)
	p.Register(&counter{perProf: map[string]int{}, order: &order})
	p.Register(named{"second", &order})
	replayOne(t, p)
	if !slices.Equal(order, []string{"counter", "second"}) {
		t.Fatalf("order = %v", order)
	}
}

// replayOne replays one track event through p.
func replayOne(t *testing.T, p *Processor) {
	t.Helper()
	e := &event.Event{Type: event.Track, Event: "E", UserID: "u", MessageID: "m", Timestamp: time.Now()}
	if _, err := p.Replay(context.Background(), sliceSource{{Seq: 1, Payload: e}}, nil); err != nil {
		t.Fatal(err)
	}
}

type named struct {
	name  string
	order *[]string
}

func (n named) Name() string                           { return n.name }
func (n named) Apply(*event.Event, profile.Resolution) { *n.order = append(*n.order, n.name) }
func (n named) Checkpoint(*pebble.Batch) error         { return nil }

// splitCounter is a counter whose checkpoint's second part writes the
// count taken in the pause, after a delay, and notes whether applying
// could run meanwhile.
type splitCounter struct {
	counter
	p         *Processor
	delay     time.Duration
	unpaused  bool
	finishErr error
}

func (c *splitCounter) CheckpointSplit(b *pebble.Batch) (func() error, error) {
	seen := c.seen
	return func() error {
		time.Sleep(c.delay)
		if c.p.mu.TryLock() {
			c.unpaused = true
			c.p.mu.Unlock()
		}
		if c.finishErr != nil {
			return c.finishErr
		}
		return b.Set([]byte("test/counter"), binary.BigEndian.AppendUint64(nil, uint64(seen)), nil)
	}, nil
}

// A SplitCheckpointer's second part runs after the pause, with applying
// free to go on, and what it writes is committed with the applied seq of
// the pause; when it fails nothing of the checkpoint is committed.
func TestSplitCheckpointFinishesAfterThePause(t *testing.T) {
	entries := demoEntries(t, 20, 200)
	for _, tc := range []struct {
		name    string
		fail    error
		applied uint64
	}{
		{"finishes", nil, uint64(len(entries))},
		{"fails", errors.New("disk full"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := store.Open(t.TempDir(), 8<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			p := New(profile.NewStore(), 1)
			c := &splitCounter{counter: counter{perProf: map[string]int{}}, p: p, delay: 100 * time.Millisecond, finishErr: tc.fail}
			p.Register(c)
			if _, err := p.Replay(context.Background(), sliceSource(entries), nil); err != nil {
				t.Fatal(err)
			}
			cs, err := p.CheckpointStats(db)
			if (err != nil) != (tc.fail != nil) {
				t.Fatalf("checkpoint: %v, want error %v", err, tc.fail)
			}
			if !c.unpaused {
				t.Error("the second part ran while applying was paused")
			}
			if tc.fail == nil && (cs.Pause >= c.delay || cs.Total < c.delay) {
				t.Errorf("pause %s, total %s: want the second part's %s in the total only", cs.Pause, cs.Total, c.delay)
			}
			q := New(profile.NewStore(), 1)
			if err := q.Load(db); err != nil {
				t.Fatal(err)
			}
			if q.Applied() != tc.applied {
				t.Errorf("checkpoint holds seq %d, want %d", q.Applied(), tc.applied)
			}
			v, closer, err := db.Get([]byte("test/counter"))
			if tc.fail == nil {
				if err != nil || binary.BigEndian.Uint64(v) != uint64(len(entries)) {
					t.Fatalf("second part's write: %v %v, want %d events", v, err, len(entries))
				}
				closer.Close()
			} else if !errors.Is(err, pebble.ErrNotFound) {
				t.Errorf("a failed second part's checkpoint left test/counter: %v", err)
			}
		})
	}
}

// BenchmarkCheckpoint times a checkpoint of the profiles changed by 50,000
// demo events of 20,000 customers (two seconds of ingest, the checkpoint
// interval, at 25 k events a second: a batch of several MB, past what
// Pebble's batch pool keeps), and the bytes it allocates.
//
//	go test -run '^$' -bench BenchmarkCheckpoint -benchmem ./internal/processor/
func BenchmarkCheckpoint(b *testing.B) {
	entries := demoEntries(b, 20000, 1<<30)
	db, err := store.Open(b.TempDir(), 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	p := New(profile.NewStore(), 1)
	const window = 50000
	seq := uint64(0)
	next := func() sliceSource {
		out := make(sliceSource, window)
		for i := range out {
			en := entries[(int(seq)+i)%len(entries)]
			en.Seq = seq + uint64(i) + 1
			out[i] = en
		}
		seq += window
		return out
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if _, err := p.Replay(context.Background(), next(), nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := p.Checkpoint(db); err != nil {
			b.Fatal(err)
		}
	}
}

// sleepyApplier's checkpoint takes d.
type sleepyApplier struct {
	named
	d time.Duration
}

func (s sleepyApplier) Checkpoint(*pebble.Batch) error { time.Sleep(s.d); return nil }

// A checkpoint says where its pause went: the profiles, then each applier
// in registration order (a split one's first part only), each with its
// own time, together within the pause.
func TestCheckpointPartsSayWhereThePauseWent(t *testing.T) {
	entries := demoEntries(t, 20, 200)
	db := storetest.MemDB(t)
	p := New(profile.NewStore(), 1)
	var order []string
	const slow = 30 * time.Millisecond
	p.Register(named{"first", &order})
	p.Register(sleepyApplier{named{"sleepy", &order}, slow})
	p.Register(&splitCounter{counter: counter{perProf: map[string]int{}}, p: p, delay: slow})
	if _, err := p.Replay(context.Background(), sliceSource(entries), nil); err != nil {
		t.Fatal(err)
	}
	cs, err := p.CheckpointStats(db)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var sum time.Duration
	for _, pt := range cs.Parts {
		names = append(names, pt.Name)
		sum += pt.Took
	}
	if want := []string{"wait", "profiles", "first", "sleepy", "counter"}; !slices.Equal(names, want) {
		t.Fatalf("parts %v, want %v", names, want)
	}
	if got := cs.Parts[3].Took; got < slow {
		t.Errorf("the sleepy applier's part took %v, its checkpoint sleeps %v", got, slow)
	}
	if got := cs.Parts[4].Took; got >= slow {
		t.Errorf("the split applier's part took %v: its second part (a %v sleep, after the pause) was counted", got, slow)
	}
	if sum > cs.Pause {
		t.Errorf("parts sum to %v, more than the pause %v", sum, cs.Pause)
	}
	if cs.Total < cs.Pause+slow {
		t.Errorf("total %v, want at least the pause %v and the split part's %v", cs.Total, cs.Pause, slow)
	}
}
