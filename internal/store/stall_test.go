package store

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// TestStallCounter: stalls are counted and timed (one under way counts up
// to now), and only the first of each minute is logged, with the reason
// and how many were not.
func TestStallCounter(t *testing.T) {
	var out bytes.Buffer
	c := &stallCounter{throttle: throttledLogger{log: slog.New(slog.NewTextHandler(&out, nil))}}
	t0 := time.Unix(1_000_000, 0)

	c.begin(t0, "log", "memtable count limit reached")
	if n, d := c.totals(t0.Add(300 * time.Millisecond)); n != 1 || d != 300*time.Millisecond {
		t.Fatalf("during the first stall: %d stalls, %v; want 1, 300ms", n, d)
	}
	c.end(t0.Add(500 * time.Millisecond))
	c.begin(t0.Add(10*time.Second), "log", "L0 file count limit exceeded")
	c.end(t0.Add(10*time.Second + 200*time.Millisecond))
	c.end(t0.Add(11 * time.Second)) // an end without a begin changes nothing
	if n, d := c.totals(t0.Add(time.Hour)); n != 2 || d != 700*time.Millisecond {
		t.Fatalf("after two stalls: %d stalls, %v; want 2, 700ms", n, d)
	}
	if got := strings.Count(out.String(), "store write stall"); got != 1 {
		t.Fatalf("logged %d stalls within a minute, want 1:\n%s", got, out.String())
	}
	if !strings.Contains(out.String(), `reason="memtable count limit reached" store=log`) {
		t.Fatalf("the log line lacks the reason or the store:\n%s", out.String())
	}
	c.begin(t0.Add(2*time.Minute), "", "memtable count limit reached")
	if s := out.String(); strings.Count(s, "store write stall") != 2 || !strings.Contains(s, "stalls_not_logged=1") {
		t.Fatalf("a stall a minute later is logged with the count not logged:\n%s", s)
	}
	if _, last, _ := strings.Cut(out.String(), "stalls_not_logged"); strings.Contains(last, "store=") {
		t.Fatalf("a stall of an unnamed store is logged with a store:\n%s", out.String())
	}
	// The other store stalls during that one, and outlasts it: the time
	// counts from the first begin to the last end, once.
	c.begin(t0.Add(2*time.Minute+100*time.Millisecond), "state", "L0 file count limit exceeded")
	c.end(t0.Add(2*time.Minute + 300*time.Millisecond))
	if n, d := c.totals(t0.Add(2*time.Minute + 400*time.Millisecond)); n != 4 || d != 700*time.Millisecond+400*time.Millisecond {
		t.Fatalf("with one of two overlapping stalls ended: %d stalls, %v; want 4, 1.1s", n, d)
	}
	c.end(t0.Add(2*time.Minute + 500*time.Millisecond))
	if n, d := c.totals(t0.Add(time.Hour)); n != 4 || d != 700*time.Millisecond+500*time.Millisecond {
		t.Fatalf("after overlapping stalls: %d stalls, %v; want 4, 1.2s", n, d)
	}
}

// TestOptionsCountStalls: the stores Tailor opens report their stalls to
// WriteStalls, the server's by name.
func TestOptionsCountStalls(t *testing.T) {
	o := Options(1 << 20)
	defer o.Cache.Unref()
	before, _ := WriteStalls()
	o.EventListener.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "test"})
	o.EventListener.WriteStallEnd()
	if after, _ := WriteStalls(); after != before+1 {
		t.Fatalf("WriteStalls counts %d after a stall, want %d", after, before+1)
	}
	var out bytes.Buffer
	// The stall above was logged (or throttled) by the process's counter:
	// this one is logged to out, as the first of its minute.
	stalls.mu.Lock()
	saved := stalls.throttle.log
	stalls.throttle.log = slog.New(slog.NewTextHandler(&out, nil))
	stalls.throttle.mu.Lock()
	clear(stalls.throttle.seen)
	stalls.throttle.mu.Unlock()
	stalls.mu.Unlock()
	defer func() { stalls.mu.Lock(); stalls.throttle.log = saved; stalls.mu.Unlock() }()
	so := storeOptions(filepath.Join(t.TempDir(), LogDir), o.Cache, 1<<20)
	so.EventListener.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "test"})
	so.EventListener.WriteStallEnd()
	if want := "store=" + LogDir; !strings.Contains(out.String(), want) {
		t.Fatalf("a stall of the log's store is logged without %s:\n%s", want, out.String())
	}
}
