package decide

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Stats counts impressions, clicks and conversions per placement and UTC
// day, as they come back on tokens. The events themselves are in the log;
// these counts are what the dashboard charts without scanning it.
type Stats struct {
	db *pebble.DB
	mu sync.Mutex
	m  map[statKey]*DayCounts
}

type statKey struct {
	placement string
	day       uint32 // days since the Unix epoch, UTC
}

// DayCounts is one placement's figures on one day.
type DayCounts struct {
	Day         string `json:"day"` // YYYY-MM-DD, UTC
	Impressions uint64 `json:"impressions"`
	Clicks      uint64 `json:"clicks"`
	Conversions uint64 `json:"conversions"`
}

// Count is one event to count.
type Count struct {
	Placement string
	Kind      string // impression, click or conversion
}

// OpenStats loads the stored counts.
func OpenStats(db *pebble.DB) (*Stats, error) {
	s := &Stats{db: db, m: map[statKey]*DayCounts{}}
	upper := []byte(keyStats)
	upper[len(upper)-1]++
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(keyStats), UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("decide: load stats: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[len(keyStats):]
		if len(k) < 5 || k[len(k)-5] != 0 {
			continue
		}
		var c DayCounts
		if err := json.Unmarshal(it.Value(), &c); err != nil {
			return nil, fmt.Errorf("decide: stats %q: %w", k, err)
		}
		s.m[statKey{string(k[:len(k)-5]), binary.BigEndian.Uint32(k[len(k)-4:])}] = &c
	}
	return s, nil
}

func dayOf(t time.Time) uint32 { return uint32(t.UTC().Unix() / 86400) }

// Add counts cs on the day of now and stores the changed days.
func (s *Stats) Add(now time.Time, cs []Count) {
	day := dayOf(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	touched := map[statKey]bool{}
	for _, c := range cs {
		k := statKey{c.Placement, day}
		d := s.m[k]
		if d == nil {
			d = &DayCounts{Day: now.UTC().Format(time.DateOnly)}
			s.m[k] = d
		}
		switch c.Kind {
		case "impression":
			d.Impressions++
		case "click":
			d.Clicks++
		case "conversion":
			d.Conversions++
		}
		touched[k] = true
	}
	b := s.db.NewBatch()
	defer b.Close()
	for k := range touched {
		v, _ := json.Marshal(s.m[k])
		_ = b.Set(statsKey(k.placement, k.day), v, nil)
	}
	// The events are durable in the log already; a count lost in a crash
	// is only a chart's, so no sync.
	if err := b.Commit(pebble.NoSync); err != nil {
		slog.Error("decide: store placement counts", "err", err)
	}
}

// Days returns placement's counts for the n days up to now, oldest first,
// days without events included as zeros.
func (s *Stats) Days(placement string, now time.Time, n int) []DayCounts {
	last := dayOf(now)
	out := make([]DayCounts, 0, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	for d := last - uint32(n) + 1; d <= last; d++ {
		c := DayCounts{Day: time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly)}
		if x := s.m[statKey{placement, d}]; x != nil {
			c = *x
		}
		out = append(out, c)
	}
	return out
}
