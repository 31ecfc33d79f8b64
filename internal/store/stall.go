package store

import (
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Write stalls. Pebble stops accepting writes when flushes or compactions
// fall too far behind (too many memtables waiting to be flushed, too many
// sublevels in L0); every write, and so every acknowledgement, then waits.
// A stall is the first thing to rule out when acks are slow, so each one
// is counted and timed, and the first of each minute is logged with
// Pebble's reason.

// stallCounter counts the stalls of the stores a process opens (a
// server's two). Stalls of both stores at once count once in the time.
type stallCounter struct {
	mu    sync.Mutex
	n     uint64
	total time.Duration // of the stalls that ended
	began time.Time     // zero when no stall is under way
	depth int           // stalls under way
	// throttle logs the first stall of each logEvery, with how many
	// began since the last one logged.
	throttle throttledLogger
}

const stallMessage = "store write stall: writes wait until flushes or compactions catch up"

var stalls stallCounter

// WriteStalls reports how many write stalls the process's stores went
// through since it started, and how long they lasted in all (a stall under
// way counts from when it began).
func WriteStalls() (n uint64, d time.Duration) { return stalls.totals(time.Now()) }

func (c *stallCounter) totals(now time.Time) (uint64, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.total
	if !c.began.IsZero() {
		d += now.Sub(c.began)
	}
	return c.n, d
}

func (c *stallCounter) begin(now time.Time, store, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.depth++; c.depth == 1 {
		c.began = now
	}
	skipped, ok := c.throttle.admitAt(stallMessage, now)
	if !ok {
		return
	}
	attrs := []any{"component", "pebble", "reason", reason}
	if store != "" {
		attrs = append(attrs, "store", store)
	}
	if skipped > 0 {
		attrs = append(attrs, "stalls_not_logged", skipped)
	}
	c.throttle.logger().Warn(stallMessage, attrs...)
}

func (c *stallCounter) end(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.depth == 0 {
		return
	}
	if c.depth--; c.depth == 0 {
		c.total += now.Sub(c.began)
		c.began = time.Time{}
	}
}

// listener is the event listener every store opens with; store names the
// store in the log (empty: a tool's single store). The server's stores
// stall for different reasons (the log's memtables fill with ingest, the
// state's with checkpoints), so a stall's log says whose it was.
func (c *stallCounter) listener(store string) *pebble.EventListener {
	return &pebble.EventListener{
		WriteStallBegin: func(i pebble.WriteStallBeginInfo) { c.begin(time.Now(), store, i.Reason) },
		WriteStallEnd:   func() { c.end(time.Now()) },
	}
}
