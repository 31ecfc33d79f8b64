package journey

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"path/filepath"

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
