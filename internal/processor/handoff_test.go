package processor

import (
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
