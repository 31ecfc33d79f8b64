package store

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Throttling of Pebble's error log. A failing disk or a corrupt table makes
// Pebble report the same background error for every compaction or flush it
// retries, thousands of lines a minute, which buries everything else and can
// fill the disk that is already in trouble.
const (
	// logEvery is how often one distinct message is logged.
	logEvery = time.Minute
	// maxDistinct bounds the messages remembered; Pebble's formats are a
	// small fixed set, so this is only a guard.
	maxDistinct = 1024
)

// throttledLogger is Pebble's logger: Info is dropped, and each distinct
// error message (its format string, so that messages differing only in a
// file number or a size count as one) is logged at most once per logEvery,
// with the number of lines suppressed since the last one it logged.
type throttledLogger struct {
	log *slog.Logger     // nil means slog.Default()
	now func() time.Time // nil means time.Now

	mu   sync.Mutex
	seen map[string]*throttle
}

type throttle struct {
	last       time.Time // when it was last logged
	suppressed int       // lines dropped since then
}

func (l *throttledLogger) Infof(string, ...any) {}

func (l *throttledLogger) Errorf(format string, args ...any) {
	suppressed, ok := l.admit(format)
	if !ok {
		return
	}
	attrs := []any{"component", "pebble"}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	l.logger().Error(fmt.Sprintf(format, args...), attrs...)
}

func (l *throttledLogger) Fatalf(format string, args ...any) {
	l.logger().Error(fmt.Sprintf(format, args...), "component", "pebble")
	os.Exit(1)
}

func (l *throttledLogger) logger() *slog.Logger {
	if l.log != nil {
		return l.log
	}
	return slog.Default()
}

// admit reports whether a line of format is logged now, and how many lines
// of it were suppressed since the last one logged.
func (l *throttledLogger) admit(format string) (suppressed int, ok bool) {
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	return l.admitAt(format, now)
}

// admitAt is admit at time now.
func (l *throttledLogger) admitAt(format string, now time.Time) (suppressed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.seen[format]
	if t == nil {
		if l.seen == nil || len(l.seen) >= maxDistinct {
			l.seen = make(map[string]*throttle)
		}
		l.seen[format] = &throttle{last: now}
		return 0, true
	}
	if now.Sub(t.last) < logEvery {
		t.suppressed++
		return 0, false
	}
	suppressed, t.suppressed, t.last = t.suppressed, 0, now
	return suppressed, true
}
