package journey

import (
	"container/heap"
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/outbox"
	"tailor/internal/profile"
	"tailor/internal/segment"
)

// Message and Enqueuer are the outbox's: journeys hand their sends to it.
type (
	Message  = outbox.Message
	Enqueuer = outbox.Enqueuer
)

// Record is an event the engine appends to the log (through the server's
// ingest.AppendInternal): timer firings, which the engine acts on when they
// are applied, and the journey events for timelines and stats.
type Record struct {
	// Profile is the profile id; the server writes its userId (else an
	// anonymousId). Empty: AnonymousID is used as it is (the scheduler).
	Profile     string
	AnonymousID string
	Type        string // "track" or "identify"
	Event       string
	MessageID   string
	At          time.Time
	Properties  map[string]any
	Traits      map[string]any
}

// Event names the engine records.
const (
	EventStep      = "Journey Step"
	EventExposure  = "Experiment Viewed" // an ab step's exposure, as package experiment reads it
	EventEntered   = "Journey Entered"
	EventExited    = "Journey Exited"
	EventConverted = "Journey Converted"
)

// Kinds of Journey Step events the engine acts on.
const (
	kindTimer    = "timer"
	kindSchedule = "schedule"
	kindAPI      = "api"
)

// internalSource is ingest.InternalSource: only Tailor's own events may
// move journeys along (a client cannot forge a timer firing).
const internalSource = "tailor"

// SchedulerID is the anonymousId of the events that fire scheduled
// broadcasts (they belong to no customer).
const SchedulerID = "tailor-journey-scheduler"

// Segments is what the engine reads of the segment engine.
type Segments interface {
	Holds(r *segment.Rule, profileID string, at time.Time) (bool, error)
	Members(id, cursor string, limit int) ([]string, string, error)
}

// Profiles is what the engine reads of the profile store (the timezone
// trait of wait_until).
type Profiles interface {
	View(id string, fn func(st *profile.State, ids []event.Identifier)) bool
}

// Assigner is what an ab step needs of the experiment engine: the variant
// of a running experiment for a profile (ok false when it is not running).
type Assigner interface {
	Assign(experimentID, unit string) (variant string, ok bool)
}

// Options configure an Engine.
type Options struct {
	DB *pebble.DB
	// SegmentExists says whether a saved segment exists (nil: not checked).
	SegmentExists func(id string) bool
	Outbox        Enqueuer
	Record        func(ctx context.Context, rs []Record) error
	Segments      Segments
	Profiles      Profiles
	// Event reads a logged event back (the trigger of a run, whose
	// properties a later send carries); nil sends without them.
	Event func(partition int, seq uint64) ([]byte, error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Horizon is how far ahead the in-memory timer heap reaches when the
	// engine has a store (default 10 minutes): later timers wait under jt/
	// and come in as time moves on.
	Horizon time.Duration
	// Experiments assigns the variants of ab steps (nil: every profile
	// takes the step's Else).
	Experiments Assigner
	// ExperimentVariants returns an experiment's variant ids, control
	// first, for checking send steps' templates per variant when a
	// journey is saved (nil: not checked).
	ExperimentVariants func(id string) (ids []string, running bool, err error)
	// GlobalHoldoutExperiment is the experiment (kind holdout, profile
	// bucketing, control "held_out") that measures the global holdout:
	// while it runs, it decides who is held out, by the same buckets as
	// GlobalHoldout, and each profile entering a journey is logged as
	// exposed to it once. Empty or not running: GlobalHoldout decides.
	GlobalHoldoutExperiment string
	// GlobalHoldout is the percentage of all profiles (InGlobalHoldout)
	// that never get journey sends; they are counted as held out.
	GlobalHoldout float64
	// TimeScale, above 1, makes journey time run that many times faster:
	// waits, wait_event timeouts, the time to a wait_until's clock, goal
	// windows and once_per periods are divided by it (86400: a day lasts
	// a second). It exists so that end-to-end tests can walk the shipped
	// journeys without waiting real hours; schedules keep wall-clock time.
	// A store must be used with one scale: a replay of its log under
	// another would decide differently.
	TimeScale float64
}

// Run flags.
const (
	fActive  uint8 = 1 << iota // in the steps (or held out and waiting for the goal window to end)
	fWatch                     // out of the steps, goal window still open
	fHoldout                   // held out: no steps, only the goal is watched
	fEver                      // entered at least once (entry rule "once")
	fFiring                    // its timer was handed to Record, not yet applied
)

// run is one profile's state in one journey: 40 bytes, so that a million
// waiting profiles cost tens of megabytes.
type run struct {
	entry   uint64 // log seq of the event that let it in
	sub     uint32 // position in a broadcast, 0 otherwise
	due     uint32 // pending timer, unix seconds; 0 none
	saved   uint32 // due as written under jt/ at the last checkpoint
	entered uint32 // last entry, unix seconds
	goalBy  uint32 // end of the goal window, unix seconds; 0 none
	part    uint16 // log partition of the entry event
	ver     uint16
	step    uint16 // current step (index in its version)
	lastMsg uint16 // index+1 of the step that sent the last message
	flags   uint8
}

type runKey struct {
	prof string
	j    uint16
}

// timer is a heap entry: look at run k at instant at.
type timer struct {
	at uint32
	k  runKey
}

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// compiled is one version ready to run.
type compiled struct {
	def   *Journey
	index map[string]uint16
	start uint16
	goal  time.Duration
	per   time.Duration // once_per period
}

func compile(j *Journey, scale float64) *compiled {
	c := &compiled{def: j, index: make(map[string]uint16, len(j.Steps))}
	for i, s := range j.Steps {
		c.index[s.ID] = uint16(i)
	}
	c.start = c.index[j.Start]
	if j.Goal != nil {
		c.goal, _ = duration(j.Goal.Within)
		c.goal = scaled(c.goal, scale)
	}
	if j.Entry.Rule == EntryOncePer {
		c.per, _ = duration(j.Entry.Period)
		c.per = scaled(c.per, scale)
	}
	return c
}

// scaled is d in journey time (Options.TimeScale).
func scaled(d time.Duration, scale float64) time.Duration {
	if scale <= 1 {
		return d
	}
	return time.Duration(float64(d) / scale)
}

// next returns the index of step id, and whether there is one.
func (c *compiled) next(id string) (uint16, bool) {
	if id == "" {
		return 0, false
	}
	i, ok := c.index[id]
	return i, ok
}

// jstate is one journey: its versions, status and figures.
type jstate struct {
	id        string
	ord       uint16
	status    string
	versions  map[int]*compiled
	cur       *compiled
	stats     *Stats
	dirty     bool  // stats changed since the last checkpoint
	lastFired int64 // last schedule firing applied, unix seconds
	requested int64 // last schedule firing handed to Record
}

// Engine runs the journeys. It is a processor applier; the API, the timer
// loop and the senders take mu.
type Engine struct {
	opts Options

	mu sync.Mutex
	// sending is held by Flush from taking the pending sends until the
	// outbox has them, and by Checkpoint before mu: a checkpoint never
	// saves runs whose sends are in neither e.sends nor the outbox, which
	// a crash right then would lose.
	sending  sync.Mutex
	journeys map[string]*jstate
	byOrd    []*jstate
	// byEvent lists the journeys an event name may concern (trigger,
	// goal, wait_event), so most events cost one map look-up.
	byEvent map[string][]*jstate
	runs    map[runKey]run
	timers  timerHeap
	// horizon (unix seconds; 0: none, every timer is in the heap): the heap
	// holds the timers due before it. A later one is under jt/ once a
	// checkpoint wrote it; until the checkpoint after that one it is also in
	// farNew, then farOld, so that moving the horizon finds it either way.
	horizon        uint32
	farNew, farOld []timer
	// backlog holds, in due order, the timers that fell due while the
	// engine was stopped (found by Load). They are late already; handed
	// over after the heap's due timers, a little at each tick, they do
	// not make the timers falling due after the start late too.
	backlog []timer
	cpGen   uint64         // checkpoints taken
	dirty   map[runKey]run // changed since the last checkpoint, as put
	// cpMu orders the two parts of checkpoints (see CheckpointSplit);
	// frozen is the change set a checkpoint's second part writes, nil
	// once it did.
	cpMu      sync.Mutex
	frozen    map[runKey]run
	frozenGen uint64            // swaps of dirty into frozen
	gone      map[runKey]uint32 // deleted runs and their saved timer instant
	// firstNew and firstOld are the messages (firstKey) whose first open
	// or click the figures counted since the last checkpoint and in the
	// checkpoint before it, whose batch may not be committed yet; those
	// of older checkpoints are under ju/ (see countsOnce).
	firstNew, firstOld map[string]struct{}
	locs               map[string]*time.Location

	sends   []Message
	records []Record
	// counting, in a dry run's sandbox, counts sends by channel instead.
	counting map[string]int
	wake     chan struct{}
}

// New returns an engine; call Load before the processor replays.
func New(opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Horizon <= 0 {
		opts.Horizon = 10 * time.Minute
	}
	return &Engine{opts: opts, journeys: make(map[string]*jstate), byEvent: make(map[string][]*jstate),
		runs: make(map[runKey]run), dirty: make(map[runKey]run), gone: make(map[runKey]uint32),
		firstNew: make(map[string]struct{}), firstOld: make(map[string]struct{}),
		locs: make(map[string]*time.Location), wake: make(chan struct{}, 1)}
}

// Name implements processor.Applier.
func (e *Engine) Name() string { return "journeys" }

// install adds or replaces journey j's version in memory. Caller holds mu.
func (e *Engine) install(j *Journey) *jstate {
	js := e.journeys[j.ID]
	if js == nil {
		js = &jstate{id: j.ID, ord: uint16(len(e.byOrd)), versions: make(map[int]*compiled), stats: newStats()}
		e.journeys[j.ID] = js
		e.byOrd = append(e.byOrd, js)
	}
	c := compile(j, e.opts.TimeScale)
	js.versions[j.Version] = c
	if js.cur == nil || j.Version >= js.cur.def.Version {
		js.cur = c
		js.status = j.Status
	}
	e.reindex()
	return js
}

// reindex rebuilds byEvent from every version of every journey (a run on
// an old version still waits for its events). Caller holds mu.
func (e *Engine) reindex() {
	e.byEvent = make(map[string][]*jstate)
	add := func(name string, js *jstate) {
		l := e.byEvent[name]
		if len(l) == 0 || l[len(l)-1] != js {
			e.byEvent[name] = append(l, js)
		}
	}
	for _, js := range e.byOrd {
		if js == nil {
			continue
		}
		for _, c := range js.versions {
			t := c.def.Trigger
			switch t.Type {
			case TriggerEvent:
				add(t.Event, js)
			case TriggerSegmentEntered:
				add(segment.EventEntered, js)
			case TriggerSegmentExited:
				add(segment.EventExited, js)
			}
			if c.def.Goal != nil {
				add(c.def.Goal.Event, js)
			}
			for _, s := range c.def.Steps {
				if s.Type == StepWaitEvent {
					add(s.Event, js)
				}
			}
		}
	}
}

// Apply implements processor.Applier.
func (e *Engine) Apply(ev *event.Event, r profile.Resolution) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range r.Merged {
		e.mergeProfile(m, r.Profile)
	}
	now := ev.ReceivedAt
	if now.IsZero() {
		now = ev.Timestamp
	}
	if ev.Type != event.Track {
		return
	}
	if ev.Event == EventStep {
		if ev.SourceID == internalSource {
			e.applyStep(ev, r.Profile, now)
		}
		return
	}
	if f := trackedEvents[ev.Event]; f != nil && ev.SourceID == internalSource {
		e.applyTracked(ev, f, now)
	}
	for _, js := range e.byEvent[ev.Event] {
		e.applyEvent(js, ev, r.Profile, now)
	}
}

// applyEvent folds one customer event into one journey: a goal, a
// wait_event step, a trigger. Caller holds mu.
func (e *Engine) applyEvent(js *jstate, ev *event.Event, prof string, now time.Time) {
	k := runKey{prof, js.ord}
	rn, ok := e.runs[k]
	if ok && rn.flags&(fActive|fWatch) != 0 {
		if c := js.versions[int(rn.ver)]; c != nil {
			g := c.def.Goal
			if g != nil && g.Event == ev.Event && uint32(now.Unix()) <= rn.goalBy && segment.MatchFilters(g.Where, ev.Properties, now) {
				e.convert(js, c, k, &rn, ev, now)
				e.put(k, rn)
				return
			}
			if rn.flags&fActive != 0 && rn.flags&fHoldout == 0 {
				s := c.def.Steps[rn.step]
				if s.Type == StepWaitEvent && s.Event == ev.Event && segment.MatchFilters(s.Where, ev.Properties, now) {
					e.leaveWait(js, s, &rn)
					e.advance(js, c, k, &rn, s.Next, now, ev)
					e.put(k, rn)
					return
				}
			}
		}
	}
	if js.status != StatusLive {
		return
	}
	t := js.cur.def.Trigger
	switch t.Type {
	case TriggerEvent:
		if t.Event != ev.Event || !segment.MatchFilters(t.Where, ev.Properties, now) {
			return
		}
	case TriggerSegmentEntered, TriggerSegmentExited:
		want := segment.EventEntered
		if t.Type == TriggerSegmentExited {
			want = segment.EventExited
		}
		if ev.Event != want || ev.SourceID != internalSource || ev.Properties["segment_id"] != t.Segment {
			return
		}
	default:
		return
	}
	e.enter(js, prof, now, ev.Seq, 0, ev.Partition, ev)
}

// applyTracked counts a delivery or tracking event of a journey's message
// for its step and day; an open or a click only when it is the message's
// first. Caller holds mu.
func (e *Engine) applyTracked(ev *event.Event, counter func(*Tracked) *uint64, now time.Time) {
	id, _ := ev.Properties["journey"].(string)
	js := e.journeys[id]
	if js == nil {
		return
	}
	if kind := firstOnly[ev.Event]; kind != 0 {
		// A message without a key (none of Tailor's lack one) cannot be
		// told apart from another: each such event counts.
		if key, _ := ev.Properties["message_key"].(string); key != "" && !e.countsOnce(firstKey(id, kind, key)) {
			return
		}
	}
	*counter(&js.stats.day(now).Tracked)++
	step, _ := ev.Properties["step"].(string)
	for _, c := range js.versions {
		if _, ok := c.index[step]; ok {
			*counter(&js.stats.step(step).Tracked)++
			break
		}
	}
	js.dirty = true
}

// applyStep acts on a Journey Step event the engine recorded. Caller
// holds mu.
func (e *Engine) applyStep(ev *event.Event, prof string, now time.Time) {
	p := ev.Properties
	id, _ := p["journey"].(string)
	js := e.journeys[id]
	if js == nil {
		return
	}
	switch p["kind"] {
	case kindTimer:
		entry, _ := p["entry"].(string)
		step, _ := p["step"].(string)
		due, _ := p["due"].(float64)
		// The steps after a wait start at its due instant, not when the
		// timer's event was applied: a chain of waits does not drift by
		// the timer loop's lateness.
		e.onTimer(js, runKey{prof, js.ord}, entry, step, uint32(due), time.Unix(int64(due), 0))
	case kindAPI:
		if js.status != StatusLive || js.cur.def.Trigger.Type != TriggerAPI {
			return
		}
		e.enter(js, prof, now, ev.Seq, 0, ev.Partition, ev)
	case kindSchedule:
		at, _ := p["at"].(float64)
		if js.status != StatusLive || js.cur.def.Trigger.Type != TriggerSchedule || int64(at) <= js.lastFired {
			return
		}
		js.lastFired = int64(at)
		js.dirty = true
		e.broadcast(js, ev, now)
	}
}

// broadcast lets every member of the schedule's segment in. Caller holds
// mu.
func (e *Engine) broadcast(js *jstate, ev *event.Event, now time.Time) {
	if e.opts.Segments == nil {
		return
	}
	seg := js.cur.def.Trigger.Segment
	cursor, sub := "", uint32(0)
	for {
		ids, next, err := e.opts.Segments.Members(seg, cursor, 1000)
		if err != nil {
			slog.Warn("journey: broadcast audience", "journey", js.id, "segment", seg, "err", err)
			return
		}
		for _, id := range ids {
			sub++
			e.enter(js, id, now, ev.Seq, sub, ev.Partition, nil)
		}
		if next == "" {
			return
		}
		cursor = next
	}
}

func (e *Engine) put(k runKey, rn run) {
	e.runs[k] = rn
	e.dirty[k] = rn
}

// mergeProfile moves the runs of profile from, merged into profile into,
// over to into: a run in progress goes on there (same entry, step, timer
// and message keys, so nothing is sent twice), unless into has a run of
// its own in that journey, which stands (a profile is in a journey once at
// a time); the entry history of both counts for the entry rules. Caller
// holds mu.
func (e *Engine) mergeProfile(from, into string) {
	if from == into {
		return
	}
	for _, js := range e.byOrd {
		k := runKey{from, js.ord}
		rn, ok := e.runs[k]
		if !ok {
			continue
		}
		delete(e.runs, k)
		delete(e.dirty, k)
		e.gone[k] = rn.saved
		if into == "" {
			e.endMerged(js, &rn)
			continue
		}
		sk := runKey{into, js.ord}
		sv, has := e.runs[sk]
		if rn.flags&(fActive|fWatch) == 0 || has && sv.flags&(fActive|fWatch) != 0 {
			// The survivor's run (or none) stands; the merged one ends.
			e.endMerged(js, &rn)
			if rn.flags&fEver != 0 {
				if !has {
					sv = run{}
				}
				sv.flags |= fEver
				sv.entered = max(sv.entered, rn.entered)
				e.put(sk, sv)
			}
			continue
		}
		moved := rn
		moved.flags &^= fFiring
		moved.due = 0
		// What the store holds under the survivor's key is the survivor's
		// saved timer, for the next checkpoint to replace.
		moved.saved = 0
		if has {
			moved.saved = sv.saved
			moved.entered = max(moved.entered, sv.entered)
		}
		if rn.due != 0 {
			// A Journey Step event already recorded for the merged profile
			// resolves to the survivor too: onTimer's due check makes the
			// second firing a no-op.
			e.setTimer(sk, &moved, rn.due)
		}
		e.put(sk, moved)
	}
}

// endMerged ends a merged-away run that does not move: it stops counting
// as waiting, and counts as exited.
func (e *Engine) endMerged(js *jstate, rn *run) {
	if rn.flags&fActive == 0 {
		return
	}
	if rn.flags&fHoldout == 0 {
		if c := js.versions[int(rn.ver)]; c != nil && int(rn.step) < len(c.def.Steps) {
			e.leaveWait(js, c.def.Steps[rn.step], rn)
		}
	}
	js.stats.Exited++
	js.dirty = true
}

// enter lets prof into js if the entry rule allows. trigger is the event
// whose properties the sends carry (nil: none). Caller holds mu.
func (e *Engine) enter(js *jstate, prof string, now time.Time, seq uint64, sub uint32, part int, trigger *event.Event) {
	c := js.cur
	k := runKey{prof, js.ord}
	rn := e.runs[k]
	sec := uint32(now.Unix())
	if rn.flags&fActive != 0 {
		return // at most once at a time
	}
	switch c.def.Entry.Rule {
	case EntryOnce, "":
		if rn.flags&fEver != 0 {
			return
		}
	case EntryOncePer:
		if rn.flags&fEver != 0 && int64(sec) < int64(rn.entered)+int64(c.per/time.Second) {
			return
		}
	}
	rn = run{entry: seq, sub: sub, part: uint16(part), ver: uint16(c.def.Version), entered: sec, flags: fEver | fActive, saved: rn.saved}
	if c.def.Goal != nil {
		rn.goalBy = uint32(min(int64(sec)+int64(c.goal/time.Second), math.MaxUint32))
	}
	st := js.stats
	st.Entered++
	st.day(now).Entered++
	js.dirty = true
	entry := entryID(seq, sub)
	e.record(Record{Profile: prof, Type: "track", Event: EventEntered, At: now,
		MessageID:  "je-" + js.id + "-" + prof + "-" + entry,
		Properties: map[string]any{"journey": js.id, "version": c.def.Version, "entry": entry}})
	if e.heldOut(prof, js, entry, now) {
		rn.flags |= fHoldout
		st.HeldOut++
		if rn.goalBy != 0 {
			e.setTimer(k, &rn, rn.goalBy)
		} else {
			e.finish(js, c, k, &rn, "held_out", now)
		}
		e.put(k, rn)
		return
	}
	e.walk(js, c, k, &rn, c.start, now, trigger)
	e.put(k, rn)
}

// heldOut says whether a run is kept out of the steps: the global holdout
// (by profile) or the journey's (by profile and entry, or by its holdout
// experiment); see holdoutexp.go for the experiments.
func (e *Engine) heldOut(prof string, js *jstate, entry string, now time.Time) bool {
	if e.inGlobalHoldout(prof, now) {
		return true
	}
	if held, ok := e.inHoldoutExperiment(js, prof, now); ok {
		return held
	}
	h := js.cur.def.Holdout
	return h > 0 && float64(hash(prof, js.id, entry, "holdout")%10000) < h*100
}

// InGlobalHoldout says whether profile is among the percent of profiles
// in the global holdout: FNV-1a of the id, modulo 10000, as the delivery
// policy decides it, so that both agree on who is held out.
func InGlobalHoldout(profile string, percent float64) bool {
	if percent <= 0 {
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(profile))
	return float64(h.Sum64()%10000) < percent*100
}

func hash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	// fnv's low bits mix poorly for short inputs; fold the high half in.
	x := h.Sum64()
	return x ^ x>>29 ^ x>>47
}

func entryID(seq uint64, sub uint32) string {
	s := strconv.FormatUint(seq, 10)
	if sub != 0 {
		s += "." + strconv.FormatUint(uint64(sub), 10)
	}
	return s
}

// advance moves a run to step id (empty: the end). Caller holds mu.
func (e *Engine) advance(js *jstate, c *compiled, k runKey, rn *run, id string, now time.Time, trigger *event.Event) {
	i, ok := c.next(id)
	if !ok {
		e.finish(js, c, k, rn, "completed", now)
		return
	}
	e.walk(js, c, k, rn, i, now, trigger)
}

// walk runs steps from step i until one waits or the run ends. Caller
// holds mu.
func (e *Engine) walk(js *jstate, c *compiled, k runKey, rn *run, i uint16, now time.Time, trigger *event.Event) {
	e.walkFrom(js, c, k, rn, i, now, trigger, false)
}

// walkFrom is walk; resumed says that step i is a send held for the best
// time whose timer fired: it sends now and is not entered again.
func (e *Engine) walkFrom(js *jstate, c *compiled, k runKey, rn *run, i uint16, now time.Time, trigger *event.Event, resumed bool) {
	entry := entryID(rn.entry, rn.sub)
	var data map[string]any
	dataRead := false
	triggerData := func() map[string]any {
		if !dataRead {
			dataRead = true
			data = e.triggerData(rn, trigger)
		}
		return data
	}
	for hop := 0; ; hop++ {
		if hop == maxHops {
			e.finish(js, c, k, rn, "too_many_steps", now)
			return
		}
		rn.step = i
		s := c.def.Steps[i]
		ss := js.stats.step(s.ID)
		resumed = resumed && hop == 0
		if !resumed {
			ss.Entered++
		}
		js.dirty = true
		next := s.Next
		switch s.Type {
		case StepSend, StepWebhook:
			if !resumed && e.holdForBestTime(js, k, rn, ss, s, now) {
				return
			}
			m := Message{Key: "j:" + js.id + ":" + strconv.Itoa(c.def.Version) + ":" + entry + ":" + s.ID,
				Profile: k.prof, Channel: s.Channel, Template: s.Template, Data: triggerData(),
				Journey: js.id, JourneyVersion: c.def.Version, Step: s.ID}
			if s.Type == StepSend && len(s.Templates) > 0 {
				m.Template = e.sendVariant(js, s, k.prof, now)
			}
			if s.Type == StepWebhook {
				m.Channel = "webhook"
				if s.URL != "" {
					d := map[string]any{"url": s.URL}
					for k, v := range m.Data {
						d[k] = v
					}
					m.Data = d
				}
			}
			switch {
			case e.counting != nil:
				e.counting[m.Channel]++
			case e.opts.Outbox != nil:
				e.sends = append(e.sends, m)
			default:
				// No outbox wired (a server without delivery): counted
				// in the figures only.
				slog.Debug("journey: no outbox; send dropped", "key", m.Key)
			}
			rn.lastMsg = i + 1
			ss.Sent++
			js.stats.day(now).Sent++
			e.poke()
		case StepWait:
			d, _ := duration(s.Duration)
			e.wait(js, k, rn, ss, now.Add(scaled(d, e.opts.TimeScale)))
			return
		case StepWaitUntil:
			e.wait(js, k, rn, ss, now.Add(scaled(e.nextClock(k.prof, s.Time, now).Sub(now), e.opts.TimeScale)))
			return
		case StepWaitEvent:
			d, _ := duration(s.Timeout)
			e.wait(js, k, rn, ss, now.Add(scaled(d, e.opts.TimeScale)))
			return
		case StepBranch:
			ok := false
			if e.opts.Segments != nil {
				var err error
				if ok, err = e.opts.Segments.Holds(s.Rule, k.prof, now); err != nil {
					slog.Debug("journey: branch rule", "journey", js.id, "step", s.ID, "err", err)
				}
			}
			if !ok {
				next = s.Else
			}
		case StepSplit:
			x := float64(hash(k.prof, js.id, entry, s.ID)%10000) / 100
			next = s.Paths[len(s.Paths)-1].Next
			acc := 0.0
			for _, p := range s.Paths {
				acc += p.Percent
				if x < acc {
					next = p.Next
					break
				}
			}
		case StepAB:
			next = s.Else
			if e.opts.Experiments == nil {
				break
			}
			v, ok := e.opts.Experiments.Assign(s.Experiment, k.prof)
			if !ok {
				break
			}
			if n, ok := s.Variants[v]; ok {
				next = n
			}
			e.record(Record{Profile: k.prof, Type: "track", Event: EventExposure, At: now,
				Properties: map[string]any{"experiment_id": s.Experiment, "variant": v, "journey": js.id, "step": s.ID},
				MessageID:  "jx-" + js.id + "-" + k.prof + "-" + entry + "-" + s.ID})
		case StepUpdateTrait:
			e.record(Record{Profile: k.prof, Type: "identify", At: now, Traits: s.Traits,
				MessageID: "jt-" + js.id + "-" + k.prof + "-" + entry + "-" + s.ID})
		case StepExit:
			e.finish(js, c, k, rn, "exit", now)
			return
		}
		var ok bool
		if i, ok = c.next(next); !ok {
			e.finish(js, c, k, rn, "completed", now)
			return
		}
	}
}

// triggerData is the properties of the event that let the run in, for the
// templates: the event itself when at hand, else read back from the log.
func (e *Engine) triggerData(rn *run, trigger *event.Event) map[string]any {
	if trigger == nil && rn.sub == 0 && e.opts.Event != nil {
		if b, err := e.opts.Event(int(rn.part), rn.entry); err == nil {
			if ev, err := event.DecodeStored(b); err == nil {
				trigger = &ev
			}
		}
	}
	if trigger == nil {
		return nil
	}
	if trigger.Event == EventStep {
		d, _ := trigger.Properties["data"].(map[string]any)
		return d
	}
	return trigger.Properties
}

func (e *Engine) wait(js *jstate, k runKey, rn *run, ss *StepStats, until time.Time) {
	ss.Waiting++
	e.setTimer(k, rn, uint32(min(max(until.Unix(), 1), math.MaxUint32)))
}

// leaveWait undoes the waiting count of a run leaving step s.
func (e *Engine) leaveWait(js *jstate, s *Step, rn *run) {
	switch s.Type {
	case StepWait, StepWaitUntil, StepWaitEvent:
		js.stats.step(s.ID).Waiting--
		rn.due = 0
	case StepSend:
		e.leaveBestTime(js, s, rn)
	}
}

func (e *Engine) setTimer(k runKey, rn *run, at uint32) {
	rn.due = at
	rn.flags &^= fFiring
	if e.horizon != 0 && at >= e.horizon {
		e.farNew = append(e.farNew, timer{at: at, k: k})
		return
	}
	heap.Push(&e.timers, timer{at: at, k: k})
}

// finish ends a run's steps; the goal is still watched until its window
// ends. Caller holds mu.
func (e *Engine) finish(js *jstate, c *compiled, k runKey, rn *run, reason string, now time.Time) {
	rn.flags &^= fActive | fFiring
	rn.due = 0
	if rn.goalBy != 0 && uint32(now.Unix()) < rn.goalBy && rn.flags&fHoldout == 0 {
		rn.flags |= fWatch
	} else {
		rn.flags &^= fWatch
	}
	js.stats.Exited++
	js.dirty = true
	entry := entryID(rn.entry, rn.sub)
	e.record(Record{Profile: k.prof, Type: "track", Event: EventExited, At: now,
		MessageID:  "jx-" + js.id + "-" + k.prof + "-" + entry,
		Properties: map[string]any{"journey": js.id, "version": c.def.Version, "entry": entry, "reason": reason}})
}

// convert ends a run as converted by ev and attributes its revenue to the
// journey and to the run's last message. Caller holds mu.
func (e *Engine) convert(js *jstate, c *compiled, k runKey, rn *run, ev *event.Event, now time.Time) {
	revenue := float64(event.OrderRevenue(ev.Properties)) / 1e6
	st := js.stats
	entry := entryID(rn.entry, rn.sub)
	props := map[string]any{"journey": js.id, "version": c.def.Version, "entry": entry, "revenue": revenue}
	if rn.flags&fHoldout != 0 {
		st.HeldOutConverted++
		st.HeldOutRevenue += revenue
	} else {
		st.Converted++
		st.Revenue += revenue
		d := st.day(now)
		d.Converted++
		d.Revenue += revenue
		if rn.lastMsg != 0 {
			s := c.def.Steps[rn.lastMsg-1]
			ss := st.step(s.ID)
			ss.Converted++
			ss.Revenue += revenue
			props["message_key"] = "j:" + js.id + ":" + strconv.Itoa(c.def.Version) + ":" + entry + ":" + s.ID
			props["step"] = s.ID
		}
	}
	js.dirty = true
	e.record(Record{Profile: k.prof, Type: "track", Event: EventConverted, At: now,
		MessageID: "jc-" + js.id + "-" + k.prof + "-" + entry, Properties: props})
	if rn.flags&fActive != 0 && rn.flags&fHoldout == 0 {
		e.leaveWait(js, c.def.Steps[rn.step], rn)
		e.finish(js, c, k, rn, "converted", now)
	}
	rn.flags &^= fActive | fWatch | fFiring
	rn.due = 0
	rn.goalBy = 0
}

// onTimer acts on a due timer of run k, named by its entry, step and
// instant; anything else (a run that moved on meanwhile) is stale.
// Caller holds mu.
func (e *Engine) onTimer(js *jstate, k runKey, entry, step string, due uint32, now time.Time) {
	rn, ok := e.runs[k]
	if !ok || rn.flags&fActive == 0 || rn.due != due || entryID(rn.entry, rn.sub) != entry {
		return
	}
	c := js.versions[int(rn.ver)]
	if c == nil {
		return
	}
	rn.flags &^= fFiring
	if rn.flags&fHoldout != 0 {
		if step == "" {
			rn.due = 0
			e.finish(js, c, k, &rn, "held_out", now)
			e.put(k, rn)
		}
		return
	}
	s := c.def.Steps[rn.step]
	if s.ID != step {
		return
	}
	e.leaveWait(js, s, &rn)
	if s.Type == StepSend {
		// A send held for the best time: its time has come.
		e.walkFrom(js, c, k, &rn, rn.step, now, nil, true)
		e.put(k, rn)
		return
	}
	next := s.Next
	if s.Type == StepWaitEvent {
		next = s.Else
	}
	e.advance(js, c, k, &rn, next, now, nil)
	e.put(k, rn)
}

// nextClock is the next instant after now at hh:mm in the profile's
// timezone trait (UTC when it has none or an unknown one).
func (e *Engine) nextClock(prof, hhmm string, now time.Time) time.Time {
	h, m, _ := clock(hhmm)
	loc := time.UTC
	if e.opts.Profiles != nil {
		e.opts.Profiles.View(prof, func(st *profile.State, _ []event.Identifier) {
			if tz, ok := st.TraitString("timezone"); ok && tz != "" {
				l, ok := e.locs[tz]
				if !ok {
					var err error
					if l, err = time.LoadLocation(tz); err != nil {
						l = nil
					}
					if len(e.locs) < 1000 {
						e.locs[tz] = l
					}
				}
				if l != nil {
					loc = l
				}
			}
		})
	}
	t := now.In(loc)
	at := time.Date(t.Year(), t.Month(), t.Day(), h, m, 0, 0, loc)
	if !at.After(t) {
		at = time.Date(t.Year(), t.Month(), t.Day()+1, h, m, 0, 0, loc)
	}
	return at
}

func (e *Engine) record(r Record) {
	if e.opts.Record == nil {
		return
	}
	e.records = append(e.records, r)
	e.poke()
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// timerRecord is the Journey Step event that fires run k's timer.
func timerRecord(js *jstate, k runKey, rn *run, c *compiled) Record {
	entry := entryID(rn.entry, rn.sub)
	step := ""
	if rn.flags&fHoldout == 0 {
		step = c.def.Steps[rn.step].ID
	}
	return Record{Profile: k.prof, Type: "track", Event: EventStep, At: time.Unix(int64(rn.due), 0),
		MessageID: fmt.Sprintf("js-%s-%s-%s-%s-%d", js.id, k.prof, entry, step, rn.due),
		Properties: map[string]any{"journey": js.id, "version": c.def.Version, "kind": kindTimer,
			"entry": entry, "step": step, "due": rn.due}}
}

// maxFire bounds the timers one Tick hands over, so that a million timers
// due at once do not hold the applier's lock for long; the loop goes on
// at once while there are more.
const maxFire = 5000

// due pops up to maxFire timers due at now and calls fn for the runs to
// fire. Caller holds mu.
func (e *Engine) due(now time.Time, fn func(js *jstate, k runKey, rn *run, c *compiled)) int {
	sec := uint32(min(max(now.Unix(), 0), math.MaxUint32))
	n := 0
	var later []timer
	fire := func(t timer) bool {
		rn, ok := e.runs[t.k]
		if !ok || rn.flags&fActive == 0 || rn.flags&fFiring != 0 || rn.due == 0 || rn.due > t.at {
			return false // stale: the run moved on, or a later timer stands for it
		}
		js := e.byOrd[t.k.j]
		c := js.versions[int(rn.ver)]
		if c == nil {
			return false
		}
		if js.status == StatusPaused {
			// Paused: the run stays at its step; look again in a minute.
			later = append(later, timer{at: sec + 60, k: t.k})
			return false
		}
		if js.status == StatusArchived {
			return false
		}
		fn(js, t.k, &rn, c)
		e.runs[t.k] = rn
		return true
	}
	for len(e.timers) > 0 && e.timers[0].at <= sec && n < maxFire {
		if fire(heap.Pop(&e.timers).(timer)) {
			n++
		}
	}
	// Then the backlog, behind the timers due on time.
	for len(e.backlog) > 0 && n < maxFire {
		t := e.backlog[0]
		e.backlog = e.backlog[1:]
		if fire(t) {
			n++
		}
	}
	if len(e.backlog) == 0 {
		e.backlog = nil // let the array go
	}
	for _, t := range later {
		heap.Push(&e.timers, t)
	}
	return n
}
