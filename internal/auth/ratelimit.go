package auth

import (
	"sync"
	"time"
)

// limiter counts failures per key (a client IP or an email) in a fixed
// window that starts at a key's first failure: after max failures the key is
// blocked until its window ends. Its table holds at most size keys, so a
// flood of addresses cannot grow memory: when full it drops the keys whose
// window has ended and, if none has, the key whose window started first.
type limiter struct {
	max    int
	window time.Duration
	size   int
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*window
}

type window struct {
	start    time.Time
	failures int
}

func newLimiter(max int, w time.Duration, size int, now func() time.Time) *limiter {
	return &limiter{max: max, window: w, size: size, now: now, keys: make(map[string]*window)}
}

// blocked returns how long key stays blocked, 0 when it is not.
func (l *limiter) blocked(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.keys[key]
	if !ok {
		return 0
	}
	left := w.start.Add(l.window).Sub(l.now())
	if left <= 0 {
		delete(l.keys, key)
		return 0
	}
	if w.failures < l.max {
		return 0
	}
	return left
}

// fail counts one failure of key.
func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if w, ok := l.keys[key]; ok && now.Before(w.start.Add(l.window)) {
		w.failures++
		return
	}
	delete(l.keys, key)
	if len(l.keys) >= l.size {
		l.evict(now)
	}
	l.keys[key] = &window{start: now, failures: 1}
}

// reset forgets key's failures (a successful login of that email).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

// evict makes room for one key. It scans the whole table, which only a
// full table pays for, and a full table means thousands of failed logins,
// each of which cost a password hash.
func (l *limiter) evict(now time.Time) {
	var oldest string
	var oldestStart time.Time
	for k, w := range l.keys {
		if !now.Before(w.start.Add(l.window)) {
			delete(l.keys, k)
			continue
		}
		if oldest == "" || w.start.Before(oldestStart) {
			oldest, oldestStart = k, w.start
		}
	}
	if len(l.keys) >= l.size {
		delete(l.keys, oldest)
	}
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
