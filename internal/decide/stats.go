package decide

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/profile"
)

// Stats is the placements' figures per UTC day: impressions, clicks and
// conversions. It is an applier of the processor, so the figures come from
// the log, the source of truth: they count each event once (the log drops
// a repeated messageId, such as an impression reported twice), and a replay
// after a crash counts exactly what the checkpoint had not.
//
// A conversion is a Placement Converted event (the page says the visitor
// used the offer), or an Order Completed of a profile within
// AttributionWindow of its last click on a placement, credited to that
// placement with the order's revenue.
//
// Apply and Checkpoint run on the processor goroutine, which alone writes
// the state; mu guards the day counts for the admin API's readers.
type Stats struct {
	mu    sync.Mutex
	days  map[statKey]*DayCounts
	dirty map[statKey]bool
	// clicks is each profile's last click on a placement; dirtyClicks the
	// profiles whose click changed (or that merged away) since the last
	// checkpoint.
	clicks      map[string]lastClick
	dirtyClicks map[string]bool
	// present: OpenStats found figures, clicks or the mark (NeedsBackfill).
	present bool
}

// keyStatsMark says the figures were built from the log; a store made
// before they existed lacks it (and any figures), see NeedsBackfill.
var keyStatsMark = []byte(keyStats[:len(keyStats)-1] + "mark")

// AttributionWindow is how long after a click an order counts as the
// placement's conversion.
const AttributionWindow = 7 * 24 * time.Hour

type lastClick struct {
	placement string
	at        int64 // unix nanos of the click event's timestamp
}

type statKey struct {
	placement string
	day       uint32 // days since the Unix epoch, UTC
}

// DayCounts is one placement's figures on one day.
type DayCounts struct {
	Day         string  `json:"day"` // YYYY-MM-DD, UTC
	Impressions uint64  `json:"impressions"`
	Clicks      uint64  `json:"clicks"`
	Conversions uint64  `json:"conversions"`
	Revenue     float64 `json:"revenue"` // of the orders credited to the placement
}

// OpenStats loads the figures and last clicks of the last checkpoint.
func OpenStats(db *pebble.DB) (*Stats, error) {
	s := &Stats{days: map[statKey]*DayCounts{}, dirty: map[statKey]bool{}, clicks: map[string]lastClick{}, dirtyClicks: map[string]bool{}}
	err := scan(db, keyStats, func(k, v []byte) error {
		if len(k) < 5 || k[len(k)-5] != 0 {
			return nil
		}
		var c DayCounts
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("decide: figures %q: %w", k, err)
		}
		s.days[statKey{string(k[:len(k)-5]), binary.BigEndian.Uint32(k[len(k)-4:])}] = &c
		s.present = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = scan(db, keyClick, func(k, v []byte) error {
		if len(v) >= 8 {
			s.clicks[string(k)] = lastClick{placement: string(v[8:]), at: int64(binary.BigEndian.Uint64(v))}
			s.present = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !s.present {
		switch _, closer, err := db.Get(keyStatsMark); {
		case err == nil:
			closer.Close()
			s.present = true
		case !errors.Is(err, pebble.ErrNotFound):
			return nil, fmt.Errorf("decide: read the figures' mark: %w", err)
		}
	}
	return s, nil
}

// NeedsBackfill says OpenStats found neither figures nor the mark: the
// store was made by a version without them, and the placement events of
// its log are still to be counted.
func (s *Stats) NeedsBackfill() bool { return !s.present }

// MarkBackfilled writes the mark NeedsBackfill looks for: a store whose log
// holds no placement event has no figures to show it.
func (s *Stats) MarkBackfilled(b *pebble.Batch) error {
	s.present = true
	return b.Set(keyStatsMark, nil, nil)
}

func scan(db *pebble.DB, prefix string, fn func(k, v []byte) error) error {
	upper := []byte(prefix)
	upper[len(upper)-1]++
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: upper})
	if err != nil {
		return fmt.Errorf("decide: scan %s: %w", prefix, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key()[len(prefix):], it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

// Name names the applier in logs.
func (s *Stats) Name() string { return "placement figures" }

// Apply counts e if it is a placement event or an order after a click.
func (s *Stats) Apply(e *event.Event, r profile.Resolution) {
	for _, m := range r.Merged {
		if c, ok := s.clicks[m]; ok {
			if cur, ok := s.clicks[r.Profile]; !ok || c.at > cur.at {
				s.clicks[r.Profile] = c
				s.dirtyClicks[r.Profile] = true
			}
			delete(s.clicks, m)
			s.dirtyClicks[m] = true
		}
	}
	if e.Type != event.Track {
		return
	}
	switch e.Event {
	case EventViewed, EventClicked, EventConverted:
		p, _ := e.Properties["placement_id"].(string)
		if p == "" {
			return
		}
		s.count(p, e.Timestamp, func(d *DayCounts) {
			switch e.Event {
			case EventViewed:
				d.Impressions++
			case EventClicked:
				d.Clicks++
			default:
				d.Conversions++
			}
		})
		if e.Event == EventClicked && r.Profile != "" {
			s.clicks[r.Profile] = lastClick{placement: p, at: e.Timestamp.UnixNano()}
			s.dirtyClicks[r.Profile] = true
		}
	case "Order Completed":
		c, ok := s.clicks[r.Profile]
		if !ok {
			return
		}
		if since := e.Timestamp.UnixNano() - c.at; since < 0 || since > int64(AttributionWindow) {
			return
		}
		revenue := float64(event.OrderRevenue(e.Properties)) / 1e6
		s.count(c.placement, e.Timestamp, func(d *DayCounts) { d.Conversions++; d.Revenue += revenue })
	}
}

func (s *Stats) count(placement string, at time.Time, fn func(*DayCounts)) {
	k := statKey{placement, dayOf(at)}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.days[k]
	if d == nil {
		d = &DayCounts{Day: at.UTC().Format(time.DateOnly)}
		s.days[k] = d
	}
	fn(d)
	s.dirty[k] = true
}

// Checkpoint writes the changed days and last clicks into b.
func (s *Stats) Checkpoint(b *pebble.Batch) error {
	s.mu.Lock()
	for k := range s.dirty {
		v, err := json.Marshal(s.days[k])
		if err != nil {
			s.mu.Unlock()
			return err
		}
		if err := b.Set(statsKey(k.placement, k.day), v, nil); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	clear(s.dirty)
	s.mu.Unlock()
	for id := range s.dirtyClicks {
		key := []byte(keyClick + id)
		c, ok := s.clicks[id]
		var err error
		if !ok {
			err = b.Delete(key, nil)
		} else {
			v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(c.placement)), uint64(c.at))
			err = b.Set(key, append(v, c.placement...), nil)
		}
		if err != nil {
			return err
		}
	}
	clear(s.dirtyClicks)
	return nil
}

func dayOf(t time.Time) uint32 { return uint32(t.UTC().Unix() / 86400) }

// Days returns placement's counts for the n days up to now, oldest first,
// days without events included as zeros.
func (s *Stats) Days(placement string, now time.Time, n int) []DayCounts {
	last := dayOf(now)
	out := make([]DayCounts, 0, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	for d := last - uint32(n) + 1; d <= last; d++ {
		c := DayCounts{Day: time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly)}
		if x := s.days[statKey{placement, d}]; x != nil {
			c = *x
		}
		out = append(out, c)
	}
	return out
}
