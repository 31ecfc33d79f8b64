package segment

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/profile"
	"tailor/internal/store"
)

// MaxSegments bounds the saved segments: each one is re-evaluated on the
// events it depends on.
const MaxSegments = 1000

// Definition is a saved segment as the admin API reads and writes it.
type Definition struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Rule        *Rule     `json:"rule"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Info is a saved segment with its live figures.
type Info struct {
	Definition
	Size int `json:"size"`
	// Entered and Exited count membership changes since the server started.
	Entered uint64 `json:"entered"`
	Exited  uint64 `json:"exited"`
	// Text is the rule in the readable form.
	Text string `json:"text,omitempty"`
}

// Transition is one profile entering or leaving a segment.
type Transition struct {
	Segment, Name string
	Profile       string
	Entered       bool
	At            time.Time
	// Cause makes the recorded event's message id unique and stable: the
	// log seq of the event that caused it, or the instant a time window
	// moved it.
	Cause string
}

// MessageID is the id of the event that records t: the same transition
// derived twice (a replay) is recorded once.
func (t Transition) MessageID() string {
	kind := "exit"
	if t.Entered {
		kind = "enter"
	}
	return "seg-" + t.Segment + "-" + t.Profile + "-" + kind + "-" + t.Cause
}

// Profiles is what the engine reads of the profile store.
type Profiles interface {
	View(id string, fn func(st *profile.State, ids []event.Identifier)) bool
	Each(fn func(id string, st *profile.State) bool)
	Owner(e *event.Event) (string, bool)
}

// Options configure an Engine.
type Options struct {
	DB       *pebble.DB
	Profiles Profiles
	// Record appends the events of membership changes to the log
	// (segment_entered, segment_exited). Nil drops them (tests, tools).
	Record func(ctx context.Context, ts []Transition) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Engine keeps saved segments live: it is the processor's applier for
// segments, owns the index, the memberships and the timers of time
// windows, and answers the admin API.
//
// Ownership: every field below is guarded by ix.mu: the applier and the
// timer loop hold it for writing, previews and readers for reading.
type Engine struct {
	opts Options
	ix   *Index

	segs    map[string]*saved
	order   []*saved // dependencies first
	loading bool     // building from the log: index only, no evaluation

	timers timerHeap

	pendMu  sync.Mutex
	pending []Transition
	wake    chan struct{}

	// Stats.
	entered, exited atomic.Uint64
	evals           atomic.Uint64
	lastEnter       atomic.Int64 // ns from event processing start to transition, for the latest one

	hist history // sizes per day (history.go); guarded by its own mutex
}

// saved is one saved segment and its membership.
type saved struct {
	def             Definition
	idx             int // position in Engine.order
	members         *roaring.Bitmap
	deps            deps
	due             vec32 // ord → pending timer instant, 0 = none
	dirty           bool  // members changed since the last checkpoint
	entered, exited atomic.Uint64
}

// deps is what a rule's answer depends on, its segments' rules included.
type deps struct {
	events   map[string]bool
	traits   bool
	computed bool
	time     bool // time alone can change the answer
}

// NewEngine returns an engine with an empty index.
func NewEngine(opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Engine{opts: opts, ix: NewIndex(), segs: make(map[string]*saved), wake: make(chan struct{}, 1)}
}

// Index is the engine's index.
func (e *Engine) Index() *Index { return e.ix }

// Name implements processor.Applier.
func (e *Engine) Name() string { return "segments" }

func (e *Engine) resolve(id string) (*Rule, bool) {
	s, ok := e.segs[id]
	if !ok {
		return nil, false
	}
	return s.def.Rule, true
}

// depsOf collects what r depends on. Caller holds ix.mu.
func (e *Engine) depsOf(r *Rule, d *deps, depth int) {
	if d.events == nil {
		d.events = make(map[string]bool)
	}
	r.walk(func(n *Rule) {
		switch n.Kind() {
		case KindTrait:
			d.traits = true
			if n.Op.relative() {
				d.time = true
			}
		case KindComputed:
			d.computed = true
			// Time moves every computed field: the time-typed ones, days
			// since, lifecycle and trailing spend, and any field when an
			// event dated after now comes due.
			d.time = true
		case KindEvent:
			d.events[n.Event] = true
			// Future events enter any window when their time comes.
			d.time = true
		case KindSegment:
			if sub, ok := e.resolve(n.Segment); ok && depth < MaxDepth {
				e.depsOf(sub, d, depth+1)
			}
		}
	})
}

// affected reports whether an event of key (with traits changed or not)
// can change s's answer for the profile.
func (s *saved) affected(key string, system, traits bool) bool {
	return s.deps.events[key] || (s.deps.computed && !system) || (traits && s.deps.traits)
}

// Apply implements processor.Applier: index the event, then re-evaluate
// the profile in the segments that depend on what it changed.
func (e *Engine) Apply(ev *event.Event, r profile.Resolution) {
	start := time.Now()
	ix := e.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	_, known := ix.ordOf[r.Profile]
	ord := ix.ord(r.Profile)
	// A new profile is evaluated in every segment: one that holds for a
	// profile with no events (a "not did") holds for it from the start.
	merged := !known
	for _, m := range r.Merged {
		mo, ok := ix.lookup(m)
		if !ok || mo == ord {
			continue
		}
		for _, s := range e.order {
			if s.members.Contains(mo) {
				s.members.Remove(mo)
				s.dirty = true
			}
		}
		ix.merge(ord, mo)
		merged = true
	}
	ix.add(ord, ev)
	traits := merged || (ev.Type == event.Identify && len(ev.Traits) > 0)
	if traits {
		e.refreshTraits(ord, r.Profile)
	}
	if e.loading || len(e.order) == 0 {
		return
	}
	key := EventKey(ev)
	system := systemEvents[key] && ev.Type == event.Track
	now := e.opts.Now()
	cause := fmt.Sprint(ev.Seq)
	for _, s := range e.order {
		if merged || s.affected(key, system, traits) {
			e.evaluateOne(s, ord, now, cause)
		}
	}
	if n := time.Since(start); n > 0 {
		e.lastEnter.Store(int64(n))
	}
}

// refreshTraits reloads a profile's traits from the profile store. Caller
// holds ix.mu.
func (e *Engine) refreshTraits(ord uint32, id string) {
	if e.opts.Profiles == nil {
		return
	}
	ix := e.ix
	e.opts.Profiles.View(id, func(st *profile.State, _ []event.Identifier) {
		for k, c := range ix.traits {
			if _, ok := st.TraitJSON(k); !ok {
				c.vals.set(int(ord), 0)
			}
		}
		ix.setTraits(ord, st.Traits())
	})
}

// evaluateOne re-evaluates segment s for one profile at now, records a
// transition when the answer changed and schedules the next time-driven
// re-evaluation. Caller holds ix.mu for writing.
func (e *Engine) evaluateOne(s *saved, ord uint32, now time.Time, cause string) {
	e.evals.Add(1)
	sg := newSingle(e.ix, ord, now, e.resolve, false)
	in, _, err := sg.rule(s.def.Rule, "")
	if err != nil {
		slog.Warn("segment: evaluation failed", "segment", s.def.ID, "err", err)
		return
	}
	if in != s.members.Contains(ord) {
		if in {
			s.members.Add(ord)
		} else {
			s.members.Remove(ord)
		}
		s.dirty = true
		e.transition(s, ord, in, now, cause)
	}
	if sg.next != math.MaxInt64 {
		e.schedule(s, ord, sg.next)
	}
}

func (e *Engine) transition(s *saved, ord uint32, in bool, at time.Time, cause string) {
	if in {
		s.entered.Add(1)
		e.entered.Add(1)
	} else {
		s.exited.Add(1)
		e.exited.Add(1)
	}
	t := Transition{Segment: s.def.ID, Name: s.def.Name, Profile: e.ix.ids[ord], Entered: in, At: at, Cause: cause}
	e.pendMu.Lock()
	e.pending = append(e.pending, t)
	e.pendMu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Checkpoint implements processor.Applier: memberships that changed and
// the ordinals assigned since the last checkpoint.
func (e *Engine) Checkpoint(b *pebble.Batch) error {
	ix := e.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for _, s := range e.order {
		if !s.dirty {
			continue
		}
		v, err := s.members.ToBytes()
		if err != nil {
			return fmt.Errorf("segment %q: %w", s.def.ID, err)
		}
		if err := b.Set(store.Key(store.PrefixMembers, s.def.ID), v, nil); err != nil {
			return err
		}
		s.dirty = false
	}
	return e.checkpointOrdinals(b)
}

// ordBlock is how many profile ids one so/ record holds.
const ordBlock = 4096

func (e *Engine) checkpointOrdinals(b *pebble.Batch) error {
	ix := e.ix
	n := len(ix.ids)
	for first := (ix.savedOrds / ordBlock) * ordBlock; first < n; first += ordBlock {
		var v []byte
		for _, id := range ix.ids[first:min(first+ordBlock, n)] {
			v = binary.AppendUvarint(v, uint64(len(id)))
			v = append(v, id...)
		}
		if err := b.Set(ordKey(first), v, nil); err != nil {
			return err
		}
	}
	ix.savedOrds = n
	return nil
}

func ordKey(first int) []byte {
	return binary.BigEndian.AppendUint32(store.Key(store.PrefixOrdinals, ""), uint32(first))
}

// Load reads the saved segments, their memberships and the ordinals from
// the store, then builds the index from the log up to seq upTo (the
// processor's checkpoint), attributing each event to the profile that now
// holds its primary identifier. Live evaluation waits for Start.
func (e *Engine) Load(ctx context.Context, src interface {
	ReplayAll(ctx context.Context, after uint64, fn func(eventlog.Entry) error) error
}, upTo uint64, progress func(n uint64)) error {
	ix := e.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e.loading = true
	db := e.opts.DB
	if db != nil {
		if err := e.loadDefinitions(db); err != nil {
			return err
		}
		if err := e.loadOrdinals(db); err != nil {
			return err
		}
	}
	if e.opts.Profiles != nil {
		e.opts.Profiles.Each(func(id string, st *profile.State) bool {
			o := ix.ord(id)
			ix.alive.Add(o)
			ix.setTraits(o, st.Traits())
			return true
		})
	}
	// Ordinals of profiles merged away before this start stay dead.
	for o := range ix.ids {
		if !ix.alive.Contains(uint32(o)) {
			ix.canon[o] = uint32(o)
		}
	}
	if db != nil {
		for _, s := range e.order {
			if err := e.loadMembers(db, s); err != nil {
				return err
			}
		}
	}
	if src == nil || upTo == 0 {
		return nil
	}
	var n uint64
	err := src.ReplayAll(ctx, 0, func(en eventlog.Entry) error {
		if en.Seq > upTo {
			return errStop
		}
		ev, err := event.DecodeStored(en.Value)
		if err != nil {
			return nil // the processor counts and logs corrupt entries
		}
		id, ok := e.opts.Profiles.Owner(&ev)
		if !ok {
			return nil
		}
		ix.add(ix.ord(id), &ev)
		n++
		if progress != nil && n%500000 == 0 {
			progress(n)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("segment index from the log: %w", err)
	}
	return nil
}

var errStop = errors.New("stop")

func (e *Engine) loadDefinitions(db *pebble.DB) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixSegment), UpperBound: store.UpperBound(store.PrefixSegment)})
	if err != nil {
		return err
	}
	defer it.Close()
	var defs []Definition
	for it.First(); it.Valid(); it.Next() {
		var d Definition
		if err := json.Unmarshal(it.Value(), &d); err != nil {
			return fmt.Errorf("segment %s: %w", it.Key(), err)
		}
		if d.Rule == nil || d.Rule.Validate() != nil {
			slog.Error("segment: stored rule is invalid; skipped", "segment", d.ID)
			continue
		}
		defs = append(defs, d)
	}
	for _, d := range defs {
		e.segs[d.ID] = &saved{def: d, members: roaring.New()}
	}
	e.reorder()
	return nil
}

func (e *Engine) loadOrdinals(db *pebble.DB) error {
	ix := e.ix
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixOrdinals), UpperBound: store.UpperBound(store.PrefixOrdinals)})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(store.PrefixOrdinals):]
		if len(k) != 4 || int(binary.BigEndian.Uint32(k)) != len(ix.ids) {
			return fmt.Errorf("segment ordinals: block %x out of order", k)
		}
		v := it.Value()
		for len(v) > 0 {
			l, n := binary.Uvarint(v)
			if n <= 0 || uint64(len(v)-n) < l {
				return fmt.Errorf("segment ordinals: corrupt block %x", k)
			}
			id := string(v[n : n+int(l)])
			v = v[n+int(l):]
			o := uint32(len(ix.ids))
			ix.ordOf[id] = o
			ix.ids = append(ix.ids, id)
			ix.canon = append(ix.canon, o)
		}
	}
	ix.savedOrds = len(ix.ids)
	return nil
}

func (e *Engine) loadMembers(db *pebble.DB, s *saved) error {
	v, closer, err := db.Get(store.Key(store.PrefixMembers, s.def.ID))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	b := roaring.New()
	if _, err := b.FromBuffer(slices.Clone(v)); err != nil {
		return fmt.Errorf("segment %q members: %w", s.def.ID, err)
	}
	b.And(&e.ix.alive)
	s.members = b
	return nil
}

// reorder sorts the saved segments so that every segment comes after the
// ones it refers to. Caller holds ix.mu for writing.
func (e *Engine) reorder() {
	e.order = e.order[:0]
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(s *saved)
	visit = func(s *saved) {
		if state[s.def.ID] != 0 {
			return
		}
		state[s.def.ID] = 1
		for _, id := range s.def.Rule.Segments() {
			if d, ok := e.segs[id]; ok {
				visit(d)
			}
		}
		state[s.def.ID] = 2
		s.idx = len(e.order)
		e.order = append(e.order, s)
	}
	ids := make([]string, 0, len(e.segs))
	for id := range e.segs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		visit(e.segs[id])
	}
	for _, s := range e.order {
		s.deps = deps{}
		e.depsOf(s.def.Rule, &s.deps, 0)
	}
}

// Start ends loading: every saved segment is evaluated in full at now,
// profiles whose membership changed while Tailor was down (time windows
// moved, events replayed) get their transitions, and the timers of time
// windows are set. Then it runs the timer and recording loops until ctx
// ends.
func (e *Engine) Start(ctx context.Context) {
	e.begin()
	go e.timerLoop(ctx)
	go e.recordLoop(ctx)
	go e.modelLoop(ctx)
}

// begin is Start without the loops (tests drive timers with Tick).
func (e *Engine) begin() {
	ix := e.ix
	ix.mu.Lock()
	e.loading = false
	now := e.opts.Now()
	// The models first: the segments that rank by them evaluate with them.
	e.computeModels(now)
	for _, s := range e.order {
		if err := e.refresh(s, now, "start-"+fmt.Sprint(now.Unix()), true); err != nil {
			slog.Error("segment: evaluation failed", "segment", s.def.ID, "err", err)
		}
	}
	ix.mu.Unlock()
}

// refresh evaluates s in full at now, records the differences with its
// current members (when emit) and sets its timers. Caller holds ix.mu for
// writing.
func (e *Engine) refresh(s *saved, now time.Time, cause string, emit bool) error {
	ev := newEvaluation(e.ix, now, e.resolve, s.deps.time)
	b, err := ev.rule(s.def.Rule, "")
	if err != nil {
		return err
	}
	if emit {
		in := roaring.AndNot(b, s.members)
		out := roaring.AndNot(s.members, b)
		for it := in.Iterator(); it.HasNext(); {
			e.transition(s, it.Next(), true, now, cause)
		}
		for it := out.Iterator(); it.HasNext(); {
			e.transition(s, it.Next(), false, now, cause)
		}
	}
	s.members = b
	s.dirty = true
	s.due = vec32{}
	if ev.track {
		for o, t := range ev.next {
			if t != 0 && e.ix.alive.Contains(uint32(o)) {
				e.schedule(s, uint32(o), int64(t))
			}
		}
	}
	return nil
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
