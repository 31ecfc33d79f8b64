package processor

import (
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/profile"
	"tailor/internal/recommend"
	"tailor/internal/store/storetest"
)

// slowCounter is a counter applied behind the processor, slowly, that
// records the goroutine-visible order of the seqs it saw and checks it is
// never applied while a checkpoint writes it.
type slowCounter struct {
	counter
	mu      sync.Mutex // the test reads seqs while Run runs
	seqs    []uint64
	delay   time.Duration
	writing bool
	clash   bool
	inline  *counter // read by Prepare
	badPrep bool
}

func (c *slowCounter) Apply(e *event.Event, r profile.Resolution) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writing {
		c.clash = true
	}
	if c.delay > 0 && e.Seq%50 == 0 {
		time.Sleep(c.delay)
	}
	c.seqs = append(c.seqs, e.Seq)
	c.counter.Apply(e, r)
}

// Prepare notes the number of events the inline counter had seen, which
// ApplyPrepared checks: what it prepared is what the event's own moment saw.
func (c *slowCounter) Prepare(e *event.Event, r profile.Resolution) any { return c.inline.seen }

func (c *slowCounter) ApplyPrepared(e *event.Event, r profile.Resolution, prep any) {
	if prep.(int) != int(e.Seq) {
		c.mu.Lock()
		c.badPrep = true
		c.mu.Unlock()
	}
	c.Apply(e, r)
}

func (c *slowCounter) Checkpoint(b *pebble.Batch) error {
	c.mu.Lock()
	c.writing = true
	c.mu.Unlock()
	time.Sleep(time.Millisecond) // an Apply now would be caught
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing = false
	return c.counter.Checkpoint(b)
}

// An applier registered with RegisterBehind sees every event, in log order,
// with its profile and merges, as an inline one does; each checkpoint taken
// while Run runs stores its count at the checkpoint's applied seq (it
// catches up first, and never applies while the checkpoint writes it); the
// lag counts an event until it has applied it too; before Run (Replay) it
// applies inline.
func TestBehindApplier(t *testing.T) {
	entries := demoEntries(t, 200, 1<<30)
	live := profile.NewStore()
	p := New(live, 64)
	inline := &counter{perProf: map[string]int{}}
	p.Register(inline)
	behind := &slowCounter{counter: counter{perProf: map[string]int{}}, delay: 2 * time.Millisecond, inline: inline}
	p.RegisterBehind(behind)
	db := storetest.MemDB(t)
	done := make(chan struct{})
	go func() { p.Run(); close(done) }()
	checkpoints := 0
	for i := 0; i < len(entries); i += 37 {
		batch := slices.Clone(entries[i:min(i+37, len(entries))])
		p.Sink(batch)
		if i%(37*8) == 0 {
			// Once the processor has applied the batch; the behind applier
			// may well trail it.
			for p.Applied() < batch[len(batch)-1].Seq {
				time.Sleep(100 * time.Microsecond)
			}
			if err := p.Checkpoint(db); err != nil {
				t.Fatal(err)
			}
			v, closer, err := db.Get(appliedKey)
			if err != nil {
				t.Fatal(err)
			}
			applied := binary.BigEndian.Uint64(v)
			closer.Close()
			v, closer, err = db.Get([]byte("test/counter"))
			if err != nil {
				t.Fatal(err)
			}
			if n := binary.BigEndian.Uint64(v); n != applied {
				t.Fatalf("checkpoint at seq %d stored the behind applier's count %d", applied, n)
			}
			closer.Close()
			checkpoints++
		}
	}
	// Wait for the lag to reach zero: by then the behind applier must have
	// seen every event.
	deadline := time.Now().Add(10 * time.Second)
	for p.LagEvents() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	behind.mu.Lock()
	seen := behind.seen
	behind.mu.Unlock()
	if p.LagEvents() != 0 || seen != len(entries) {
		t.Fatalf("lag %d while the behind applier has seen %d of %d", p.LagEvents(), seen, len(entries))
	}
	p.CloseInput()
	<-done
	if checkpoints < 3 {
		t.Fatalf("only %d checkpoints taken during the run", checkpoints)
	}
	if behind.clash {
		t.Fatal("the behind applier applied while a checkpoint wrote it")
	}
	if behind.badPrep {
		t.Fatal("what Prepare read was not the state at the event's position")
	}
	for i, s := range behind.seqs {
		if s != uint64(i+1) {
			t.Fatalf("behind applier's event %d has seq %d: out of order", i, s)
		}
	}
	if len(behind.merged) == 0 || !slices.Equal(behind.merged, inline.merged) {
		t.Fatalf("behind applier told of merges %v, inline %v", behind.merged, inline.merged)
	}
	for id, n := range inline.perProf {
		if behind.perProf[id] != n {
			t.Fatalf("profile %s: behind applier counted %d, inline %d", id, behind.perProf[id], n)
		}
	}
	if len(behind.perProf) != len(inline.perProf) {
		t.Fatalf("behind applier tracks %d profiles, inline %d", len(behind.perProf), len(inline.perProf))
	}

	// Before Run, a replay applies it inline, after the inline appliers.
	var order []string
	q := New(profile.NewStore(), 1)
	q.RegisterBehind(behindNamed{named{"behind", &order}})
	q.Register(named{"inline", &order})
	replayOne(t, q)
	if !slices.Equal(order, []string{"inline", "behind"}) {
		t.Fatalf("replay applied in order %v", order)
	}
}

type behindNamed struct{ named }

func (n behindNamed) Prepare(*event.Event, profile.Resolution) any { return nil }
func (n behindNamed) ApplyPrepared(e *event.Event, r profile.Resolution, _ any) {
	n.Apply(e, r)
}

// BenchmarkBehind feeds demo events through Sink and Run, batches of 170
// as a group commit hands them off at 40 k events/s, to the profiles and
// the recommendation engine, with the engine applied inline and behind
// (RegisterBehind). proc-ns/event is how long the processor's goroutine
// took to apply them (until an inline applier registered last saw the last
// event): what bounds how fast it empties its queue. ns/event is the wall
// time until every applier has applied everything.
//
//	go test -run '^$' -bench Behind -benchtime 10x ./internal/processor/
func BenchmarkBehind(b *testing.B) {
	entries := demoEntries(b, 5000, 1<<30)
	for _, mode := range []string{"inline", "behind"} {
		b.Run(mode, func(b *testing.B) {
			n := 0
			var proc time.Duration
			for b.Loop() {
				b.StopTimer()
				p := New(profile.NewStore(), 1<<20)
				rec := recommend.New(recommend.Options{})
				if mode == "behind" {
					p.RegisterBehind(rec)
				} else {
					p.Register(rec)
				}
				m := &lastSeen{last: entries[len(entries)-1].Seq}
				p.Register(m)
				batches := make([][]eventlog.Entry, 0, len(entries)/170+1)
				for i := 0; i < len(entries); i += 170 {
					batches = append(batches, slices.Clone(entries[i:min(i+170, len(entries))]))
				}
				done := make(chan struct{})
				b.StartTimer()
				start := time.Now()
				go func() { p.Run(); close(done) }()
				for _, bt := range batches {
					p.Sink(bt)
				}
				p.CloseInput()
				<-done
				proc += m.at.Sub(start)
				n += len(entries)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
			b.ReportMetric(float64(proc.Nanoseconds())/float64(n), "proc-ns/event")
		})
	}
}

// lastSeen notes when it applies the event of seq last.
type lastSeen struct {
	last uint64
	at   time.Time
}

func (l *lastSeen) Name() string { return "last" }
func (l *lastSeen) Apply(e *event.Event, _ profile.Resolution) {
	if e.Seq == l.last {
		l.at = time.Now()
	}
}
func (l *lastSeen) Checkpoint(*pebble.Batch) error { return nil }
