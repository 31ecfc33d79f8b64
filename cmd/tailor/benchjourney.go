package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"tailor/internal/event"
	"tailor/internal/journey"
	"tailor/internal/profile"
	"tailor/internal/store"
)

// benchJourney measures the journey engine in process, with a Pebble
// store in a temporary directory: the memory of N profiles waiting in
// timers (against the heap before they entered), the lateness of their
// timers firing (due instant to the outbox), before and after a restart
// half way, and the trigger-to-Enqueue latency with and without them.
func benchJourney(ctx context.Context, args []string) error {
	for i, a := range args {
		if a == "--e2e" || a == "-e2e" {
			return benchJourneyE2E(ctx, append(slices.Clone(args[:i]), args[i+1:]...))
		}
	}
	fs := flag.NewFlagSet("bench journey", flag.ContinueOnError)
	fs.Bool("e2e", false, "instead: drive a running server (--target) at a paced rate with demo events and journey triggers, and measure trigger -> webhook adapter end to end; see 'tailor bench journey --e2e -h'")
	n := fs.Int("profiles", 1_000_000, "profiles entering a journey and waiting in a timer")
	spread := fs.Duration("spread", time.Minute, "the timers fall due evenly over this span")
	rate := fs.Int("rate", 5000, "trigger events per second while measuring trigger to Enqueue")
	horizon := fs.Duration("horizon", 20*time.Second, "how far ahead the engine keeps timers in memory (shorter than the spread, so that timers come from the store as time passes)")
	dir := fs.String("dir", "", "directory for the temporary store (default: the system's temporary directory)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *n < 1 || *spread < 10*time.Second || *rate < 1 {
		return fmt.Errorf("%w: --profiles must be at least 1, --spread at least 10s, --rate at least 1", errUsage)
	}
	tmp, err := os.MkdirTemp(*dir, "tailor-bench-journey-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	db, err := store.Open(filepath.Join(tmp, "pebble"), 64<<20)
	if err != nil {
		return err
	}
	defer func() { db.Close() }()

	b := &jbench{due: map[string]time.Time{}}
	open := func() (*journey.Engine, chan *event.Event, func()) {
		evs := make(chan *event.Event, 4096)
		// The timer loop may still be recording when the engine stops: it
		// gets an error then, as from a closed log.
		var mu sync.Mutex
		closed := false
		var e *journey.Engine
		e = journey.New(journey.Options{DB: db, Horizon: *horizon, Outbox: b, Record: func(_ context.Context, rs []journey.Record) error {
			mu.Lock()
			defer mu.Unlock()
			if closed {
				return errors.New("log closed")
			}
			for _, r := range rs {
				if r.Event != journey.EventStep {
					continue // the informational events change nothing here
				}
				evs <- &event.Event{Type: event.Track, Event: r.Event, UserID: r.Profile, SourceID: "tailor", Properties: jsonNumbers(r.Properties),
					ReceivedAt: time.Now(), Timestamp: r.At, Seq: b.nextSeq()}
			}
			return nil
		}})
		done := make(chan struct{})
		go func() { // the processor goroutine
			defer close(done)
			for ev := range evs {
				e.Apply(ev, profile.Resolution{Profile: ev.UserID})
			}
		}()
		return e, evs, func() {
			mu.Lock()
			closed = true
			close(evs)
			mu.Unlock()
			<-done
		}
	}
	defs := []journey.Journey{
		{ID: "wait", Name: "Wait", Status: journey.StatusLive, Trigger: journey.Trigger{Type: journey.TriggerEvent, Event: "Wait"},
			Entry: journey.Entry{Rule: journey.EntryEveryTime}, Start: "w",
			Steps: []*journey.Step{{ID: "w", Type: journey.StepWait, Duration: strconv.Itoa(int(spread.Seconds())+headroom) + "s", Next: "mail"},
				{ID: "mail", Type: journey.StepSend, Channel: "email", Template: "t"}}},
		{ID: "now", Name: "Now", Status: journey.StatusLive, Trigger: journey.Trigger{Type: journey.TriggerEvent, Event: "Now"},
			Entry: journey.Entry{Rule: journey.EntryEveryTime}, Start: "mail",
			Steps: []*journey.Step{{ID: "mail", Type: journey.StepSend, Channel: "email", Template: "t"}}},
	}
	e, evs, stop := open()
	for _, d := range defs {
		if _, err := e.Create(d); err != nil {
			return err
		}
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.Start(ectx)
	checkpoint := func(e *journey.Engine) (time.Duration, error) {
		t := time.Now()
		bt := db.NewBatch()
		defer bt.Close()
		// The first part is the processor's pause; the runs are encoded
		// in the second, while applying goes on.
		finish, err := e.CheckpointSplit(bt)
		if err != nil {
			return 0, err
		}
		pause := time.Since(t)
		if err := finish(); err != nil {
			return 0, err
		}
		if err := bt.Commit(nil); err != nil {
			return 0, err
		}
		fmt.Printf("  checkpoint: processor pause %s, encoding after it %s, %d records\n", pause.Round(time.Microsecond), (time.Since(t) - pause).Round(time.Millisecond), bt.Count())
		return time.Since(t), db.Flush()
	}
	// restart stops the engine, checkpoints it, reopens the store and
	// loads a new engine from it, as a server restart does.
	restart := func() (cp, load time.Duration, err error) {
		cancel()
		stop()
		e.Flush(context.Background())
		if cp, err = checkpoint(e); err != nil {
			return
		}
		e = nil
		// A restart reopens the store too: what the old engine's
		// checkpoint left in Pebble's memory goes.
		if err = db.Close(); err != nil {
			return
		}
		t := time.Now()
		if db, err = store.Open(filepath.Join(tmp, "pebble"), 64<<20); err != nil {
			return
		}
		e, evs, stop = open()
		if err = e.Load(); err != nil {
			return
		}
		load = time.Since(t)
		ectx, cancel = context.WithCancel(ctx)
		e.Start(ectx)
		return
	}

	baseLat := b.triggerLatency(evs, *rate, 3*time.Second)
	heap0 := heapInUse()

	// N profiles enter; their events are dated so that the timers fall due
	// evenly over the spread, starting headroom seconds from now (time to
	// enter them, restart and measure).
	start := time.Now()
	wait := time.Duration(int(spread.Seconds())+headroom) * time.Second
	first := start.Add(headroom * time.Second)
	b.mu.Lock()
	b.firstSeq, b.first, b.spread, b.n = b.seqN, first, *spread, *n
	b.mu.Unlock()
	for i := range *n {
		at := first.Add(time.Duration(int64(*spread) * int64(i) / int64(*n))).Add(-wait)
		evs <- &event.Event{Type: event.Track, Event: "Wait", UserID: "p_" + strconv.Itoa(i), SourceID: "bench", ReceivedAt: at, Timestamp: at, Seq: b.nextSeq()}
	}
	b.sync(evs)
	entered := time.Since(start)
	heap1 := heapInUse()
	cp1, ld1, err := restart()
	if err != nil {
		return err
	}
	heap2 := heapInUse()
	fmt.Printf("%d profiles entered and waiting in %.1fs; heap with the engine and no runs (the baseline): %.0f MB\n", *n, entered.Seconds(), float64(heap0)/1e6)
	fmt.Printf("  journey state loaded by a restarted engine from the reopened store: %.0f MB over the baseline, %.0f bytes per waiting profile (checkpoint of the %d new runs %s, load %s)\n",
		float64(heap2-heap0)/1e6, float64(heap2-heap0)/float64(*n), *n, cp1.Round(time.Millisecond), ld1.Round(time.Millisecond))
	fmt.Printf("  before that checkpoint (changes not yet written, their events not yet recorded): %.0f MB over the baseline\n", float64(heap1-heap0)/1e6)
	loadLat := b.triggerLatency(evs, *rate, 3*time.Second)
	fmt.Printf("trigger event applied -> Enqueue, %d/s for 3s: no profiles waiting p50 %s p99 %s; %d waiting p50 %s p99 %s\n",
		*rate, pct(baseLat, 50), pct(baseLat, 99), *n, pct(loadLat, 50), pct(loadLat, 99))

	// The first half fire live, the rest after a restart.
	time.Sleep(time.Until(first.Add(*spread / 2)))
	live := b.takeLateness()
	cp2, ld2, err := restart()
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.restarted = time.Now()
	b.mu.Unlock()
	fmt.Printf("timers fired live: %d; lateness (due -> outbox) p50 %s p99 %s max %s\n", len(live), pct(live, 50), pct(live, 99), pct(live, 100))
	fmt.Printf("restart: checkpoint %s, load %s\n", cp2.Round(time.Millisecond), ld2.Round(time.Millisecond))
	end := first.Add(*spread + 5*time.Second)
	for time.Now().Before(end) || b.fired() < *n && time.Now().Before(end.Add(30*time.Second)) {
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	stop()
	e.Flush(context.Background())
	after := b.takeLateness()
	b.mu.Lock()
	catchUp := b.catchUp
	b.mu.Unlock()
	fmt.Printf("timers due while stopped (checkpoint, load): %d, fired within %s of the restart (p50 %s)\n", len(catchUp), pct(catchUp, 100), pct(catchUp, 50))
	fmt.Printf("timers due after the restart: %d; lateness p50 %s p99 %s max %s\n", len(after), pct(after, 50), pct(after, 99), pct(after, 100))
	fmt.Printf("all timers fired: %d of %d\n", b.fired(), *n)
	return nil
}

// headroom is how long after the start of entering the first timer is due.
const headroom = 60

// jbench is the benchmark's outbox: it notes when each message arrives.
type jbench struct {
	mu   sync.Mutex
	seqN uint64
	// The waiting entries: seqs after firstSeq, due from first over spread.
	firstSeq uint64
	first    time.Time
	spread   time.Duration
	n        int
	// restarted is when the second engine started; catchUp the delays
	// (from then) of the timers that fell due before.
	restarted time.Time
	catchUp   []time.Duration
	due       map[string]time.Time // Now-journey keys: when their trigger was applied
	late      []time.Duration
	trig      []time.Duration
	firedN    int
	syncWant  string
	synced    chan struct{}
}

func (b *jbench) nextSeq() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seqN++
	return b.seqN
}

func (b *jbench) Enqueue(_ context.Context, ms []journey.Message) error {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range ms {
		switch m.Journey {
		case "wait":
			b.firedN++
			// The entry's seq gives its due instant back: the entries took
			// consecutive seqs, due evenly over the spread.
			var seq uint64
			if _, err := fmt.Sscanf(m.Key, "j:wait:1:%d:mail", &seq); err == nil && seq > b.firstSeq {
				i := int64(seq - b.firstSeq - 1)
				// Timers count in whole seconds.
				d := b.first.Add(time.Duration(int64(b.spread) * i / int64(b.n))).Truncate(time.Second)
				if !b.restarted.IsZero() && d.Before(b.restarted) {
					b.catchUp = append(b.catchUp, now.Sub(b.restarted))
				} else {
					b.late = append(b.late, now.Sub(d))
				}
			}
		case "now":
			if t, ok := b.due[m.Profile]; ok {
				b.trig = append(b.trig, now.Sub(t))
				delete(b.due, m.Profile)
			}
			if m.Profile == b.syncWant && b.synced != nil {
				close(b.synced)
				b.synced = nil
			}
		}
	}
	return nil
}

func (b *jbench) fired() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.firedN
}

func (b *jbench) takeLateness() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.late
	b.late = nil
	return l
}

// sync waits until every event sent so far is applied: a Now trigger
// behind them reaches the outbox.
func (b *jbench) sync(evs chan *event.Event) {
	ch := make(chan struct{})
	id := "sync-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	b.mu.Lock()
	b.syncWant, b.synced = id, ch
	b.mu.Unlock()
	evs <- &event.Event{Type: event.Track, Event: "Now", UserID: id, SourceID: "bench", ReceivedAt: time.Now(), Timestamp: time.Now(), Seq: b.nextSeq()}
	<-ch
}

// triggerLatency applies Now triggers at rate for d and returns the
// latencies from applying each to its message reaching the outbox.
func (b *jbench) triggerLatency(evs chan *event.Event, rate int, d time.Duration) []time.Duration {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	per := max(1, rate/100)
	end := time.Now().Add(d)
	i := 0
	for time.Now().Before(end) {
		<-tick.C
		for range per {
			i++
			id := "t" + strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			now := time.Now()
			b.mu.Lock()
			b.due[id] = now
			b.mu.Unlock()
			evs <- &event.Event{Type: event.Track, Event: "Now", UserID: id, SourceID: "bench", ReceivedAt: now, Timestamp: now, Seq: b.nextSeq()}
		}
	}
	b.sync(evs)
	time.Sleep(1500 * time.Millisecond) // the sender's last flush
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.trig
	b.trig = nil
	clear(b.due)
	return l
}

func pct(l []time.Duration, p int) string {
	if len(l) == 0 {
		return "n/a"
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return s[i].Round(100 * time.Microsecond).String()
}

// jsonNumbers turns the integers of recorded properties into float64, as
// the log's JSON would.
func jsonNumbers(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case int:
			out[k] = float64(x)
		case uint32:
			out[k] = float64(x)
		case int64:
			out[k] = float64(x)
		default:
			out[k] = v
		}
	}
	return out
}
