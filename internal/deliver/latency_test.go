package deliver

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"tailor/internal/outbox"
	"tailor/internal/store"
)

// slowAdapter takes a fixed time per send, like a webhook receiver on the
// same host, and notes when each key reached it.
type slowAdapter struct {
	delay time.Duration
	mu    sync.Mutex
	at    map[string]time.Time
}

func (a *slowAdapter) Send(_ context.Context, env Envelope) (Receipt, error) {
	now := time.Now()
	a.mu.Lock()
	a.at[env.Key] = now
	a.mu.Unlock()
	time.Sleep(a.delay)
	return Receipt{}, nil
}

func (a *slowAdapter) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at)
}

// enqueueToAdapter enqueues bursts of messages into a real outbox while the
// workers run, and returns each message's time from its Enqueue call to its
// adapter.
func enqueueToAdapter(t testing.TB, bursts, size int, gap, delay time.Duration) []time.Duration {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "pebble"), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	ad := &slowAdapter{delay: delay, at: map[string]time.Time{}}
	e := New(Options{Queue: q, Renderer: fakeRenderer{}, Adapters: map[string]Adapter{"webhook": ad}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	enq := map[string]time.Time{}
	for b := range bursts {
		msgs := make([]outbox.Message, size)
		for i := range msgs {
			k := fmt.Sprintf("k-%d-%d", b, i)
			msgs[i] = outbox.Message{Key: k, Profile: "p" + k, Channel: "webhook", Purpose: outbox.PurposeTransactional, Template: "t"}
		}
		start := time.Now()
		for _, m := range msgs {
			enq[m.Key] = start
		}
		if err := e.Enqueue(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		time.Sleep(gap)
	}
	for end := time.Now().Add(10 * time.Second); ad.count() < len(enq) && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if len(ad.at) != len(enq) {
		t.Fatalf("%d of %d messages reached the adapter within 10s", len(ad.at), len(enq))
	}
	var lat []time.Duration
	for k, at := range ad.at {
		lat = append(lat, at.Sub(enq[k]))
	}
	slices.Sort(lat)
	return lat
}

func percentile(d []time.Duration, p int) time.Duration {
	return d[min(len(d)-1, len(d)*p/100)]
}

// A message reaches its adapter soon after it is enqueued, also when it
// comes in a burst: no worker waits for a poll or for the sends of a batch
// ahead of it. Bursts of 20 (a journey flush) to an adapter taking 40 ms
// a send: sent one after another, the last of a claimed batch of 16 would
// wait 640 ms, and the 4 left would wait for the batch or a 250 ms poll;
// sent in parallel, each arrives about 40 ms after its enqueue. The bound,
// 200 ms, sits between the two with room for a loaded machine's syncs and
// scheduling (a 10 ms adapter and a 60 ms bound failed on such a machine).
func TestEnqueueToAdapterLatency(t *testing.T) {
	lat := enqueueToAdapter(t, 10, 20, 200*time.Millisecond, 40*time.Millisecond)
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	t.Logf("enqueue -> adapter: %d messages, p50 %s p99 %s max %s", len(lat), p50, p99, lat[len(lat)-1])
	if p99 > 200*time.Millisecond {
		t.Errorf("enqueue -> adapter p99 %s, want at most 200ms (p50 %s)", p99, p50)
	}
}

// BenchmarkEnqueueToAdapter reports the latency of one message at a time
// from its Enqueue call to its adapter.
func BenchmarkEnqueueToAdapter(b *testing.B) {
	lat := enqueueToAdapter(b, b.N, 1, 2*time.Millisecond, 0)
	b.ReportMetric(float64(percentile(lat, 50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 99).Microseconds()), "p99-µs")
}
