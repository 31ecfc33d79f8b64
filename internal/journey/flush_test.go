package journey

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/store"
)

// slowOutbox blocks each Enqueue until release is closed.
type slowOutbox struct {
	entered chan struct{}
	release chan struct{}
	done    atomic.Bool
}

func (o *slowOutbox) Enqueue(context.Context, []Message) error {
	close(o.entered)
	<-o.release
	o.done.Store(true)
	return nil
}

// A checkpoint saves runs whose sends are already derived; if Flush had
// taken those sends and not yet handed them to the outbox, a crash after
// the checkpoint would lose them. Checkpoint must wait for that Flush.
func TestCheckpointWaitsForSendsInFlight(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "db"), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := &slowOutbox{entered: make(chan struct{}), release: make(chan struct{})}
	e := New(Options{DB: db, Outbox: out, Now: func() time.Time { return t0 }})
	e.sends = append(e.sends, Message{Key: "j:x:1:1:0"})
	go e.Flush(context.Background())
	<-out.entered
	cp := make(chan bool)
	go func() {
		b := db.NewBatch()
		defer b.Close()
		err := e.Checkpoint(b)
		cp <- err == nil && out.done.Load()
	}()
	select {
	case <-cp:
		t.Fatal("the checkpoint finished while a send was neither pending nor in the outbox")
	case <-time.After(50 * time.Millisecond):
	}
	close(out.release)
	if ok := <-cp; !ok {
		t.Fatal("the checkpoint failed, or ran before the outbox had the send")
	}
}

// A send goes to the outbox while the recording of earlier journey events
// (a log append, slow under load) is still under way: sends and records
// are flushed by separate goroutines.
func TestSendsDoNotWaitBehindRecording(t *testing.T) {
	out := &fakeOutbox{}
	release := make(chan struct{})
	var calls atomic.Int32
	e := New(Options{Outbox: out, Now: func() time.Time { return t0 }, Record: func(ctx context.Context, _ []Record) error {
		if calls.Add(1) == 1 {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	}})
	defer close(release)
	now := Journey{ID: "now", Name: "Now", Status: StatusLive, Trigger: Trigger{Type: TriggerEvent, Event: "Now"},
		Entry: Entry{Rule: EntryEveryTime}, Start: "mail", Steps: []*Step{{ID: "mail", Type: StepSend, Channel: "email", Template: "t"}}}
	if _, err := e.Create(now); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.Start(ctx)
	trigger := func(i int) {
		id := "p_" + strconv.Itoa(i)
		e.Apply(&event.Event{Type: event.Track, Event: "Now", UserID: id, SourceID: "web", Timestamp: t0, ReceivedAt: t0, Seq: uint64(i)},
			profile.Resolution{Profile: id})
	}
	waitSends := func(n int) {
		t.Helper()
		for end := time.Now().Add(2 * time.Second); len(out.keys()) < n; {
			if time.Now().After(end) {
				t.Fatalf("%d of %d sends in the outbox after 2s (recording calls %d)", len(out.keys()), n, calls.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	trigger(1)
	waitSends(1)
	for end := time.Now().Add(2 * time.Second); calls.Load() == 0 && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	if calls.Load() == 0 {
		t.Fatal("the entry was never recorded")
	}
	trigger(2) // its send must not wait for the first recording
	waitSends(2)
}
