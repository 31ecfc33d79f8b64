package experiment

import (
	"fmt"
	"regexp"
	"time"
)

// Kind says where an experiment's variants are shown. It does not change
// the statistics; it lets each place list the experiments it may run.
type Kind string

// The kinds of experiment.
const (
	KindMessage   Kind = "message"   // message content or subject line
	KindJourney   Kind = "journey"   // a journey's A/B step
	KindPlacement Kind = "placement" // a decision-API placement (layout, offer)
	KindHoldout   Kind = "holdout"   // a global or per-journey holdout (control = held out)
)

// Status is an experiment's life-cycle state: draft → running → stopped.
// Only a running experiment assigns units and counts exposures.
type Status string

// The statuses.
const (
	StatusDraft   Status = "draft"
	StatusRunning Status = "running"
	StatusStopped Status = "stopped"
)

// MetricKind is how a goal metric turns events into a per-unit value.
type MetricKind string

// The metric kinds.
const (
	// MetricConversion is 1 when the unit did Event (matching Where) within
	// the attribution window after exposure, else 0.
	MetricConversion MetricKind = "conversion"
	// MetricRevenue sums Property (default "revenue") of Event (default
	// "Order Completed") within the window.
	MetricRevenue MetricKind = "revenue"
	// MetricValue sums any numeric Property of Event within the window.
	MetricValue MetricKind = "value"
)

// Metric is one goal of an experiment.
type Metric struct {
	ID       string     `json:"id"`
	Kind     MetricKind `json:"kind"`
	Event    string     `json:"event"`              // event name; required but for revenue
	Property string     `json:"property,omitempty"` // numeric property summed (revenue, value)
	// Where filters events by property equality (string form of the
	// value), e.g. {"plan": "pro"}.
	Where map[string]string `json:"where,omitempty"`
}

// Variant is one arm. The first variant of an experiment is control.
type Variant struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Weight uint32 `json:"weight"`
}

// Experiment is an experiment's definition and state.
type Experiment struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Kind        Kind      `json:"kind"`
	Description string    `json:"description,omitempty"`
	Salt        string    `json:"salt"` // default: the id; never changes once running
	Variants    []Variant `json:"variants"`
	Metrics     []Metric  `json:"metrics"` // the first is the primary metric of the verdict
	// WindowHours is the attribution window: goal events count for this
	// long after a unit's first exposure. Default 168 (7 days).
	WindowHours int `json:"window_hours"`
	// PreDays is the CUPED pre-period: each metric over this many days
	// before exposure is the unit's covariate. 0 turns CUPED off; default 14.
	PreDays *int `json:"pre_days,omitempty"`
	// Bandit turns on Thompson-sampling allocation: new units are assigned
	// by each variant's posterior chance of being best on the primary
	// metric (recomputed at every checkpoint, at least banditFloor of the
	// traffic each), instead of the fixed weights, which then only seed
	// it. Exposed units keep their variant. Meant for offers and subject
	// lines where earning during the test matters more than a clean
	// read-out: the sample-ratio check does not apply, and effects are
	// indicative (traffic shares changed over time).
	Bandit bool `json:"bandit,omitempty"`
	// Bucketing is how units are placed: "" (the default) by Assign's
	// salted hash; BucketProfile, for holdouts only, by the unsalted
	// FNV-1a of the profile id modulo 10000 onto weights that sum to
	// 10000 — the buckets the delivery policy's and the journeys' global
	// holdout have always used, so that the experiment measuring the
	// global holdout holds out exactly the profiles --holdout does.
	Bucketing string `json:"bucketing,omitempty"`
	// The plan behind "days to go": detect a relative change of MDE on
	// the primary metric at level Alpha with Power. Defaults 0.05, 0.05, 0.8.
	MDE   float64 `json:"mde"`
	Alpha float64 `json:"alpha"`
	Power float64 `json:"power"`

	Status  Status     `json:"status"`
	Created time.Time  `json:"created"`
	Started *time.Time `json:"started,omitempty"`
	Stopped *time.Time `json:"stopped,omitempty"`
}

// BucketProfile is the bucketing of the global holdout (see
// Experiment.Bucketing); ProfileBuckets is its number of buckets.
const (
	BucketProfile  = "profile"
	ProfileBuckets = 10000
)

// ProfileBucket is the bucket of unit under BucketProfile: FNV-1a of the
// id modulo ProfileBuckets.
func ProfileBucket(unit string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(unit); i++ {
		h ^= uint64(unit[i])
		h *= prime
	}
	return h % ProfileBuckets
}

// Defaults of the optional fields.
const (
	DefaultWindowHours = 168
	DefaultPreDays     = 14
	DefaultMDE         = 0.05
	DefaultAlpha       = 0.05
	DefaultPower       = 0.8
	maxVariants        = 20
	maxMetrics         = 10
)

// ValidationError names the offending field of a definition.
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

func invalid(field, format string, a ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Normalize fills the defaults and validates x, naming the first field at
// fault.
func (x *Experiment) Normalize() error {
	if !idPattern.MatchString(x.ID) {
		return invalid("id", "%q must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit", x.ID)
	}
	if x.Name == "" {
		x.Name = x.ID
	}
	switch x.Kind {
	case "":
		x.Kind = KindMessage
	case KindMessage, KindJourney, KindPlacement, KindHoldout:
	default:
		return invalid("kind", "%q is not one of message, journey, placement, holdout", x.Kind)
	}
	if x.Salt == "" {
		x.Salt = x.ID
	}
	if len(x.Variants) < 2 || len(x.Variants) > maxVariants {
		return invalid("variants", "need 2 to %d variants (the first is control), got %d", maxVariants, len(x.Variants))
	}
	seen := map[string]bool{}
	var total uint64
	for i := range x.Variants {
		v := &x.Variants[i]
		if !idPattern.MatchString(v.ID) {
			return invalid(fmt.Sprintf("variants[%d].id", i), "%q must be 1-64 letters, digits, '_', '.' or '-'", v.ID)
		}
		if seen[v.ID] {
			return invalid(fmt.Sprintf("variants[%d].id", i), "%q is used twice", v.ID)
		}
		seen[v.ID] = true
		if v.Name == "" {
			v.Name = v.ID
		}
		total += uint64(v.Weight)
	}
	if total == 0 {
		return invalid("variants", "weights sum to 0: give at least one variant a positive weight")
	}
	if len(x.Metrics) == 0 || len(x.Metrics) > maxMetrics {
		return invalid("metrics", "need 1 to %d goal metrics, got %d", maxMetrics, len(x.Metrics))
	}
	seen = map[string]bool{}
	for i := range x.Metrics {
		m := &x.Metrics[i]
		f := fmt.Sprintf("metrics[%d]", i)
		switch m.Kind {
		case MetricConversion, MetricValue:
			if m.Event == "" {
				return invalid(f+".event", "the event name is required for a %s metric", m.Kind)
			}
			if m.Kind == MetricValue && m.Property == "" {
				return invalid(f+".property", "the numeric property to sum is required for a value metric")
			}
		case MetricRevenue:
			if m.Event == "" {
				m.Event = "Order Completed"
			}
			if m.Property == "" {
				m.Property = "revenue"
			}
		default:
			return invalid(f+".kind", "%q is not one of conversion, revenue, value", m.Kind)
		}
		if m.ID == "" {
			m.ID = m.Event
			if m.Kind != MetricConversion {
				m.ID += " " + m.Property
			}
		}
		if seen[m.ID] {
			return invalid(f+".id", "%q is used twice", m.ID)
		}
		seen[m.ID] = true
	}
	switch x.Bucketing {
	case "":
	case BucketProfile:
		if x.Kind != KindHoldout {
			return invalid("bucketing", "%q is for holdout experiments only", x.Bucketing)
		}
		if total != ProfileBuckets {
			return invalid("bucketing", "%q needs weights that sum to %d (basis points), got %d", x.Bucketing, ProfileBuckets, total)
		}
	default:
		return invalid("bucketing", "%q is not one of \"\" (salted hash), %q", x.Bucketing, BucketProfile)
	}
	if x.Bandit && x.Kind == KindHoldout {
		return invalid("bandit", "a holdout keeps its share fixed: bandit allocation does not apply")
	}
	if x.WindowHours == 0 {
		x.WindowHours = DefaultWindowHours
	}
	if x.WindowHours < 0 || x.WindowHours > 24*365 {
		return invalid("window_hours", "%d is outside 1..8760", x.WindowHours)
	}
	if x.PreDays == nil {
		d := DefaultPreDays
		x.PreDays = &d
	}
	if *x.PreDays < 0 || *x.PreDays > 90 {
		return invalid("pre_days", "%d is outside 0..90", *x.PreDays)
	}
	for _, p := range []struct {
		name string
		v    *float64
		def  float64
	}{{"mde", &x.MDE, DefaultMDE}, {"alpha", &x.Alpha, DefaultAlpha}, {"power", &x.Power, DefaultPower}} {
		if *p.v == 0 {
			*p.v = p.def
		}
		if !(*p.v > 0 && *p.v < 1) {
			return invalid(p.name, "%v is outside (0, 1)", *p.v)
		}
	}
	if x.Status == "" {
		x.Status = StatusDraft
	}
	return nil
}

// weights are the variants' weights in order, for Assign.
func (x *Experiment) weights() []uint32 {
	w := make([]uint32, len(x.Variants))
	for i, v := range x.Variants {
		w[i] = v.Weight
	}
	return w
}

// variantIndex finds a variant by id, else by name; -1 if none.
func (x *Experiment) variantIndex(s string) int {
	for i, v := range x.Variants {
		if v.ID == s {
			return i
		}
	}
	for i, v := range x.Variants {
		if v.Name == s {
			return i
		}
	}
	return -1
}
