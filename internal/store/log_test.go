package store

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestPebbleErrorsThrottled(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1700000000, 0)
	l := &throttledLogger{log: slog.New(slog.NewTextHandler(&buf, nil)), now: func() time.Time { return now }}
	type step struct {
		advance time.Duration
		format  string
		arg     int
		logged  string // "" means suppressed
	}
	steps := []step{
		{0, "background error: compaction %d failed", 1, `msg="background error: compaction 1 failed" component=pebble`},
		{time.Second, "background error: compaction %d failed", 2, ""},
		{time.Second, "background error: compaction %d failed", 3, ""},
		{time.Second, "flush of %d failed", 9, `msg="flush of 9 failed" component=pebble`}, // another message has its own budget
		{time.Minute, "background error: compaction %d failed", 4, `msg="background error: compaction 4 failed" component=pebble suppressed=2`},
		{time.Second, "background error: compaction %d failed", 5, ""},
		{time.Minute, "background error: compaction %d failed", 6, `msg="background error: compaction 6 failed" component=pebble suppressed=1`},
		{time.Minute, "background error: compaction %d failed", 7, `msg="background error: compaction 7 failed" component=pebble`},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		buf.Reset()
		l.Errorf(s.format, s.arg)
		got := strings.TrimSpace(buf.String())
		if s.logged == "" {
			if got != "" {
				t.Errorf("step %d: logged %q, want it suppressed", i, got)
			}
			continue
		}
		if !strings.HasSuffix(got, s.logged) || !strings.Contains(got, "level=ERROR") {
			t.Errorf("step %d: logged %q, want ... %s", i, got, s.logged)
		}
	}
}

func TestPebbleErrorFlood(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1700000000, 0)
	l := &throttledLogger{log: slog.New(slog.NewTextHandler(&buf, nil)), now: func() time.Time { return now }}
	// Ten minutes of an error every 10 ms: 60,000 calls.
	for i := 0; i < 60000; i++ {
		now = now.Add(10 * time.Millisecond)
		l.Errorf("background error: %s", "disk full")
	}
	if n := strings.Count(buf.String(), "\n"); n < 10 || n > 11 {
		t.Errorf("60,000 errors over ten minutes logged %d lines, want one a minute", n)
	}
}
