package journey

import (
	"testing"
	"time"
)

// TestTimeScaleShortensJourneyTime: with TimeScale 86400 a day of journey
// time lasts a second — waits, goal windows and once_per periods alike —
// while scale 1 (or none) keeps real durations.
func TestTimeScaleShortensJourneyTime(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scale float64
		// The first reminder (after a 1 h wait) is not enqueued at before
		// (0: not checked) and is at by; the second (24 h later) likewise.
		// Timers count whole seconds, so a scaled wait ends on a second.
		before, by   time.Duration
		before2, by2 time.Duration
	}{
		{"real time", 0, 59 * time.Minute, time.Hour, 24*time.Hour + 59*time.Minute, 25 * time.Hour},
		{"scale 1", 1, 59 * time.Minute, time.Hour, 24*time.Hour + 59*time.Minute, 25 * time.Hour},
		{"a day per second", 86400, 0, 500 * time.Millisecond, 500 * time.Millisecond, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{TimeScale: tc.scale})
			h.save(cart())
			h.track("p1", "Product Added", nil)
			if tc.before > 0 {
				h.at(tc.before)
				if n := len(h.sent()); n != 0 {
					t.Fatalf("%d sends after %v, want none yet", n, tc.before)
				}
			}
			h.at(tc.by)
			if n := len(h.sent()); n != 1 {
				t.Fatalf("%d sends after %v, want the first reminder", n, tc.by)
			}
			h.at(tc.before2)
			if n := len(h.sent()); n != 1 {
				t.Fatalf("%d sends after %v, want the second reminder not yet", n, tc.before2)
			}
			h.at(tc.by2)
			if n := len(h.sent()); n != 2 {
				t.Fatalf("%d sends after %v, want both reminders", n, tc.by2)
			}
		})
	}
}

// TestTimeScaleShortensGoalWindowsAndWaitUntil: the 3 d goal window of a
// run lasts 3 s at a day per second, and a wait_until fires within a
// second (at most a day of journey time away).
func TestTimeScaleShortensGoalWindowsAndWaitUntil(t *testing.T) {
	h := newHarness(t, Options{TimeScale: 86400})
	j := cart()
	j.Steps[0] = &Step{ID: "wait1", Type: StepWaitUntil, Time: "10:00", Next: "email1"}
	h.save(j)
	h.track("p1", "Product Added", nil)
	h.at(500 * time.Millisecond)
	if n := len(h.sent()); n != 1 {
		t.Fatalf("%d sends half a second after entering, want the wait_until passed and the reminder sent", n)
	}
	h.at(5 * time.Second)
	h.track("p1", "Order Completed", map[string]any{"revenue": 10.0})
	if n := len(h.recorded(EventConverted)); n != 0 {
		t.Fatalf("an order 5 s (5 journey days) after entry converted, want the 3 d window closed")
	}
	h.track("p2", "Product Added", nil)
	h.at(6 * time.Second)
	h.track("p2", "Order Completed", map[string]any{"revenue": 10.0})
	if n := len(h.recorded(EventConverted)); n != 1 {
		t.Fatalf("%d conversions of an order within the scaled window, want 1", n)
	}
}
