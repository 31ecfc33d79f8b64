package auth

import (
	"sync"
	"tailor/internal/store/storetest"
	"testing"
	"time"
)

// fastParams keep tests quick, above all under -race; the encoding and the
// comparison are the same as with DefaultParams.
var fastParams = Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32}

// clock is a settable time for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newService opens a service on a fresh in-memory store with the test clock.
func newService(t testing.TB, c *clock, tune ...func(*Options)) *Service {
	t.Helper()
	o := Options{Now: c.Now, Params: fastParams}
	for _, f := range tune {
		f(&o)
	}
	s, err := Open(storetest.MemDB(t), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCreate(t testing.TB, s *Service, email, pw string, r Role) {
	t.Helper()
	if _, err := s.CreateUser(email, pw, r); err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
}
