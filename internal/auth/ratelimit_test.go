package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiterBlocksAfterMaxFailuresUntilTheWindowEnds(t *testing.T) {
	c := newClock()
	l := newLimiter(3, 15*time.Minute, 100, c.Now)
	for i := 0; i < 3; i++ {
		if d := l.blocked("k"); d != 0 {
			t.Fatalf("blocked after %d failures (%s), want after 3", i, d)
		}
		l.fail("k")
		c.Add(time.Minute)
	}
	// The window started at the first failure, 3 minutes ago.
	if d := l.blocked("k"); d != 12*time.Minute {
		t.Fatalf("blocked for %s after 3 failures, want 12m", d)
	}
	if d := l.blocked("other"); d != 0 {
		t.Errorf("another key is blocked for %s", d)
	}
	c.Add(12 * time.Minute)
	if d := l.blocked("k"); d != 0 {
		t.Errorf("still blocked for %s after the window", d)
	}
	l.fail("k")
	if d := l.blocked("k"); d != 0 {
		t.Errorf("one failure in a new window blocks for %s", d)
	}
}

func TestLimiterResetForgetsFailures(t *testing.T) {
	c := newClock()
	l := newLimiter(2, time.Minute, 100, c.Now)
	l.fail("k")
	l.reset("k")
	l.fail("k")
	if d := l.blocked("k"); d != 0 {
		t.Errorf("blocked for %s: reset did not forget the first failure", d)
	}
}

func TestLimiterTableStaysBounded(t *testing.T) {
	c := newClock()
	l := newLimiter(2, time.Minute, 50, c.Now)
	l.fail("attacker")
	l.fail("attacker")
	for i := 0; i < 1000; i++ {
		l.fail(fmt.Sprint("ip-", i))
		c.Add(time.Millisecond)
		if n := l.len(); n > 50 {
			t.Fatalf("table holds %d keys, bound is 50", n)
		}
	}
	// The oldest window goes first when the table is full.
	if d := l.blocked("attacker"); d != 0 {
		t.Errorf("the oldest key survived 1000 newer ones (blocked %s)", d)
	}
	// Expired windows are dropped before live ones.
	c.Add(time.Minute)
	l.fail("late")
	if n := l.len(); n != 1 {
		t.Errorf("after every window ended the table holds %d keys, want 1", n)
	}
}
