// Package stats keeps the node's figures over time for the dashboard's
// overview: every Interval it reads the counters it is given (events
// accepted and applied, rejected messages, segment entries and exits) and
// gauges (profiles, processor lag), and folds the change into three rings:
// the last hour in 10 s points, the last day in 5 min points and the last
// week in 1 h points. The rings are saved under the store's ts/ prefix every
// few minutes and at shutdown, so the charts survive restarts.
//
// The package imports none of the parts it reports on: the server passes a
// Read function, so what is counted is decided where the counters live.
package stats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// Reading is one reading of the node. Counters count since the process
// started (a restart starts them at zero again); the rest are gauges.
type Reading struct {
	Accepted, Applied, Rejected, Entered, Exited uint64
	Profiles                                     int64
	LagEvents                                    int64
	LagSeconds                                   float64
}

// Range is one of the windows the rings keep.
type Range struct {
	Name string
	Step int64 // seconds per point
	N    int   // points
}

// Ranges are the windows, in the order of Sampler.rings.
var Ranges = []Range{
	{"hour", 10, 360},
	{"day", 300, 288},
	{"week", 3600, 168},
}

// Defaults of Options.
const (
	DefaultInterval     = 10 * time.Second
	DefaultPersistEvery = 3 * time.Minute
)

// Options configure a Sampler.
type Options struct {
	// Read returns the current reading; it is called every Interval and by
	// each GET, so it must be cheap and safe for concurrent use.
	Read func() Reading
	// DB persists the rings under store.PrefixStats; nil keeps them in
	// memory only.
	DB *pebble.DB
	// Interval between readings. Default DefaultInterval, the hour range's
	// step: a longer one leaves gaps in that chart.
	Interval time.Duration
	// PersistEvery is how often the rings are saved; a crash loses at most
	// this much history. Default DefaultPersistEvery.
	PersistEvery time.Duration
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

// Sampler reads the node and keeps the rings. Its methods are safe for
// concurrent use.
type Sampler struct {
	opts Options

	mu     sync.Mutex
	last   Reading // the reading the next delta is taken from
	lastAt time.Time
	rings  []ring // one per Ranges entry
}

// New returns a sampler holding the rings saved in opts.DB, and takes the
// first reading (the baseline of the first delta).
func New(opts Options) (*Sampler, error) {
	if opts.Read == nil {
		return nil, errors.New("stats: Options.Read is required")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.PersistEvery <= 0 {
		opts.PersistEvery = DefaultPersistEvery
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Sampler{opts: opts}
	for _, r := range Ranges {
		s.rings = append(s.rings, newRing(r.Step, r.N))
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.last, s.lastAt = opts.Read(), opts.Now()
	return s, nil
}

// Sample takes a reading and folds its change since the previous one into
// every ring.
func (s *Sampler) Sample() {
	cur, now := s.opts.Read(), s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := delta(s.last, cur, now.Sub(s.lastAt))
	at := midpoint(s.lastAt, now)
	s.last, s.lastAt = cur, now
	for i := range s.rings {
		s.rings[i].add(at, d)
	}
}

// midpoint is the unix second a change between readings at a and b is
// filed under: readings come at any phase of the 10 s intervals, and the
// middle of what one covers lands each in its own interval.
func midpoint(a, b time.Time) int64 { return a.Add(b.Sub(a) / 2).Unix() }

// delta is the interval between readings a and b, dt apart.
func delta(a, b Reading, dt time.Duration) Point {
	// A counter below its last reading was reset (it cannot go back within
	// a process): count from zero.
	sub := func(x, y uint64) uint64 {
		if y < x {
			return y
		}
		return y - x
	}
	return Point{
		Seconds:  max(dt.Seconds(), 0),
		Accepted: sub(a.Accepted, b.Accepted), Applied: sub(a.Applied, b.Applied),
		Rejected: sub(a.Rejected, b.Rejected), Entered: sub(a.Entered, b.Entered), Exited: sub(a.Exited, b.Exited),
		Profiles: b.Profiles, LagEvents: b.LagEvents, LagSeconds: b.LagSeconds,
	}
}

// Run samples every Interval and saves every PersistEvery until ctx ends,
// then samples and saves once more (the caller closes the store after Run
// returns).
func (s *Sampler) Run(ctx context.Context) {
	sample := time.NewTicker(s.opts.Interval)
	defer sample.Stop()
	persist := time.NewTicker(s.opts.PersistEvery)
	defer persist.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Sample() // the last seconds too
			if err := s.Save(); err != nil {
				slog.Error("save stats", "err", err)
			}
			return
		case <-sample.C:
			s.Sample()
		case <-persist.C:
			if err := s.Save(); err != nil {
				slog.Error("save stats", "err", err)
			}
		}
	}
}

// saved is the stored form of one ring.
type saved struct {
	Step   int64   `json:"step"`
	Points []Point `json:"points"`
}

func key(r Range) []byte { return store.Key(store.PrefixStats, r.Name) }

// Save writes the rings to the store.
func (s *Sampler) Save() error {
	if s.opts.DB == nil {
		return nil
	}
	b := s.opts.DB.NewBatch()
	defer b.Close()
	s.mu.Lock()
	for i, r := range Ranges {
		pts := make([]Point, 0, len(s.rings[i].pts))
		for _, p := range s.rings[i].pts {
			if p.Seconds > 0 {
				pts = append(pts, p)
			}
		}
		v, err := json.Marshal(saved{Step: r.Step, Points: pts})
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("encode %s stats: %w", r.Name, err)
		}
		if err := b.Set(key(r), v, nil); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	s.mu.Unlock()
	// History for charts, not acknowledged data: a crash may lose the last
	// few minutes of it.
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("save stats: %w", err)
	}
	return nil
}

// load restores the saved rings. A ring saved with another step (a
// future change of Ranges) or that does not decode is dropped with a
// warning: charts are not worth refusing to start over.
func (s *Sampler) load() error {
	if s.opts.DB == nil {
		return nil
	}
	for i, r := range Ranges {
		v, closer, err := s.opts.DB.Get(key(r))
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("load %s stats: %w", r.Name, err)
		}
		var sv saved
		err = json.Unmarshal(v, &sv)
		closer.Close()
		if err != nil || sv.Step != r.Step {
			slog.Warn("dropping saved stats", "range", r.Name, "err", err, "step", sv.Step)
			continue
		}
		for _, p := range sv.Points {
			if p.T >= 0 && p.T%r.Step == 0 {
				*s.rings[i].slot(p.T) = p
			}
		}
	}
	return nil
}
