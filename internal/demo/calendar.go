package demo

import (
	"math/rand/v2"
	"time"
)

// Activity rhythm. Weights are integers so that sampling gives the same
// results on every architecture (no floating point in any decision).
var (
	monthWeight   = [13]int64{0, 80, 70, 80, 80, 85, 80, 80, 85, 85, 95, 150, 140} // Jan..Dec
	weekdayWeight = [7]int64{120, 95, 90, 90, 95, 100, 115}                        // Sun..Sat
	// hourWeight is by local hour of day.
	hourWeight = [24]int64{15, 8, 5, 4, 4, 6, 12, 25, 40, 55, 65, 70, 80, 75, 65, 65, 70, 80, 95, 110, 115, 100, 70, 35}
)

// buildCalendar fills g.dayWeight: one weight per UTC day of the history,
// from the month, the weekday and the shopping peaks (Black Friday to Cyber
// Monday, the weeks before Christmas, the lull of Christmas itself).
func (g *Generator) buildCalendar() {
	days := int((g.endMs-g.startMs)/dayMs) + 2
	g.dayWeight = make([]int64, days)
	var maxDay int64
	for d := range g.dayWeight {
		t := time.UnixMilli(g.startMs + int64(d)*dayMs).UTC()
		w := monthWeight[t.Month()] * weekdayWeight[t.Weekday()]
		if t.Month() == time.November {
			// Black Friday is the day after the fourth Thursday.
			firstThu := (int(time.Thursday-time.Date(t.Year(), 11, 1, 0, 0, 0, 0, time.UTC).Weekday())+7)%7 + 1
			bf := firstThu + 21 + 1
			if t.Day() >= bf && t.Day() <= bf+3 {
				w *= 2
			}
		}
		if t.Month() == time.December && t.Day() >= 24 && t.Day() <= 26 {
			w = w * 6 / 10
		}
		g.dayWeight[d] = w
		maxDay = max(maxDay, w)
	}
	var maxHour int64
	for _, w := range hourWeight {
		maxHour = max(maxHour, w)
	}
	g.maxWeight = maxDay * maxHour
}

// weightAt is the activity weight of instant t (unix ms) for someone living
// at UTC offset off (minutes).
func (g *Generator) weightAt(t int64, off int) int64 {
	local := t + int64(off)*minuteMs
	return g.dayWeight[(t-g.startMs)/dayMs] * hourWeight[(local/hourMs)%24]
}

// sampleTime draws an instant in [lo, hi) following the activity rhythm
// (rejection sampling; gives up after a few tries, which only flattens the
// rhythm slightly).
func (g *Generator) sampleTime(r *rand.Rand, lo, hi int64, off int) int64 {
	lo = max(lo, g.startMs)
	hi = min(hi, g.endMs-1)
	if hi <= lo {
		return lo
	}
	var t int64
	for try := 0; try < 16; try++ {
		t = lo + r.Int64N(hi-lo)
		if r.Int64N(g.maxWeight) < g.weightAt(t, off) {
			return t
		}
	}
	return t
}

// sampleFading is sampleTime with a density that falls linearly to 15% of
// its start value over [lo, hi): the activity of a churning customer.
func (g *Generator) sampleFading(r *rand.Rand, lo, hi int64, off int) int64 {
	var t int64
	for try := 0; try < 8; try++ {
		t = g.sampleTime(r, lo, hi, off)
		// Accept with probability 1 - 0.85*(t-lo)/(hi-lo), in per-mille.
		if r.Int64N(1000) < 1000-850*(t-lo)/max(hi-lo, 1) {
			return t
		}
	}
	return t
}
