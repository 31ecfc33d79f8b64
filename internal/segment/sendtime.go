package segment

import (
	"math"
	"sync"
	"time"
)

// This file holds best_send_hour: the hour of the day (0–23, in the
// profile's own time zone) at which the profile is most likely to engage.
//
//   - Engagement events are sendTimeEvents (opens and clicks of messages,
//     page and screen views, app opens) at or before now.
//   - Each is counted at its local hour in the profile's "timezone" trait
//     (an IANA name; UTC when absent or unknown).
//   - With at least MinSendTimeEvents of them, the hour h with the highest
//     c[h−1] + 2·c[h] + c[h+1] (hours wrap around midnight; the smoothing
//     keeps one stray event from deciding) wins, the earliest on a tie.
//   - Otherwise the population's hour: the same choice over every
//     profile's counts added up (an even sample of them beyond a million
//     events), in the models snapshot (Models.SendHours, at its instant);
//     absent without a snapshot or any engagement there.
//
// It changes with the profile's engagement events and time zone, and with
// the snapshot; a future-dated event counts when its time comes.

// FieldBestSendHour is the best send time's field name.
const FieldBestSendHour = "best_send_hour"

// MinSendTimeEvents is the engagement a profile needs for an hour of its own.
const MinSendTimeEvents = 5

// sendTimeEvents are the event keys that count as engagement.
var sendTimeEvents = map[string]bool{
	"Message Opened": true, "Message Clicked": true, "Email Opened": true, "Email Link Clicked": true,
	"Push Opened": true, "Application Opened": true, "$page": true, "$screen": true,
}

func init() {
	computedFields[FieldBestSendHour] = typeNumber
}

// sendHours are engagement counts by local hour.
type sendHours [24]uint32

// best is the smoothed argmax; -1 without any count.
func (h *sendHours) best() int {
	best, score := -1, uint64(0)
	for i := range 24 {
		s := uint64(h[(i+23)%24]) + 2*uint64(h[i]) + uint64(h[(i+1)%24])
		if s > score {
			best, score = i, s
		}
	}
	return best
}

func (h *sendHours) total() int {
	n := 0
	for _, c := range h {
		n += int(c)
	}
	return n
}

// locations caches time zones by name (LoadLocation reads the zone files).
var locations sync.Map // string → *time.Location

func location(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		l = time.UTC
	}
	locations.Store(name, l)
	return l
}

func localHour(ts int64, loc *time.Location) int { return time.Unix(ts, 0).In(loc).Hour() }

// timezoneOf is profile o's timezone trait ("" when none or not a string).
// Caller holds ix.mu.
func (ix *Index) timezoneOf(o int) string {
	c := ix.traits["timezone"]
	if c == nil {
		return ""
	}
	id := c.vals.get(o)
	if id == 0 || c.dict.kinds[id-1] != kindString {
		return ""
	}
	return c.dict.str(id - 1)
}

// sendHoursNow fills a.hours for every ordinal from the engagement streams
// (a.hours stays as is when filled), noting future events as next changes.
func (ev *evaluation) sendHoursNow(a *aggregates) {
	if a.hours != nil {
		return
	}
	ix := ev.ix
	a.hours = make([]sendHours, ev.n)
	locs := map[int]*time.Location{}
	for key, s := range ix.streams {
		if !sendTimeEvents[key] {
			continue
		}
		for row := range s.n {
			o := ix.canon[s.ord.get(row)]
			ts := int64(s.ts.get(row))
			if ts > ev.now {
				ev.noteNext(o, ts)
				continue
			}
			loc, ok := locs[int(o)]
			if !ok {
				loc = location(ix.timezoneOf(int(o)))
				locs[int(o)] = loc
			}
			a.hours[o][localHour(ts, loc)]++
		}
	}
}

// sendHoursNow fills the profile's counts in a (slot 0).
func (sg *single) sendHoursNow(a *aggregates) {
	if a.hours != nil {
		// Reused for another rule: its future events matter to it too.
		sg.noteNext(sg.hoursNext)
		return
	}
	sg.hoursBuf, sg.hoursNext = [1]sendHours{}, math.MaxInt64
	a.hours = sg.hoursBuf[:]
	loc := location(sg.ix.timezoneOf(int(sg.ord)))
	for key, s := range sg.ix.streams {
		if !sendTimeEvents[key] {
			continue
		}
		sg.rows(s, func(row int, ts uint32) {
			if int64(ts) > sg.now {
				sg.hoursNext = min(sg.hoursNext, int64(ts))
				return
			}
			a.hours[0][localHour(int64(ts), loc)]++
		})
	}
	sg.noteNext(sg.hoursNext)
}

// bestSendHour is the field's value for counts h and snapshot m.
func bestSendHour(h *sendHours, m *Models) computedValue {
	if h.total() >= MinSendTimeEvents {
		return computedValue{num: float64(h.best()), present: true}
	}
	if m == nil {
		return computedValue{}
	}
	if b := m.SendHours.best(); b >= 0 {
		return computedValue{num: float64(b), present: true}
	}
	return computedValue{}
}

// populationSample bounds the engagement events a snapshot reads for the
// population's hours: the refresh holds the write lock, and page views can
// number in the hundreds of millions.
const populationSample = 1 << 20

// populationSendHours counts the engagement events at or before now by
// their profile's local hour: all of them up to populationSample, else an
// even sample of each stream (every k-th row), which is as good for finding
// the busiest hour. Caller holds ix.mu.
func populationSendHours(ix *Index, now int64) sendHours {
	total := 0
	for key, s := range ix.streams {
		if sendTimeEvents[key] {
			total += s.n
		}
	}
	step := max(1, total/populationSample)
	var pop sendHours
	for key, s := range ix.streams {
		if !sendTimeEvents[key] {
			continue
		}
		for row := 0; row < s.n; row += step {
			ts := int64(s.ts.get(row))
			if ts > now {
				continue
			}
			o := ix.canon[s.ord.get(row)]
			if !ix.alive.Contains(o) {
				continue
			}
			pop[localHour(ts, location(ix.timezoneOf(int(o))))]++
		}
	}
	return pop
}

// refBestSendHour is the reference's best_send_hour: see the file comment.
func refBestSendHour(p *RefProfile, now int64, m *Models) (float64, bool) {
	tz, _ := p.Traits["timezone"].(string)
	loc := location(tz)
	var counts [24]int
	n := 0
	for _, e := range p.Events {
		if e.Time > now || !sendTimeEvents[e.Key] {
			continue
		}
		counts[time.Unix(e.Time, 0).In(loc).Hour()]++
		n++
	}
	if n < MinSendTimeEvents {
		if m == nil {
			return 0, false
		}
		n = 0
		for h, c := range m.SendHours {
			counts[h] = int(c)
			n += int(c)
		}
		if n == 0 {
			return 0, false
		}
	}
	best, score := 0, -1
	for h := range 24 {
		if s := counts[(h+23)%24] + 2*counts[h] + counts[(h+1)%24]; s > score {
			best, score = h, s
		}
	}
	return float64(best), true
}
