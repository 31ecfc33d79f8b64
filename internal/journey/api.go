package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// Errors of the API methods.
var (
	ErrNotFound = errors.New("no such journey")
	ErrExists   = errors.New("a journey with this id exists")
	// ErrState is an action the journey's status does not allow.
	ErrState = errors.New("not allowed in the journey's status")
)

// Info is a journey's current version with its figures.
type Info struct {
	Journey
	Versions []int `json:"versions"`
	// Active counts the runs in the steps now (waiting or held out).
	Active    int     `json:"active"`
	Entered   uint64  `json:"entered"`
	Converted uint64  `json:"converted"`
	Revenue   float64 `json:"revenue"`
	HeldOut   uint64  `json:"held_out"`
}

func (e *Engine) info(js *jstate, c *compiled) Info {
	in := Info{Journey: *c.def, Entered: js.stats.Entered, Converted: js.stats.Converted, Revenue: js.stats.Revenue, HeldOut: js.stats.HeldOut}
	in.Status = js.status
	for v := range js.versions {
		in.Versions = append(in.Versions, v)
	}
	slices.Sort(in.Versions)
	for _, ss := range js.stats.Steps {
		in.Active += int(ss.Waiting)
	}
	return in
}

// List returns every journey's current version, by id.
func (e *Engine) List() []Info {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Info, 0, len(e.journeys))
	for _, js := range e.byOrd {
		if js.cur != nil {
			out = append(out, e.info(js, js.cur))
		}
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Get returns journey id at version (0: the current one).
func (e *Engine) Get(id string, version int) (Info, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	js := e.journeys[id]
	if js == nil || js.cur == nil {
		return Info{}, ErrNotFound
	}
	c := js.cur
	if version != 0 {
		if c = js.versions[version]; c == nil {
			return Info{}, fmt.Errorf("%w: version %d", ErrNotFound, version)
		}
	}
	return e.info(js, c), nil
}

// Create saves a new journey (version 1, draft unless it says live).
func (e *Engine) Create(j Journey) (Info, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if js := e.journeys[j.ID]; js != nil && js.cur != nil {
		return Info{}, ErrExists
	}
	if len(e.journeys) >= MaxJourneys {
		return Info{}, &ValidationError{Msg: fmt.Sprintf("at most %d journeys", MaxJourneys)}
	}
	if j.Status == "" {
		j.Status = StatusDraft
	}
	if j.Status != StatusDraft && j.Status != StatusLive {
		return Info{}, &ValidationError{Path: "/status", Msg: "a new journey is draft or live"}
	}
	now := e.opts.Now().UTC()
	j.Version, j.CreatedAt, j.UpdatedAt = 1, now, now
	return e.save(&j)
}

// Replace saves j as the next version of its journey: runs in flight
// finish on the version they entered; new entrants take this one. The
// status is the journey's (the body's is ignored).
func (e *Engine) Replace(j Journey) (Info, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	js := e.journeys[j.ID]
	if js == nil || js.cur == nil {
		return Info{}, ErrNotFound
	}
	if js.status == StatusArchived {
		return Info{}, fmt.Errorf("%w: an archived journey cannot change", ErrState)
	}
	j.Status = js.status
	j.Version = js.cur.def.Version + 1
	j.CreatedAt, j.UpdatedAt = js.cur.def.CreatedAt, e.opts.Now().UTC()
	return e.save(&j)
}

// save validates and stores j and installs it. Caller holds mu.
func (e *Engine) save(j *Journey) (Info, error) {
	if err := j.Validate(e.opts.SegmentExists); err != nil {
		return Info{}, err
	}
	if err := e.checkExperiments(j); err != nil {
		return Info{}, err
	}
	if j.Version > 65535 {
		return Info{}, &ValidationError{Path: "/version", Msg: "too many versions"}
	}
	if err := e.putDef(j); err != nil {
		return Info{}, err
	}
	js := e.install(j)
	return e.info(js, js.cur), nil
}

func (e *Engine) putDef(j *Journey) error {
	if e.opts.DB == nil {
		return nil
	}
	v, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if err := e.opts.DB.Set(versionKey(j.ID, j.Version), v, pebble.Sync); err != nil {
		return fmt.Errorf("save journey %s: %w", j.ID, err)
	}
	return nil
}

// Delete removes a draft journey (one never live has no runs).
func (e *Engine) Delete(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	js := e.journeys[id]
	if js == nil || js.cur == nil {
		return ErrNotFound
	}
	if js.status != StatusDraft {
		return fmt.Errorf("%w: only a draft can be deleted; archive a journey that ran", ErrState)
	}
	if db := e.opts.DB; db != nil {
		lo := store.Key(store.PrefixJourney, id+"\x00")
		hi := store.Key(store.PrefixJourney, id+"\x01")
		if err := db.DeleteRange(lo, hi, pebble.Sync); err != nil {
			return fmt.Errorf("delete journey %s: %w", id, err)
		}
	}
	// The ordinal stays taken (runs' keys use it); the journey is gone.
	delete(e.journeys, id)
	js.cur, js.versions, js.status, js.dirty = nil, map[int]*compiled{}, StatusArchived, false
	e.reindex()
	return nil
}

// Actions on a journey's status.
const (
	ActionPublish = "publish"
	ActionPause   = "pause"
	ActionResume  = "resume"
	ActionArchive = "archive"
)

// SetStatus applies action: publish (draft → live), pause (live →
// paused: no entries, runs stay at their step), resume (paused → live),
// archive (anything → archived: no entries, runs stop).
func (e *Engine) SetStatus(id, action string) (Info, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	js := e.journeys[id]
	if js == nil || js.cur == nil {
		return Info{}, ErrNotFound
	}
	from := map[string][]string{ActionPublish: {StatusDraft}, ActionPause: {StatusLive}, ActionResume: {StatusPaused},
		ActionArchive: {StatusDraft, StatusLive, StatusPaused}}[action]
	to := map[string]string{ActionPublish: StatusLive, ActionPause: StatusPaused, ActionResume: StatusLive, ActionArchive: StatusArchived}[action]
	if !slices.Contains(from, js.status) {
		return Info{}, fmt.Errorf("%w: cannot %s a %s journey", ErrState, action, js.status)
	}
	j := *js.cur.def
	j.Status, j.UpdatedAt = to, e.opts.Now().UTC()
	if err := e.putDef(&j); err != nil {
		return Info{}, err
	}
	js.cur.def = &j
	js.status = to
	if to == StatusLive && j.Trigger.Type == TriggerSchedule {
		// A schedule fires from now on: firings that passed while it was
		// not live are not made up.
		if f, ok := firing(j.Trigger, e.opts.Now()); ok && action == ActionResume {
			js.requested = max(js.requested, f)
		}
	}
	return e.info(js, js.cur), nil
}

// JourneyStats is GET /api/journeys/{id}/stats.
type JourneyStats struct {
	Journey string `json:"journey"`
	*Stats
	// Order lists the current version's step ids in definition order.
	Order []string `json:"order"`
}

// Stats returns journey id's figures.
func (e *Engine) Stats(id string) (JourneyStats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	js := e.journeys[id]
	if js == nil || js.cur == nil {
		return JourneyStats{}, ErrNotFound
	}
	st := JourneyStats{Journey: id, Stats: js.stats.clone()}
	for _, s := range js.cur.def.Steps {
		st.Order = append(st.Order, s.ID)
		st.step(s.ID)
	}
	return st, nil
}

// Trigger records the API trigger of journey id for profile prof (a
// profile id): the engine lets the profile in when the event is applied.
func (e *Engine) Trigger(ctx context.Context, id, prof string, data map[string]any, key string) error {
	e.mu.Lock()
	js := e.journeys[id]
	var version int
	switch {
	case js == nil || js.cur == nil:
		e.mu.Unlock()
		return ErrNotFound
	case js.cur.def.Trigger.Type != TriggerAPI:
		e.mu.Unlock()
		return fmt.Errorf("%w: journey %s is triggered by %s, not the API", ErrState, id, js.cur.def.Trigger.Type)
	case js.status != StatusLive:
		e.mu.Unlock()
		return fmt.Errorf("%w: journey %s is %s", ErrState, id, js.status)
	}
	version = js.cur.def.Version
	e.mu.Unlock()
	if e.opts.Record == nil {
		return errors.New("journey: no log to record the trigger in")
	}
	if key == "" {
		key = fmt.Sprintf("%d", time.Now().UnixNano())
	}
	if data == nil {
		data = map[string]any{}
	}
	return e.opts.Record(ctx, []Record{{Profile: prof, Type: "track", Event: EventStep, At: e.opts.Now(),
		MessageID:  "ja-" + id + "-" + prof + "-" + key,
		Properties: map[string]any{"journey": id, "version": version, "kind": kindAPI, "data": data}}})
}
