package journey

import (
	"fmt"
	"time"

	"tailor/internal/segment"
)

// A send step with AtBestTimeWithin ("24h") waits for the profile's
// best_send_hour (segment package: the hour of its opens, clicks and
// visits in its timezone trait, else the population's hour):
//
//   - in that local hour now: sends now;
//   - the hour's next start is within the window: waits for it on a
//     durable timer, as wait_until does (so a restart or a replay of the
//     log fires it at the same instant), then sends;
//   - otherwise, or without any best hour: sends now, as a plain send.
//
// The hour is read as of the instant the run reaches the step, so that a
// replay of the log decides as the first pass did.

// Bounds of AtBestTimeWithin: under an hour there is no choice to make,
// and past a week the message is stale.
const (
	minBestTimeWindow = time.Hour
	maxBestTimeWindow = 7 * 24 * time.Hour
)

// BestHours is what the best-time send reads of the segment engine
// ((*segment.Engine).BestSendHour); the engine's Segments provide it when
// they implement it, and a send without it goes out at once.
type BestHours interface {
	BestSendHour(profileID string, at time.Time) (hour int, ok bool)
}

func (s *Step) validateBestTime() error {
	if s.AtBestTimeWithin == "" {
		return nil
	}
	d, err := duration(s.AtBestTimeWithin)
	if err != nil {
		return err
	}
	if d < minBestTimeWindow || d > maxBestTimeWindow {
		return fmt.Errorf("a window from 1h to 7d (\"24h\"), got %q", s.AtBestTimeWithin)
	}
	return nil
}

// holdForBestTime puts run rn on a timer at its best send time when send
// step s asks for one within its window, and reports whether it did.
// Caller holds mu.
func (e *Engine) holdForBestTime(js *jstate, k runKey, rn *run, ss *StepStats, s *Step, now time.Time) bool {
	at, ok := e.bestTime(k.prof, s, now)
	if !ok {
		return false
	}
	e.wait(js, k, rn, ss, now.Add(scaled(at.Sub(now), e.opts.TimeScale)))
	return true
}

// bestTime is when send step s should go out for profile prof, reached at
// now; ok is false when that is now.
func (e *Engine) bestTime(prof string, s *Step, now time.Time) (time.Time, bool) {
	if s.Type != StepSend || s.AtBestTimeWithin == "" {
		return time.Time{}, false
	}
	bh, ok := e.opts.Segments.(BestHours)
	if !ok {
		return time.Time{}, false
	}
	hour, ok := bh.BestSendHour(prof, now)
	if !ok || hour < 0 || hour > 23 {
		return time.Time{}, false
	}
	window, err := duration(s.AtBestTimeWithin)
	if err != nil {
		return time.Time{}, false
	}
	next := e.nextClock(prof, fmt.Sprintf("%02d:00", hour), now)
	// next is in the profile's zone: a day back is the hour's last start,
	// across a daylight-saving change too.
	if now.Sub(next.AddDate(0, 0, -1)) < time.Hour || next.Sub(now) > window {
		return time.Time{}, false
	}
	return next, true
}

// leaveBestTime undoes the waiting count of a run leaving send step s on
// which it was held for the best time.
func (e *Engine) leaveBestTime(js *jstate, s *Step, rn *run) {
	if s.AtBestTimeWithin == "" || rn.due == 0 {
		return
	}
	js.stats.step(s.ID).Waiting--
	rn.due = 0
}

// The segment engine is what the server wires as Segments.
var _ BestHours = (*segment.Engine)(nil)
