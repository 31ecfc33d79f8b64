package processor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/profile"
)

// gateProfiles applies nothing until its gate opens: a processor pause.
type gateProfiles struct{ gate chan struct{} }

func (g gateProfiles) Apply(*event.Event) profile.Resolution {
	<-g.gate
	return profile.Resolution{}
}
func (gateProfiles) Checkpoint(*pebble.Batch) error { return nil }

func batchOf(first uint64, n int) []eventlog.Entry {
	out := make([]eventlog.Entry, n)
	for i := range out {
		out[i] = eventlog.Entry{Seq: first + uint64(i), Payload: &event.Event{Type: event.Track, Event: "x"}, AppendedAt: time.Now()}
	}
	return out
}

// sinkReturns reports whether Sink(b) returns within d.
func sinkReturns(p *Processor, b []eventlog.Entry, d time.Duration) (chan struct{}, bool) {
	done := make(chan struct{})
	go func() { p.Sink(b); close(done) }()
	select {
	case <-done:
		return done, true
	case <-time.After(d):
		return done, false
	}
}

// The queue between the log writer and the processor is bounded in
// events: while the processor is paused, hand-offs (and so
// acknowledgements) go on until the bound, however many group commits that
// is, then wait for room; a commit larger than the bound waits only for
// the queue to empty.
func TestHandoffIsBoundedInEventsNotCommits(t *testing.T) {
	g := gateProfiles{gate: make(chan struct{})}
	p := New(g, 1000)
	go p.Run()
	defer p.CloseInput()

	seq := uint64(1)
	// 100 commits of 10 events: each returns at once although the processor
	// applies nothing (it blocks on its first event).
	for range 100 {
		if _, ok := sinkReturns(p, batchOf(seq, 10), time.Second); !ok {
			t.Fatalf("hand-off of events %d..%d waited with %d of 1000 queued", seq, seq+9, seq-1)
		}
		seq += 10
	}
	if n, _ := p.HandoffWaits(); n != 0 {
		t.Fatalf("%d hand-offs counted as waiting, want 0", n)
	}
	// The 1001st event has no room: its hand-off waits.
	done, ok := sinkReturns(p, batchOf(seq, 1), 50*time.Millisecond)
	if ok {
		t.Fatal("a hand-off past the bound of 1000 events returned while the processor was paused")
	}
	close(g.gate) // the processor resumes
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting hand-off did not return once the processor resumed")
	}
	seq++
	if n, d := p.HandoffWaits(); n != 1 || d < 40*time.Millisecond {
		t.Fatalf("HandoffWaits = %d, %v; want 1 wait of at least 40ms", n, d)
	}
	// A batch larger than the whole bound still goes through.
	if _, ok := sinkReturns(p, batchOf(seq, 2500), 5*time.Second); !ok {
		t.Fatal("a commit of 2500 events (bound 1000) was never handed off")
	}
	seq += 2500
	deadline := time.Now().Add(5 * time.Second)
	for p.AppliedEvents() < seq-1 {
		if time.Now().After(deadline) {
			t.Fatalf("applied %d of %d events", p.AppliedEvents(), seq-1)
		}
		time.Sleep(time.Millisecond)
	}
}

// memLog is a log in memory, for the overflow's unit tests: entries are
// appended (encoded, as the log stores them) before they are handed to
// Sink, as the log writer does, and ReplayAll reads what was appended when
// it began.
type memLog struct {
	mu      sync.Mutex
	entries []eventlog.Entry
	fail    error // ReplayAll's answer, when set
}

func (l *memLog) append(first uint64, n int) []eventlog.Entry {
	out := make([]eventlog.Entry, n)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range out {
		seq := first + uint64(i)
		raw := fmt.Appendf(nil, `{"type":"track","event":"x","userId":"u%d","messageId":"m%d"}`, seq%7, seq)
		stored := event.AppendStored(nil, raw, event.Meta{ReceivedAt: time.Now()})
		l.entries = append(l.entries, eventlog.Entry{Seq: seq, Value: stored})
		e, err := event.DecodeStored(stored)
		if err != nil {
			panic(err)
		}
		out[i] = eventlog.Entry{Seq: seq, Payload: &e, AppendedAt: time.Now()}
	}
	return out
}

func (l *memLog) ReplayAll(ctx context.Context, after uint64, fn func(eventlog.Entry) error) error {
	l.mu.Lock()
	entries, fail := slices.Clone(l.entries), l.fail
	l.mu.Unlock()
	if fail != nil {
		return fail
	}
	for _, en := range entries {
		if en.Seq <= after {
			continue
		}
		en.Value = slices.Clone(en.Value)
		if err := fn(en); err != nil {
			return err
		}
	}
	return nil
}

// seqProfiles records the seq of every event it applies, after its gate
// opens (closed: a processor pause).
type seqProfiles struct {
	gate chan struct{}
	mu   sync.Mutex
	seqs []uint64
	ids  []string // the events' userIds: decoded from the log or handed off
}

func (s *seqProfiles) Apply(e *event.Event) profile.Resolution {
	<-s.gate
	s.mu.Lock()
	s.seqs = append(s.seqs, e.Seq)
	s.ids = append(s.ids, e.UserID)
	s.mu.Unlock()
	return profile.Resolution{}
}
func (*seqProfiles) Checkpoint(*pebble.Batch) error { return nil }

func (s *seqProfiles) applied() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seqs)
}

// TestOverflowToTheLog: with SetOverflow, hand-offs past a full queue
// return at once (acknowledgements never wait for the processor), and the
// processor applies every entry once, in seq order, reading the ones that
// overflowed back from the log while hand-offs go on; CloseInput reads the
// rest back before Run ends, also in passes shorter than the backlog.
// Without the overflow, the 1001st event's hand-off waits
// (TestHandoffIsBoundedInEventsNotCommits).
func TestOverflowToTheLog(t *testing.T) {
	for _, pass := range []int{readBackPass, 100} {
		t.Run(fmt.Sprintf("passes of %d", pass), func(t *testing.T) {
			defer func(b, p int) { readBackBatch, readBackPass = b, p }(readBackBatch, readBackPass)
			readBackBatch, readBackPass = min(readBackBatch, pass), pass
			overflowToTheLog(t)
		})
	}
}

func overflowToTheLog(t *testing.T) {
	lg := &memLog{}
	prof := &seqProfiles{gate: make(chan struct{})}
	p := New(prof, 1000)
	p.SetOverflow(lg)
	done := make(chan struct{})
	go func() { p.Run(); close(done) }()

	seq := uint64(1)
	handOff := func(n int) {
		t.Helper()
		if _, ok := sinkReturns(p, lg.append(seq, n), time.Second); !ok {
			t.Fatalf("hand-off of events %d..%d waited", seq, seq+uint64(n)-1)
		}
		seq += uint64(n)
	}
	// 300 commits of 10 events while the processor applies nothing: three
	// times the queue's bound, and none waits.
	for range 300 {
		handOff(10)
	}
	if n, _ := p.HandoffWaits(); n != 0 {
		t.Fatalf("%d hand-offs waited, want 0", n)
	}
	if times, _ := p.Overflows(); times != 1 {
		t.Fatalf("overflowed %d times, want 1", times)
	}
	if got := p.LagEvents(); got != 3000 {
		t.Fatalf("lag %d events, want 3000", got)
	}
	close(prof.gate) // the processor resumes
	// Hand-offs go on while the processor catches up from the log.
	for range 200 {
		handOff(7)
		time.Sleep(50 * time.Microsecond)
	}
	p.CloseInput()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not end after CloseInput; applied %d of %d", len(prof.applied()), seq-1)
	}
	got := prof.applied()
	if len(got) != int(seq-1) {
		t.Fatalf("applied %d events, want %d", len(got), seq-1)
	}
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("the %dth event applied has seq %d, want %d (each once, in order)", i+1, s, i+1)
		}
	}
	for i, id := range prof.ids {
		if want := fmt.Sprintf("u%d", (i+1)%7); id != want {
			t.Fatalf("event %d has userId %q, want %q", i+1, id, want)
		}
	}
	if _, back := p.Overflows(); back < 2000 {
		t.Fatalf("%d entries read back from the log, want at least the 2000 past the queue", back)
	}
	if n := p.LagEvents(); n != 0 {
		t.Fatalf("lag %d events after Run ended, want 0", n)
	}
}

// TestOverflowReadErrorOnClose: when the log cannot be read back, the
// server still stops: CloseInput gives up on the overflowed entries (a
// restart replays them from the last checkpoint) instead of retrying for
// ever, after the processor applied the ones queued in memory.
func TestOverflowReadErrorOnClose(t *testing.T) {
	lg := &memLog{fail: errors.New("store closed")}
	prof := &seqProfiles{gate: make(chan struct{})}
	p := New(prof, 100)
	p.SetOverflow(lg)
	done := make(chan struct{})
	go func() { p.Run(); close(done) }()
	for i := range 50 {
		if _, ok := sinkReturns(p, lg.append(uint64(1+10*i), 10), time.Second); !ok {
			t.Fatalf("hand-off %d waited", i)
		}
	}
	close(prof.gate)
	closed := make(chan struct{})
	go func() { p.CloseInput(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("CloseInput did not return while the log could not be read back")
	}
	<-done
	if got := prof.applied(); len(got) != 100 || got[99] != 100 {
		t.Fatalf("applied %d events (last %v), want the 100 queued in memory", len(got), got[len(got)-1:])
	}
}
