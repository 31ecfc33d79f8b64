package rwyield

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReaderYieldsToWaitingWriter: on one P, a reader that unlocks while
// a writer waits lets the writer run before it goes on. A plain
// sync.RWMutex (the case below that turns the yield off by unlocking the
// embedded mutex directly) lets the reader go on first.
func TestReaderYieldsToWaitingWriter(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, tc := range []struct {
		name  string
		yield bool
	}{{"yield", true}, {"plain", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var m RWMutex
			var wrote atomic.Bool
			m.RLock()
			done := make(chan struct{})
			go func() {
				m.Lock()
				wrote.Store(true)
				m.Unlock()
				close(done)
			}()
			// Let the writer run until it blocks in Lock.
			for m.waiting.Load() == 0 {
				runtime.Gosched()
			}
			if tc.yield {
				m.RUnlock()
			} else {
				m.RWMutex.RUnlock()
			}
			if got := wrote.Load(); got != tc.yield {
				t.Errorf("writer ran before the reader went on: %v, want %v", got, tc.yield)
			}
			<-done
		})
	}
}

// TestExclusion: writers exclude readers and each other, and Waited counts
// the writes that found the lock held.
func TestExclusion(t *testing.T) {
	var m RWMutex
	var n, readers int
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				m.Lock()
				if readers != 0 {
					t.Error("writer inside with readers")
				}
				n++
				m.Unlock()
			}
		})
		wg.Go(func() {
			for range 2000 {
				m.RLock()
				_ = n
				m.RUnlock()
			}
		})
	}
	wg.Wait()
	if n != 8000 {
		t.Fatalf("n = %d, want 8000", n)
	}
	m.RLock()
	go func() { time.Sleep(20 * time.Millisecond); m.RUnlock() }()
	before, _ := m.Waited()
	m.Lock()
	m.Unlock()
	after, d := m.Waited()
	if after != before+1 || d < 15*time.Millisecond {
		t.Errorf("Waited = %d, %v after a write that waited 20ms for a reader (before: %d)", after, d, before)
	}
}

// BenchmarkRWMutex compares an uncontended read and write with
// sync.RWMutex's: the yield and the wait accounting must cost the
// processor's per-event Lock next to nothing.
func BenchmarkRWMutex(b *testing.B) {
	type rw interface {
		RLock()
		RUnlock()
		Lock()
		Unlock()
	}
	for _, tc := range []struct {
		name string
		m    rw
	}{{"sync", new(sync.RWMutex)}, {"rwyield", new(RWMutex)}} {
		b.Run("read/"+tc.name, func(b *testing.B) {
			for b.Loop() {
				tc.m.RLock()
				tc.m.RUnlock()
			}
		})
		b.Run("write/"+tc.name, func(b *testing.B) {
			for b.Loop() {
				tc.m.Lock()
				tc.m.Unlock()
			}
		})
	}
}
