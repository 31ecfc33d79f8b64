package journey

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tailor/internal/store"
)

// TestTimersDueWhileStoppedDoNotDelayThoseDueAfterTheStart: after a
// restart, the timers that fell due while the engine was stopped (more than
// one tick's worth) are handed over behind the timers falling due on time,
// so the backlog does not make those late as well; every timer still fires
// once.
func TestTimersDueWhileStoppedDoNotDelayThoseDueAfterTheStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := store.Open(dir, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{DB: db})
	h.save(cart())
	const stale = maxFire + 500 // due while stopped
	for i := range stale {
		h.track(fmt.Sprint("late_", i), "Product Added", nil)
	}
	h.now = t0.Add(time.Minute) // these fall due a minute after the others
	for i := range 10 {
		h.track(fmt.Sprint("fresh_", i), "Product Added", nil)
	}
	b := db.NewBatch()
	if err := h.e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if db, err = store.Open(dir, 8<<20); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h2 := newHarness(t, Options{DB: db})
	h2.seq = h.seq
	// Restarted half a minute after the first batch fell due.
	h2.now = t0.Add(time.Hour + 30*time.Second)
	if err := h2.e.Load(); err != nil {
		t.Fatal(err)
	}
	h2.now = t0.Add(time.Hour + time.Minute)
	if got := h2.e.Tick(context.Background()); got != maxFire {
		t.Fatalf("first tick handed over %d timers, want %d", got, maxFire)
	}
	fresh := 0
	for _, r := range h2.log {
		if strings.HasPrefix(r.Profile, "fresh_") {
			fresh++
		}
	}
	if fresh != 10 {
		t.Fatalf("the first tick after the restart handed over %d of the 10 timers due on time, want all 10 ahead of the backlog", fresh)
	}
	h2.drain()
	for h2.e.Tick(context.Background()) > 0 {
		h2.drain()
	}
	sent := h2.sent()
	seen := map[string]bool{}
	for _, k := range sent {
		if seen[k] {
			t.Fatalf("%s sent twice", k)
		}
		seen[k] = true
	}
	if len(sent) != stale+10 {
		t.Fatalf("%d reminders after the restart, want %d", len(sent), stale+10)
	}
}
