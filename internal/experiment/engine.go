package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/arena"
	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/rwyield"
	"tailor/internal/store"
)

// ExposureEvent is the event name of an exposure (Segment's A/B testing
// spec), with properties experiment_id and variant (variation_id and
// variation_name are read too).
const ExposureEvent = "Experiment Viewed"

// PlacementExposure is the decision API's impression event: one that
// carries experiment_id and experiment_variant exposes its profile too, so
// a placement's experiment needs no second event per impression.
const PlacementExposure = "Placement Viewed"

// Errors callers branch on.
var (
	ErrNotFound   = errors.New("experiment not found")
	ErrExists     = errors.New("an experiment with that id exists")
	ErrState      = errors.New("the experiment's status does not allow this")
	ErrNotRunning = errors.New("the experiment is not running")
)

// Options are what the engine needs from the server.
type Options struct {
	// DB stores definitions (written at once) and units (at checkpoints).
	DB *pebble.DB
	// Record appends an exposure event for a profile to the event log
	// (ingest.AppendInternal through the server); Expose calls it.
	Record func(ctx context.Context, profileID string, properties map[string]any) error
	// RecordBatch appends many exposures at once (one AppendInternal);
	// the asynchronous queue (ExposeAsync) flushes through it. Nil: the
	// queue calls Record once per exposure.
	RecordBatch func(ctx context.Context, xs []Exposure) error
	// QueueSize bounds the asynchronous exposure queue (default 16384);
	// exposures offered to a full queue are dropped and counted.
	QueueSize int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// unit is one exposed profile's record in one experiment.
//
// Stickiness across identity merges: the unit is keyed by the profile that
// was exposed and keeps, in id, that profile's id at first exposure (its
// first-known id). When profiles merge (profile.Resolution.Merged), the
// merged-away profile's unit moves to the surviving profile; when both had
// one, the earlier exposure wins and the other's goal values are added to
// it (they are the same person's). Assign answers from the stored unit
// before hashing, so a merged profile keeps the variant it was shown.
type unit struct {
	variant int16     // -1: a tombstone left by a merge
	exposed int64     // first exposure, unix seconds
	id      arena.Ref // in expState.ids
}

// expState is one experiment's definition and units. Guarded by Engine.mu.
type expState struct {
	def *Experiment

	// units and byProfile (a unit's index by current profile id) hold no
	// pointer per unit, and the units' first-known ids are in ids (never
	// freed: a unit outlives merges): a big store's experiments hold
	// hundreds of thousands of units, and as strings and a map of strings
	// they were two pointers each for every collection to follow.
	units     []unit
	byProfile arena.StrIndex[int32]
	ids       arena.Bytes
	// vals holds, for unit i and metric m, the value at vals[i*2M+2m] and
	// the pre-period covariate at vals[i*2M+2m+1] (M = len(def.Metrics)).
	vals []float64
	// pre keeps, per not-yet-exposed profile, the metric events of the
	// last PreDays, to become the covariate at exposure. Rebuilt from
	// events after a restart, not stored; profiles whose newest entry is
	// older than PreDays are dropped at each checkpoint, so it holds only
	// the profiles active in the pre-period.
	pre    map[string][]preEntry
	newest int64 // the newest event time seen, unix seconds, for pruning pre

	// alloc is a bandit's current weights (nil: the definition's).
	alloc []uint32

	conflicts int64 // exposures naming another variant than the unit's
	unknown   int64 // exposures naming a variant the experiment lacks

	dirty   map[string]struct{} // profiles whose unit changed since the checkpoint
	deleted map[string]struct{} // profiles whose unit moved away (merged)
}

type preEntry struct {
	at     int64
	metric int
	v      float64
}

func (s *expState) stride() int { return 2 * len(s.def.Metrics) }

// addUnit appends the unit of profile prof, first known as id (the caller
// appends its values).
func (s *expState) addUnit(prof, id string, variant int16, exposed int64) {
	r, dst := s.ids.Alloc(len(id))
	copy(dst, id)
	s.byProfile.Set(prof, int32(len(s.units)))
	s.units = append(s.units, unit{variant: variant, exposed: exposed, id: r})
}

// Engine holds every experiment. The processor goroutine is the only
// writer of units (Apply); the admin API writes definitions; both under mu.
type Engine struct {
	opts Options
	mu   rwyield.RWMutex
	exps map[string]*expState

	inflight inflight
	queue    chan Exposure
	metrics  queueMetrics
}

// New returns an empty engine; call Load before registering it.
func New(opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	e := &Engine{opts: opts, exps: map[string]*expState{}, queue: make(chan Exposure, opts.QueueSize),
		inflight: inflight{m: map[inflightKey]int64{}}}
	e.metrics = newQueueMetrics(func() float64 { return float64(len(e.queue)) })
	return e
}

func newState(def *Experiment) *expState {
	return &expState{def: def, pre: map[string][]preEntry{},
		dirty: map[string]struct{}{}, deleted: map[string]struct{}{}}
}

// Name names the applier.
func (e *Engine) Name() string { return "experiment" }

// Assign returns the variant id of a running experiment for unit (a
// resolved profile id): the stored one if the profile was exposed already,
// else the hash assignment. ok is false for an unknown or not running
// experiment. It does not log an exposure; see Expose.
func (e *Engine) Assign(experimentID, unit string) (variant string, ok bool) {
	v, _, ok := e.assign(experimentID, unit)
	return v, ok
}

// Expose assigns profileID a variant of a running experiment and logs the
// exposure as an event, which the engine counts when the processor applies
// it.
func (e *Engine) Expose(ctx context.Context, experimentID, profileID string) (string, error) {
	v, ok := e.Assign(experimentID, profileID)
	if !ok {
		return "", fmt.Errorf("expose %s: %w", experimentID, ErrNotRunning)
	}
	if e.opts.Record == nil {
		return v, nil
	}
	if err := e.opts.Record(ctx, profileID, map[string]any{"experiment_id": experimentID, "variant": v}); err != nil {
		return "", fmt.Errorf("expose %s: record exposure: %w", experimentID, err)
	}
	return v, nil
}

// Apply folds one event into the running experiments: merges move units,
// exposures create them, goal events add to them.
func (e *Engine) Apply(ev *event.Event, r profile.Resolution) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.exps {
		for _, m := range r.Merged {
			s.merge(m, r.Profile)
		}
		if s.def.Status != StatusRunning || r.Profile == "" || ev.Type != event.Track {
			continue
		}
		if ev.Event == ExposureEvent || ev.Event == PlacementExposure && ev.Properties["experiment_id"] != nil {
			s.expose(ev, r.Profile)
			continue
		}
		s.goal(ev, r.Profile)
	}
	if ev.Event == ExposureEvent && r.Profile != "" {
		e.inflight.settle(str(ev.Properties["experiment_id"]), r.Profile)
	}
}

func (s *expState) expose(ev *event.Event, prof string) {
	if str(ev.Properties["experiment_id"]) != s.def.ID {
		return
	}
	name := str(ev.Properties["variant"])
	if name == "" {
		name = str(ev.Properties["variation_id"])
	}
	if name == "" {
		name = str(ev.Properties["variation_name"])
	}
	if name == "" {
		name = str(ev.Properties["experiment_variant"]) // a placement's impression
	}
	vi := s.def.variantIndex(name)
	if vi < 0 {
		s.unknown++
		return
	}
	if i, ok := s.byProfile.Get(prof); ok {
		if int(s.units[i].variant) != vi {
			s.conflicts++
		}
		return
	}
	at := ev.Timestamp.Unix()
	s.addUnit(prof, prof, int16(vi), at)
	base := len(s.vals)
	s.vals = append(s.vals, make([]float64, s.stride())...)
	from := at - int64(*s.def.PreDays)*86400
	for _, p := range s.pre[prof] {
		if p.at >= from && p.at < at {
			s.vals[base+2*p.metric+1] += p.v
		}
	}
	delete(s.pre, prof)
	s.dirty[prof] = struct{}{}
}

func (s *expState) goal(ev *event.Event, prof string) {
	at := ev.Timestamp.Unix()
	s.newest = max(s.newest, at)
	i, exposed := s.byProfile.Get(prof)
	for m := range s.def.Metrics {
		v, ok := s.def.Metrics[m].value(ev)
		if !ok {
			continue
		}
		if !exposed {
			if *s.def.PreDays > 0 {
				s.addPre(prof, preEntry{at, m, v})
			}
			continue
		}
		u := s.units[i]
		if at < u.exposed || at > u.exposed+int64(s.def.WindowHours)*3600 {
			continue
		}
		k := int(i)*s.stride() + 2*m
		if s.def.Metrics[m].Kind == MetricConversion {
			s.vals[k] = 1
		} else {
			s.vals[k] += v
		}
		s.dirty[prof] = struct{}{}
	}
}

// addPre keeps a profile's recent metric events, dropping those older than
// the pre-period before the newest.
func (s *expState) addPre(prof string, p preEntry) {
	l := append(s.pre[prof], p)
	from := p.at - int64(*s.def.PreDays)*86400
	l = slices.DeleteFunc(l, func(q preEntry) bool { return q.at < from })
	s.pre[prof] = l
}

// merge moves the unit of the merged-away profile from into profile into.
func (s *expState) merge(from, into string) {
	if p := s.pre[from]; p != nil {
		s.pre[into] = append(s.pre[into], p...)
		delete(s.pre, from)
	}
	fi, ok := s.byProfile.Get(from)
	if !ok {
		return
	}
	s.byProfile.Delete(from)
	s.deleted[from] = struct{}{}
	delete(s.dirty, from)
	ti, ok := s.byProfile.Get(into)
	if !ok {
		s.byProfile.Set(into, fi)
		s.dirty[into] = struct{}{}
		delete(s.deleted, into)
		return
	}
	keep, drop := ti, fi
	if s.units[fi].exposed < s.units[ti].exposed {
		keep, drop = fi, ti
	}
	st := s.stride()
	for m, metric := range s.def.Metrics {
		k, d := int(keep)*st+2*m, int(drop)*st+2*m
		if metric.Kind == MetricConversion {
			s.vals[k] = math.Max(s.vals[k], s.vals[d])
		} else {
			s.vals[k] += s.vals[d]
		}
	}
	s.units[drop].variant = -1
	s.byProfile.Set(into, keep)
	s.dirty[into] = struct{}{}
}

// value is the metric's value for one event, ok false when the event does
// not count for the metric.
func (m *Metric) value(ev *event.Event) (float64, bool) {
	if ev.Event != m.Event {
		return 0, false
	}
	for k, want := range m.Where {
		if str(ev.Properties[k]) != want {
			return 0, false
		}
	}
	if m.Kind == MetricConversion {
		return 1, true
	}
	return number(ev.Properties[m.Property])
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(x, 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// Keys: see doc.go.
func defKey(id string) []byte { return store.Key(store.PrefixExperiment, "d/"+id) }
func unitKey(id, prof string) []byte {
	return store.Key(store.PrefixExperiment, "u/"+id+"\x00"+prof)
}

// storedUnit is a unit as stored.
type storedUnit struct {
	Variant string    `json:"v"`
	Exposed int64     `json:"t"`
	ID      string    `json:"id"`
	Vals    []float64 `json:"x"`
}

// Checkpoint writes the units changed since the last checkpoint.
func (e *Engine) Checkpoint(b *pebble.Batch) error {
	e.inflight.prune(e.opts.Now().Unix())
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, s := range e.exps {
		for prof := range s.deleted {
			if err := b.Delete(unitKey(id, prof), nil); err != nil {
				return fmt.Errorf("experiment %s: delete unit: %w", id, err)
			}
		}
		st := s.stride()
		for prof := range s.dirty {
			i, _ := s.byProfile.Get(prof)
			u := s.units[i]
			v, err := json.Marshal(storedUnit{Variant: s.def.Variants[u.variant].ID, Exposed: u.exposed, ID: s.ids.String(u.id),
				Vals: s.vals[int(i)*st : int(i+1)*st]})
			if err != nil {
				return fmt.Errorf("experiment %s: encode unit: %w", id, err)
			}
			if err := b.Set(unitKey(id, prof), v, nil); err != nil {
				return fmt.Errorf("experiment %s: write unit: %w", id, err)
			}
		}
		clear(s.deleted)
		clear(s.dirty)
		s.byProfile.Compact()
		if s.def.Status != StatusRunning {
			clear(s.pre)
			continue
		}
		s.rebalance()
		from := s.newest - int64(*s.def.PreDays)*86400
		for prof, l := range s.pre {
			if len(l) == 0 || l[len(l)-1].at < from {
				delete(s.pre, prof)
			}
		}
	}
	return nil
}

// Load reads the definitions and units.
func (e *Engine) Load() error {
	if e.opts.DB == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	lo := store.Key(store.PrefixExperiment, "d/")
	it, err := e.opts.DB.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: store.Key(store.PrefixExperiment, "d0")})
	if err != nil {
		return fmt.Errorf("load experiments: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		var x Experiment
		if err := json.Unmarshal(it.Value(), &x); err != nil {
			it.Close()
			return fmt.Errorf("load experiment %q: %w", it.Key()[len(lo):], err)
		}
		e.exps[x.ID] = newState(&x)
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("load experiments: %w", err)
	}
	lo = store.Key(store.PrefixExperiment, "u/")
	it, err = e.opts.DB.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: store.Key(store.PrefixExperiment, "u0")})
	if err != nil {
		return fmt.Errorf("load experiment units: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		rest := it.Key()[len(lo):]
		sep := bytes.IndexByte(rest, 0)
		if sep < 0 {
			return fmt.Errorf("load experiment units: malformed key %q", it.Key())
		}
		s := e.exps[string(rest[:sep])]
		if s == nil {
			continue // its experiment was deleted; the range delete raced a checkpoint
		}
		var su storedUnit
		if err := json.Unmarshal(it.Value(), &su); err != nil {
			return fmt.Errorf("load experiment unit %q: %w", it.Key(), err)
		}
		vi := s.def.variantIndex(su.Variant)
		if vi < 0 || len(su.Vals) != s.stride() {
			return fmt.Errorf("load experiment unit %q: variant %q or %d values do not fit the definition", it.Key(), su.Variant, len(su.Vals))
		}
		s.addUnit(string(rest[sep+1:]), su.ID, int16(vi), su.Exposed)
		s.vals = append(s.vals, su.Vals...)
	}
	for _, s := range e.exps {
		if s.def.Status == StatusRunning {
			s.rebalance()
		}
	}
	return nil
}

// LockWaited reports how often writers of experiment state (the processor, an
// admin write) found its lock held, and how long they waited in all.
func (e *Engine) LockWaited() (uint64, time.Duration) { return e.mu.Waited() }
