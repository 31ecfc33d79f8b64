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
	"strconv"
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
	// Since is when the event that caused it was received (zero when time
	// or a rule change caused it), for the latency metric.
	Since time.Time
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
	// Models are the lifecycle thresholds (zero fields: the defaults).
	Models ModelOptions
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
	// prepared: Prepare ran; fed: the profiles came through LoadProfile.
	prepared, fed bool

	timers timerHeap
	// numbered holds the segments by number (saved.num), nil for one
	// replaced or deleted; 0 is no segment. reorder keeps it.
	numbered []*saved
	// fired is the instant (unix seconds) up to which due timers have
	// fired: memberships are those of that instant as far as time goes.
	// The checkpoint keeps it, and Begin after a restart evaluates at it,
	// so that the changes time made later are recorded by the timers with
	// the same causes (message ids) they had before a crash, not twice.
	fired, resumeAt int64
	plans           planCache // compiled saved rules, for single evaluations
	sgBuf           single    // the single evaluation singleFor hands out
	// byKey caches affectedBy; traitSegs lists the segments that read
	// traits. Both are in dependency order and rebuilt by reorder.
	byKey     map[string][]*saved
	traitSegs []*saved
	// causeAt is the receipt time of the event being applied, zero outside
	// Apply.
	causeAt  time.Time
	causeSeq uint64

	pendMu  sync.Mutex
	pending []Transition
	wake    chan struct{}

	// Stats.
	entered, exited atomic.Uint64
	evals           atomic.Uint64

	hist history // sizes per day (history.go); guarded by its own mutex

	// pred is the last prediction fit (predictions.go), nil before one.
	pred   *Predictions
	report reportCache // the predictions page's last report; its own mutex
	// refreshMu serializes RefreshModels (the hourly loop, a refit asked
	// for, the demo loader), so that a slower fit never installs an older
	// snapshot over a newer one.
	refreshMu sync.Mutex
}

// saved is one saved segment and its membership.
type saved struct {
	def             Definition
	fresh           bool   // no checkpointed members (saved since the last checkpoint)
	idx             int    // position in Engine.order
	num             uint32 // in Engine.numbered, for timers; 0 until reorder numbers it
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
	computed bool // a computed field any customer event changes
	orders   bool // a computed field only orders change
	time     bool // time alone can change the answer
	reach    bool // a reachability condition: SetReachable can change the answer
}

// NewEngine returns an engine with an empty index.
func NewEngine(opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Engine{opts: opts, ix: NewIndex(), segs: make(map[string]*saved), numbered: []*saved{nil}, wake: make(chan struct{}, 1), plans: planCache{owned: true}}
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
			if orderFields[n.Computed] {
				d.orders = true
			} else {
				d.computed = true
			}
			if n.Computed == FieldBestSendHour {
				d.traits = true // the timezone trait
			}
			// Time moves every computed field: the time-typed ones, days
			// since, lifecycle and trailing spend, and any field when an
			// event dated after now comes due.
			d.time = true
		case KindEvent:
			d.events[n.Event] = true
			// Future events enter any window when their time comes.
			d.time = true
		case KindReachable:
			d.reach = true
		case KindSegment:
			if sub, ok := e.resolve(n.Segment); ok && depth < MaxDepth {
				e.depsOf(sub, d, depth+1)
			}
		}
	})
}

// SetReachableByDefault sets the channels a profile consent has not told
// about is reachable on (consent's opt-out channels). Call it before Load.
func (e *Engine) SetReachableByDefault(channels []string) {
	e.ix.mu.Lock()
	defer e.ix.mu.Unlock()
	e.ix.reachDefault = slices.Clone(channels)
}

// SetReachable records the channels profile id may get marketing messages
// on, as consent decided after the event of log seq cause (0: none, at
// start), and re-evaluates the profile in the segments that ask. It is the
// reach column's only writer: consent calls it on the processor goroutine,
// after this engine applied the same event, whenever its answer for the
// profile changes; the server calls it at start with consent's state.
func (e *Engine) SetReachable(id string, channels []string, cause uint64) {
	ix := e.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ord := ix.ord(id)
	if !ix.setReach(ord, channels) || e.loading || len(e.order) == 0 {
		return
	}
	e.causeSeq = cause
	sg := e.singleFor(ord, e.opts.Now())
	for _, s := range e.order {
		if s.deps.reach {
			e.evaluateWith(sg, s, "")
		}
	}
}

// affected reports whether an event of key (with traits changed or not)
// can change s's answer for the profile.
// affectedBy lists, in dependency order, the saved segments an event of
// key can change (traits aside), computed once per key and saved set.
// Caller holds ix.mu for writing.
func (e *Engine) affectedBy(key string, system bool) []*saved {
	if l, ok := e.byKey[key]; ok {
		return l
	}
	var l []*saved
	for _, s := range e.order {
		if s.affected(key, system, false) {
			l = append(l, s)
		}
	}
	if e.byKey == nil {
		e.byKey = make(map[string][]*saved)
	}
	if len(e.byKey) < MaxStreams {
		e.byKey[key] = l
	}
	return l
}

func (s *saved) affected(key string, system, traits bool) bool {
	return s.deps.events[key] || (s.deps.computed && !system) || (s.deps.orders && key == event.OrderCompleted) ||
		(traits && s.deps.traits)
}

// orderFields are the computed fields only Order Completed events change.
var orderFields = map[string]bool{
	"orders": true, "total_spend": true, "average_order_value": true, "first_order": true, "last_order": true,
	"days_since_last_order": true, FieldRFM: true, FieldRFMRecency: true, FieldRFMFrequency: true,
	FieldRFMMonetary: true, FieldSpendTier: true, FieldLifecycle: true,
}

// Apply implements processor.Applier: index the event, then re-evaluate
// the profile in the segments that depend on what it changed.
func (e *Engine) Apply(ev *event.Event, r profile.Resolution) {
	ix := e.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ord, known := ix.ordKnown(r.Profile)
	// A new profile is evaluated in every segment (one that holds for a
	// profile with no events, a "not did", holds for it from the start),
	// and so is a profile that others merged into.
	every := !known
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
		every = true
	}
	key := EventKey(ev)
	ix.add(ord, ev, key)
	traits := every || (ev.Type == event.Identify && len(ev.Traits) > 0)
	if traits {
		e.refreshTraits(ord, r.Profile)
	}
	if e.loading || len(e.order) == 0 {
		return
	}
	system := systemEvents[key] && ev.Type == event.Track
	now := e.opts.Now()
	cause := "" // the event's seq, spelled out only for a transition
	e.causeAt, e.causeSeq = ev.ReceivedAt, ev.Seq
	sg := e.singleFor(ord, now)
	if every {
		for _, s := range e.order {
			e.evaluateWith(sg, s, cause)
		}
	} else {
		byKey := e.affectedBy(key, system)
		if !traits {
			for _, s := range byKey {
				e.evaluateWith(sg, s, cause)
			}
		} else {
			// Both lists are in dependency order: merge them.
			byTraits := e.traitSegs
			for len(byKey) > 0 || len(byTraits) > 0 {
				var s *saved
				switch {
				case len(byTraits) == 0 || len(byKey) > 0 && byKey[0].idx < byTraits[0].idx:
					s, byKey = byKey[0], byKey[1:]
				case len(byKey) == 0 || byTraits[0].idx < byKey[0].idx:
					s, byTraits = byTraits[0], byTraits[1:]
				default: // the same segment in both
					s, byKey, byTraits = byKey[0], byKey[1:], byTraits[1:]
				}
				e.evaluateWith(sg, s, cause)
			}
		}
	}
	e.causeAt = time.Time{}
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
	e.evaluateWith(e.singleFor(ord, now), s, cause)
}

// singleFor prepares the evaluation of one profile at now, for one or more
// saved segments (the profile's aggregates are read once).
func (e *Engine) singleFor(ord uint32, now time.Time) *single {
	sg := &e.sgBuf // reused: evaluations run one at a time, under ix.mu
	*sg = single{ix: e.ix, now: now.Unix(), ord: ord, resolve: e.resolve, next: math.MaxInt64, cache: &e.plans}
	return sg
}

// evaluateWith is evaluateOne with a prepared single evaluation.
func (e *Engine) evaluateWith(sg *single, s *saved, cause string) {
	e.evals.Add(1)
	ord, now := sg.ord, time.Unix(sg.now, 0)
	sg.next, sg.depth = math.MaxInt64, 0
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
	e.noteHistory(s, in, at)
	if in {
		s.entered.Add(1)
		e.entered.Add(1)
	} else {
		s.exited.Add(1)
		e.exited.Add(1)
	}
	if cause == "" {
		cause = strconv.FormatUint(e.causeSeq, 10)
	}
	t := Transition{Segment: s.def.ID, Name: s.def.Name, Profile: e.ix.id(ord), Entered: in, At: at, Cause: cause, Since: e.causeAt}
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
	if e.fired > 0 {
		if err := b.Set(firedKey, binary.BigEndian.AppendUint64(nil, uint64(e.fired)), nil); err != nil {
			return err
		}
	}
	if err := e.checkpointOrdinals(b); err != nil {
		return err
	}
	if err := e.checkpointHistory(b); err != nil {
		return err
	}
	return e.checkpointStreams(b)
}

// ordBlock is how many profile ids one so/ record holds.
const ordBlock = 4096

func (e *Engine) checkpointOrdinals(b *pebble.Batch) error {
	ix := e.ix
	n := ix.nords()
	write := func(first int) error {
		var v []byte
		for o := first; o < min(first+ordBlock, n); o++ {
			id := ix.id(uint32(o))
			v = binary.AppendUvarint(v, uint64(len(id)))
			v = append(v, id...)
			v = binary.AppendUvarint(v, uint64(ix.canon[o]))
		}
		return b.Set(ordKey(first), v, nil)
	}
	for blk := range ix.dirtyOrds {
		if first := blk * ordBlock; first < (ix.savedOrds/ordBlock)*ordBlock {
			if err := write(first); err != nil {
				return err
			}
		}
	}
	clear(ix.dirtyOrds)
	for first := (ix.savedOrds / ordBlock) * ordBlock; first < n; first += ordBlock {
		if err := write(first); err != nil {
			return err
		}
	}
	ix.savedOrds = n
	return nil
}

func ordKey(first int) []byte {
	return binary.BigEndian.AppendUint32(store.Key(store.PrefixOrdinals, ""), uint32(first))
}

// Prepare reads the saved segments, the ordinals and the size history from
// the store. A server calls it before the profile store loads, feeds each
// loaded profile to LoadProfile, then calls Load; Load prepares by itself
// when nobody did.
func (e *Engine) Prepare() error {
	ix := e.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e.prepared = true
	db := e.opts.DB
	if db == nil {
		return nil
	}
	if err := e.loadDefinitions(db); err != nil {
		return err
	}
	if err := e.loadOrdinals(db); err != nil {
		return err
	}
	e.loadPredictions(db)
	return e.loadHistory(db)
}

// LoadProfile takes one profile as the profile store loads it (its traits,
// and that it exists), after Prepare and before Load. It runs on the
// loading goroutine, before anything else uses the engine.
func (e *Engine) LoadProfile(id string, st *profile.State) {
	e.fed = true
	e.loadProfile(id, st)
}

func (e *Engine) loadProfile(id string, st *profile.State) {
	ix := e.ix
	o := ix.ord(id)
	ix.alive.Add(o)
	ix.setTraits(o, st.Traits())
}

// Load reads the memberships and the index's columns from the store
// (persist.go), after Prepare. A data directory without
// persisted columns (written before they were) has its index built from
// the log up to seq upTo (the processor's checkpoint) instead, each event
// attributed to the profile that now holds its primary identifier. Live
// evaluation waits for Start.
func (e *Engine) Load(ctx context.Context, src interface {
	ReplayAll(ctx context.Context, after uint64, fn func(eventlog.Entry) error) error
}, upTo uint64, progress func(n uint64)) error {
	if !e.prepared {
		if err := e.Prepare(); err != nil {
			return err
		}
	}
	ix := e.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e.loading = true
	db := e.opts.DB
	if db != nil {
		found, err := e.loadStreams(db)
		if err != nil {
			// The log is the source of truth: an index that cannot be
			// read is rebuilt from it, not a reason not to start.
			slog.Warn("segment index: the persisted columns cannot be read; rebuilding them from the log", "err", err)
			ix.resetStreams()
			found = false
		}
		if found {
			src = nil // the columns are up to date with upTo: no log scan
		} else {
			ix.staleColumns = true // whatever is under si/ is not this index
		}
	}
	if !e.fed && e.opts.Profiles != nil {
		e.opts.Profiles.Each(func(id string, st *profile.State) bool {
			e.loadProfile(id, st)
			return true
		})
	}
	if db != nil {
		for _, s := range e.order {
			if err := e.loadMembers(db, s); err != nil {
				return err
			}
		}
		if err := e.loadFired(db); err != nil {
			return err
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
		ix.add(ix.ord(id), &ev, EventKey(&ev))
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
		if len(k) != 4 || int(binary.BigEndian.Uint32(k)) != ix.nords() {
			return fmt.Errorf("segment ordinals: block %x out of order", k)
		}
		v := it.Value()
		for len(v) > 0 {
			l, n := binary.Uvarint(v)
			if n <= 0 || uint64(len(v)-n) < l {
				return fmt.Errorf("segment ordinals: corrupt block %x", k)
			}
			id := v[n : n+int(l)]
			v = v[n+int(l):]
			c, m := binary.Uvarint(v)
			if m <= 0 {
				return fmt.Errorf("segment ordinals: corrupt block %x", k)
			}
			v = v[m:]
			if ix.ids.intern(kindString, string(id), 0); ix.ids.len() != len(ix.canon)+1 {
				return fmt.Errorf("segment ordinals: profile %q twice", id)
			}
			ix.canon = append(ix.canon, uint32(c))
		}
	}
	lists := map[uint32][]uint32{}
	for o, c := range ix.canon {
		if int(c) >= ix.nords() {
			return fmt.Errorf("segment ordinals: ordinal %d belongs to %d, past the last", o, c)
		}
		if int(c) != o {
			lists[c] = append(lists[c], uint32(o))
			ix.dead = append(ix.dead, uint32(o))
		}
	}
	ix.merged = mergedListsOf(lists)
	ix.savedOrds = ix.nords()
	return nil
}

// firedKey keeps Engine.fired; "!" is in no segment id.
var firedKey = store.Key(store.PrefixMembers, "!fired")

func (e *Engine) loadFired(db *pebble.DB) error {
	v, closer, err := db.Get(firedKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if len(v) != 8 {
		return fmt.Errorf("segment timers: corrupt instant %x", v)
	}
	e.resumeAt = int64(binary.BigEndian.Uint64(v))
	return nil
}

func (e *Engine) loadMembers(db *pebble.DB, s *saved) error {
	v, closer, err := db.Get(store.Key(store.PrefixMembers, s.def.ID))
	if errors.Is(err, pebble.ErrNotFound) {
		s.fresh = true
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

// number gives each segment of segs a number the first time it is seen and
// clears the numbers of segments no longer there (replaced or deleted), so
// that their timers find none. A segment put back (a failed save restores
// the one it replaced) gets its number back.
func (e *Engine) number() {
	for _, s := range e.segs {
		if s.num == 0 {
			s.num = uint32(len(e.numbered))
			e.numbered = append(e.numbered, s)
		} else {
			e.numbered[s.num] = s
		}
	}
	for i, s := range e.numbered {
		if s != nil && e.segs[s.def.ID] != s {
			e.numbered[i] = nil
		}
	}
}

// reorder sorts the saved segments so that every segment comes after the
// ones it refers to. Caller holds ix.mu for writing.
func (e *Engine) reorder() {
	e.number()
	e.plans.reset()
	e.byKey = nil
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
	e.traitSegs = e.traitSegs[:0]
	pinned := make(map[string]bool)
	for _, s := range e.order {
		s.deps = deps{}
		e.depsOf(s.def.Rule, &s.deps, 0)
		if s.deps.traits {
			e.traitSegs = append(e.traitSegs, s)
		}
		s.def.Rule.walk(func(n *Rule) {
			if n.Kind() != KindEvent {
				return
			}
			for _, f := range n.Where {
				pinned[pinKey(n.Event, f.Property)] = true
			}
			if n.Of != "" {
				pinned[pinKey(n.Event, n.Of)] = true
			}
		})
	}
	e.ix.pinned = pinned
}

// Start runs the timer, recording and model loops until ctx ends, after
// Begin if nobody called it.
func (e *Engine) Start(ctx context.Context) {
	if e.loading {
		e.Begin()
	}
	go e.timerLoop(ctx)
	go e.recordLoop(ctx)
	go e.modelLoop(ctx)
}

// Begin ends loading: every saved segment is evaluated in full at now
// against the memberships of the checkpoint, and the timers are set. The
// server calls it before the processor replays the log after the
// checkpoint, so the replayed events are evaluated live as they were
// before a crash: the transitions they cause get the same message ids, and
// the log's de-duplication records them once.
func (e *Engine) Begin() {
	ix := e.ix
	ix.mu.Lock()
	e.loading = false
	// At the checkpoint's instant, not now: what time changed since is
	// the timers' to record (they fire at once for what is past due),
	// with the causes they had if they fired before a crash. A segment
	// saved since the checkpoint enters nobody, as when it was saved.
	now := e.opts.Now()
	if e.resumeAt > 0 && e.resumeAt < now.Unix() {
		now = time.Unix(e.resumeAt, 0)
	}
	// The models first: the segments that rank by them evaluate with them.
	e.computeModels(now)
	for _, s := range e.order {
		if err := e.refresh(s, now, "start-"+fmt.Sprint(now.Unix()), !s.fresh); err != nil {
			slog.Error("segment: evaluation failed", "segment", s.def.ID, "err", err)
		}
		s.fresh = false
	}
	e.fired = now.Unix()
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

// LockWaited reports how often writers of the segment index (the processor, an
// admin write) found its lock held, and how long they waited in all.
func (e *Engine) LockWaited() (uint64, time.Duration) { return e.ix.mu.Waited() }
