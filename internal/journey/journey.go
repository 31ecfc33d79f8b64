// Package journey runs customer journeys: a trigger lets a profile in, a
// graph of steps (send, wait, wait for an event, branch, split, update a
// trait, webhook, exit) moves it along, and a goal ends it as converted.
//
// Determinism: the engine is a processor applier. Everything it decides
// is decided while applying a log event, and anything wall-clock driven (a
// wait ending, a scheduled broadcast) is first appended to the log as an
// internal "Journey Step" event by the timer loop, so a replay of the same
// log after a crash makes the same decisions and enqueues the same keys.
// Random splits are hashes of (profile, journey, entry, step).
package journey

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"tailor/internal/segment"
)

// Status of a journey.
const (
	StatusDraft    = "draft"
	StatusLive     = "live"
	StatusPaused   = "paused"
	StatusArchived = "archived"
)

// Trigger types.
const (
	TriggerEvent          = "event"
	TriggerSegmentEntered = "segment_entered"
	TriggerSegmentExited  = "segment_exited"
	TriggerSchedule       = "schedule"
	TriggerAPI            = "api"
)

// Entry rules.
const (
	EntryOnce      = "once"       // once ever
	EntryOncePer   = "once_per"   // at most once per Entry.Period
	EntryEveryTime = "every_time" // every trigger (still one run at a time)
)

// Step types.
const (
	StepSend        = "send"
	StepWait        = "wait"
	StepWaitUntil   = "wait_until"
	StepWaitEvent   = "wait_event"
	StepBranch      = "branch"
	StepSplit       = "split"
	StepUpdateTrait = "update_trait"
	StepWebhook     = "webhook"
	StepExit        = "exit"
	// StepAB sends each profile down the path of the variant an experiment
	// (package experiment) assigns it, logging the exposure; profiles go to
	// Else when the experiment is not running.
	StepAB = "ab"
)

// Channels a send step may use.
var channels = []string{"email", "sms", "push", "webpush", "inapp", "mail"}

// Limits, so that one definition cannot cost the engine without bound.
const (
	MaxSteps    = 100
	MaxJourneys = 200
	MaxWait     = 366 * 24 * time.Hour
	// maxHops bounds the steps one application walks without waiting, so a
	// graph with a loop of instant steps cannot spin the processor.
	maxHops = 64
)

// Journey is one version of a journey definition, as the API reads and
// writes it.
type Journey struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Status      string    `json:"status"`
	Version     int       `json:"version"`
	Trigger     Trigger   `json:"trigger"`
	Entry       Entry     `json:"entry"`
	Goal        *Goal     `json:"goal,omitempty"`
	Holdout     float64   `json:"holdout,omitempty"` // percent of entrants kept out of the steps, as a control group
	Start       string    `json:"start"`             // id of the first step
	Steps       []*Step   `json:"steps"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// HoldoutExperiment names a holdout experiment (package experiment)
	// that holds out the profiles of its control variant instead of
	// Holdout's percentage of entries: sticky per profile, each entrant
	// logged as exposed, the results on the experiment's page.
	HoldoutExperiment string `json:"holdout_experiment,omitempty"`
}

// Trigger says what lets a profile in.
type Trigger struct {
	Type  string            `json:"type"`
	Event string            `json:"event,omitempty"` // event: the track event's name
	Where []*segment.Filter `json:"where,omitempty"` // event: filters on its properties
	// Segment is the saved segment of segment_entered, segment_exited and
	// schedule (the broadcast's audience).
	Segment string `json:"segment,omitempty"`
	// At is a schedule's first (or only) firing, RFC 3339; Every repeats it
	// ("1d", "7d"); empty Every is a one-off.
	At    string `json:"at,omitempty"`
	Every string `json:"every,omitempty"`
}

// Entry is the re-entry rule. A profile is in a journey at most once at a
// time whatever the rule.
type Entry struct {
	Rule   string `json:"rule"`             // once, once_per, every_time
	Period string `json:"period,omitempty"` // once_per: "7d"
}

// Goal ends a run as converted: Event (with filters) within Within of the
// entry.
type Goal struct {
	Event  string            `json:"event"`
	Where  []*segment.Filter `json:"where,omitempty"`
	Within string            `json:"within"`
}

// Step is one node of the graph. Type says which fields are used.
type Step struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Next is the step after this one (branch: when the rule holds;
	// wait_event: when the event comes); empty ends the journey.
	Next string `json:"next,omitempty"`

	Channel  string `json:"channel,omitempty"`  // send
	Template string `json:"template,omitempty"` // send, webhook
	URL      string `json:"url,omitempty"`      // webhook

	// AtBestTimeWithin ("24h") holds a send until the profile's
	// best_send_hour within that window (besttime.go).
	AtBestTimeWithin string `json:"at_best_time_within,omitempty"`

	Duration string `json:"duration,omitempty"` // wait: "1h"
	Time     string `json:"time,omitempty"`     // wait_until: "09:00" in the profile's timezone trait (UTC without one)

	Event   string            `json:"event,omitempty"`   // wait_event
	Where   []*segment.Filter `json:"where,omitempty"`   // wait_event
	Timeout string            `json:"timeout,omitempty"` // wait_event: how long to wait
	// Else is where a branch goes when its rule fails and where wait_event
	// goes on timeout.
	Else string `json:"else,omitempty"`

	Rule *segment.Rule `json:"rule,omitempty"` // branch

	Paths []SplitPath `json:"paths,omitempty"` // split

	Experiment string            `json:"experiment,omitempty"` // ab, send: the experiment's id
	Variants   map[string]string `json:"variants,omitempty"`   // ab: variant id -> next step
	// Templates is a send step's message experiment (content or subject
	// line): variant id -> template; the profile's variant of Experiment
	// chooses, and Template is sent while the experiment is not running.
	Templates map[string]string `json:"templates,omitempty"`

	Traits map[string]any `json:"traits,omitempty"` // update_trait
}

// SplitPath is one way out of a random split.
type SplitPath struct {
	Percent float64 `json:"percent"`
	Next    string  `json:"next"`
}

// ValidationError is a definition that cannot be used: Path is a JSON
// Pointer into it ("/steps/2/duration"), Msg says why.
type ValidationError struct {
	Path string
	Msg  string
}

func (e *ValidationError) Error() string {
	if e.Path == "" {
		return "journey: " + e.Msg
	}
	return "journey " + e.Path + ": " + e.Msg
}

var stepID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Validate checks j: known types, the fields each needs, durations, step
// references that exist, the limits. segments says whether a saved
// segment exists (nil: not checked).
func (j *Journey) Validate(segments func(id string) bool) error {
	fail := func(path, format string, args ...any) error {
		return &ValidationError{Path: path, Msg: fmt.Sprintf(format, args...)}
	}
	if !segment.ValidID(j.ID) {
		return fail("/id", "an id is 1 to 64 of a-z, 0-9, '-' and '_', starting with a letter or digit")
	}
	if j.Name == "" || len(j.Name) > 200 {
		return fail("/name", "a name of 1 to 200 bytes is needed")
	}
	switch j.Status {
	case "", StatusDraft, StatusLive, StatusPaused, StatusArchived:
	default:
		return fail("/status", "unknown status %q (draft, live, paused, archived)", j.Status)
	}
	if err := j.validateTrigger(segments); err != nil {
		return err
	}
	switch j.Entry.Rule {
	case EntryOnce, EntryEveryTime, "":
		if j.Entry.Period != "" {
			return fail("/entry/period", "only once_per takes a period")
		}
	case EntryOncePer:
		if _, err := duration(j.Entry.Period); err != nil {
			return fail("/entry/period", "once_per needs a period: %v", err)
		}
	default:
		return fail("/entry/rule", "unknown entry rule %q (once, once_per, every_time)", j.Entry.Rule)
	}
	if g := j.Goal; g != nil {
		if g.Event == "" {
			return fail("/goal/event", "a goal needs an event")
		}
		if err := filters(g.Where, "/goal/where"); err != nil {
			return err
		}
		if _, err := duration(g.Within); err != nil {
			return fail("/goal/within", "%v", err)
		}
	}
	if j.Holdout < 0 || j.Holdout > 100 {
		return fail("/holdout", "a percentage from 0 to 100, got %v", j.Holdout)
	}
	if len(j.Steps) == 0 {
		return fail("/steps", "a journey needs at least one step")
	}
	if len(j.Steps) > MaxSteps {
		return fail("/steps", "at most %d steps, got %d", MaxSteps, len(j.Steps))
	}
	ids := make(map[string]bool, len(j.Steps))
	for i, s := range j.Steps {
		p := fmt.Sprintf("/steps/%d", i)
		if s == nil {
			return fail(p, "empty step")
		}
		if !stepID.MatchString(s.ID) {
			return fail(p+"/id", "a step id is 1 to 64 of a-z, 0-9, '-' and '_'")
		}
		if ids[s.ID] {
			return fail(p+"/id", "step id %q is used twice", s.ID)
		}
		ids[s.ID] = true
	}
	ref := func(path, id string) error {
		if id != "" && !ids[id] {
			return fail(path, "no step %q", id)
		}
		return nil
	}
	if j.Start == "" {
		return fail("/start", "name the first step")
	}
	if err := ref("/start", j.Start); err != nil {
		return err
	}
	for i, s := range j.Steps {
		if err := s.validate(fmt.Sprintf("/steps/%d", i), ref, segments); err != nil {
			return err
		}
	}
	return nil
}

func (j *Journey) validateTrigger(segments func(string) bool) error {
	t := &j.Trigger
	fail := func(path, format string, args ...any) error {
		return &ValidationError{Path: "/trigger" + path, Msg: fmt.Sprintf(format, args...)}
	}
	needSegment := func() error {
		if t.Segment == "" {
			return fail("/segment", "%s needs a saved segment", t.Type)
		}
		if segments != nil && !segments(t.Segment) {
			return fail("/segment", "no saved segment %q", t.Segment)
		}
		return nil
	}
	switch t.Type {
	case TriggerEvent:
		if t.Event == "" {
			return fail("/event", "an event trigger needs the event's name")
		}
		return filters(t.Where, "/trigger/where")
	case TriggerSegmentEntered, TriggerSegmentExited:
		return needSegment()
	case TriggerSchedule:
		if err := needSegment(); err != nil {
			return err
		}
		if _, err := time.Parse(time.RFC3339, t.At); err != nil {
			return fail("/at", "a schedule needs its first firing as RFC 3339, got %q", t.At)
		}
		if t.Every != "" {
			if d, err := duration(t.Every); err != nil || d < time.Hour {
				return fail("/every", "a repeat of at least 1h (\"1d\", \"7d\"), got %q", t.Every)
			}
		}
	case TriggerAPI:
	default:
		return fail("/type", "unknown trigger %q (event, segment_entered, segment_exited, schedule, api)", t.Type)
	}
	return nil
}

func (s *Step) validate(p string, ref func(path, id string) error, segments func(string) bool) error {
	fail := func(path, format string, args ...any) error {
		return &ValidationError{Path: p + path, Msg: fmt.Sprintf(format, args...)}
	}
	if err := ref(p+"/next", s.Next); err != nil {
		return err
	}
	if err := ref(p+"/else", s.Else); err != nil {
		return err
	}
	switch s.Type {
	case StepSend:
		if !slices.Contains(channels, s.Channel) {
			return fail("/channel", "unknown channel %q (%v)", s.Channel, channels)
		}
		if s.Experiment == "" && len(s.Templates) > 0 {
			return fail("/experiment", "templates per variant need the experiment whose variants they are")
		}
		if s.Experiment != "" && len(s.Templates) == 0 {
			return fail("/templates", "a send step with an experiment needs a template per variant")
		}
		for _, v := range slices.Sorted(maps.Keys(s.Templates)) {
			if s.Templates[v] == "" {
				return fail("/templates/"+v, "variant %q needs a template id", v)
			}
		}
		if s.Template == "" && s.Experiment == "" {
			return fail("/template", "a send step needs a template id")
		}
		if err := s.validateBestTime(); err != nil {
			return fail("/at_best_time_within", "%v", err)
		}
	case StepWebhook:
		if s.Template == "" && s.URL == "" {
			return fail("/url", "a webhook step needs a url or a template")
		}
	case StepWait:
		if _, err := duration(s.Duration); err != nil {
			return fail("/duration", "%v", err)
		}
	case StepWaitUntil:
		if _, _, err := clock(s.Time); err != nil {
			return fail("/time", "%v", err)
		}
	case StepWaitEvent:
		if s.Event == "" {
			return fail("/event", "wait_event needs the event's name")
		}
		if err := filters(s.Where, p+"/where"); err != nil {
			return err
		}
		if _, err := duration(s.Timeout); err != nil {
			return fail("/timeout", "%v", err)
		}
	case StepBranch:
		if s.Rule == nil {
			return fail("/rule", "a branch needs a segment rule")
		}
		if err := s.Rule.Validate(); err != nil {
			if re, ok := err.(*segment.Error); ok {
				return fail("/rule"+re.Path, "%s", re.Msg)
			}
			return fail("/rule", "%v", err)
		}
		if segments != nil {
			for _, id := range s.Rule.Segments() {
				if !segments(id) {
					return fail("/rule", "no saved segment %q", id)
				}
			}
		}
	case StepSplit:
		if len(s.Paths) < 2 {
			return fail("/paths", "a split needs at least two paths")
		}
		sum := 0.0
		for i, sp := range s.Paths {
			if sp.Percent <= 0 {
				return fail(fmt.Sprintf("/paths/%d/percent", i), "a positive percentage, got %v", sp.Percent)
			}
			if err := ref(fmt.Sprintf("%s/paths/%d/next", p, i), sp.Next); err != nil {
				return err
			}
			sum += sp.Percent
		}
		if sum < 99.999 || sum > 100.001 {
			return fail("/paths", "percentages add up to %v, not 100", sum)
		}
	case StepAB:
		if s.Experiment == "" {
			return fail("/experiment", "an ab step needs the experiment's id")
		}
		if len(s.Variants) == 0 {
			return fail("/variants", "an ab step needs the next step of at least one variant")
		}
		for _, v := range slices.Sorted(maps.Keys(s.Variants)) {
			if err := ref(p+"/variants/"+v, s.Variants[v]); err != nil {
				return err
			}
		}
	case StepUpdateTrait:
		if len(s.Traits) == 0 {
			return fail("/traits", "update_trait needs at least one trait")
		}
	case StepExit:
		if s.Next != "" {
			return fail("/next", "an exit step has no next step")
		}
	default:
		return fail("/type", "unknown step type %q (send, wait, wait_until, wait_event, branch, split, ab, update_trait, webhook, exit)", s.Type)
	}
	return nil
}

func filters(fs []*segment.Filter, path string) error {
	if err := segment.ValidateFilters(fs); err != nil {
		if re, ok := err.(*segment.Error); ok {
			return &ValidationError{Path: path + re.Path, Msg: re.Msg}
		}
		return &ValidationError{Path: path, Msg: err.Error()}
	}
	return nil
}

// duration parses "90s", "15m", "1h", "7d" (segment durations), within
// MaxWait.
func duration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("a duration is needed (\"30m\", \"1h\", \"7d\")")
	}
	d, err := segment.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 || d > MaxWait {
		return 0, fmt.Errorf("%q is out of range (more than 0, at most 366d)", s)
	}
	return d, nil
}

// clock parses "HH:MM".
func clock(s string) (h, m int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, fmt.Errorf("a time of day as HH:MM, got %q", s)
	}
	return t.Hour(), t.Minute(), nil
}
