package segment

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds the built-in customer models that rules use as computed
// fields: RFM scores, the spend tier and the lifecycle stage.
//
// RFM scores and the spend tier rank a profile against everyone else, so
// they need the distribution of every profile's figures: a Models snapshot
// holds its quantile boundaries, computed from the index's aggregates at
// one instant. Between snapshots the boundaries stay put, so one profile's
// order changes that profile's scores only, and a score changes by the
// passing of time only when the figure it ranks does (the trailing spend);
// the engine recomputes the snapshot at start, then every
// ModelRefreshInterval and when asked (RefreshModels), re-evaluating in
// full the segments whose rules read the boundaries. The lifecycle stage
// needs no boundaries: it compares the profile's own order dates with the
// thresholds of ModelOptions.
//
// Every evaluator reads the snapshot from the index (Index.models), and
// the reference is handed the same one (ReferenceWith), so they agree.

// The model fields, as rules name them.
const (
	FieldRFM          = "rfm"
	FieldRFMRecency   = "rfm_recency"
	FieldRFMFrequency = "rfm_frequency"
	FieldRFMMonetary  = "rfm_monetary"
	FieldSpendTier    = "spend_tier"
	FieldLifecycle    = "lifecycle"
)

// Spend tiers.
const (
	TierLow  = "low"
	TierMid  = "mid"
	TierHigh = "high"
)

// Lifecycle stages.
const (
	StageProspect = "prospect" // no order
	StageNew      = "new"      // first order within NewWithin
	StageActive   = "active"   // last order within ActiveWithin
	StageAtRisk   = "at_risk"  // last order ActiveWithin to LapsedAfter ago
	StageLapsed   = "lapsed"   // last order LapsedAfter ago or more
)

// modelValues are the values of the string model fields, for validation:
// comparing with anything else is a typo that would match nobody.
var modelValues = map[string][]string{
	FieldSpendTier: {TierLow, TierMid, TierHigh},
	FieldLifecycle: {StageNew, StageActive, StageAtRisk, StageLapsed, StageProspect},
}

// The quantiles of the models. Boundaries are percentages of the ranked
// population (see quantileBounds).
var (
	// rfmPercents cut the profiles with orders into five equal parts:
	// scores 1 (the bottom fifth) to 5 (the top fifth).
	rfmPercents = []int{20, 40, 60, 80}
	// spendPercents cut the profiles with trailing spend into the bottom
	// SpendLowPercent (low), the top SpendHighPercent (high) and the rest
	// (mid).
	spendPercents = []int{SpendLowPercent, 100 - SpendHighPercent}
)

// The spend tier's shares and window.
const (
	SpendLowPercent  = 50 // bottom half of spenders: low
	SpendHighPercent = 10 // top tenth: high; the 40 % between: mid
	// SpendWindow is the trailing window of spend_tier: orders with
	// now-SpendWindow < time <= now count.
	SpendWindow = 365 * 24 * time.Hour
)

const spendWindowSecs = int64(SpendWindow / time.Second)

// ModelRefreshInterval is how often the engine recomputes the Models
// snapshot after the one it computes at start.
const ModelRefreshInterval = time.Hour

// ModelOptions are the thresholds of the lifecycle stages. A zero field
// takes its default.
type ModelOptions struct {
	// NewWithin: a profile whose first order is younger than this is
	// "new". Default 30 days.
	NewWithin time.Duration `json:"new_within"`
	// ActiveWithin: otherwise, a profile whose last order is younger than
	// this is "active". Default 90 days.
	ActiveWithin time.Duration `json:"active_within"`
	// LapsedAfter: a last order at least this old is "lapsed"; between
	// ActiveWithin and this it is "at_risk". Default 180 days.
	LapsedAfter time.Duration `json:"lapsed_after"`
}

// The default lifecycle thresholds.
const (
	DefaultNewWithin    = 30 * 24 * time.Hour
	DefaultActiveWithin = 90 * 24 * time.Hour
	DefaultLapsedAfter  = 180 * 24 * time.Hour
)

// WithDefaults returns o with every zero field set to its default.
func (o ModelOptions) WithDefaults() ModelOptions {
	if o.NewWithin == 0 {
		o.NewWithin = DefaultNewWithin
	}
	if o.ActiveWithin == 0 {
		o.ActiveWithin = DefaultActiveWithin
	}
	if o.LapsedAfter == 0 {
		o.LapsedAfter = DefaultLapsedAfter
	}
	return o
}

// Validate checks o after defaults: whole seconds (times in rules are
// whole seconds), positive, at most MaxWindow, and ActiveWithin before
// LapsedAfter.
func (o ModelOptions) Validate() error {
	o = o.WithDefaults()
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"new_within", o.NewWithin}, {"active_within", o.ActiveWithin}, {"lapsed_after", o.LapsedAfter}} {
		switch {
		case f.d < time.Second || f.d > MaxWindow:
			return fmt.Errorf("model options: %s %v: want a duration from 1s to 100 years", f.name, f.d)
		case f.d%time.Second != 0:
			return fmt.Errorf("model options: %s %v: want whole seconds", f.name, f.d)
		}
	}
	if o.ActiveWithin >= o.LapsedAfter {
		return fmt.Errorf("model options: active_within %v must be shorter than lapsed_after %v", o.ActiveWithin, o.LapsedAfter)
	}
	return nil
}

// Models is a snapshot of the models' quantile boundaries, taken from the
// index at instant At. It is never modified once built: the index swaps in
// a new one.
//
// Scores and tiers rank a profile's figure against the boundaries of its
// field: the rank is the number of boundaries strictly below the figure
// (so a figure equal to a boundary ranks with the part below it, and ties
// always share a score). A score is 1 + rank; a tier is low, mid, high for
// rank 0, 1, 2. A field whose population was empty at At has no
// boundaries and is absent for every profile (a fresh install gets them
// at the first refresh after its first orders). Every evaluation ranks
// against the current snapshot, a preview at another instant too.
type Models struct {
	At      time.Time    `json:"at"`
	Options ModelOptions `json:"options"`

	// Customers is the RFM population: profiles with at least one order
	// at At. The boundaries below have 4 values each (5 scores).
	Customers int `json:"customers"`
	// RecencyDays are day counts, descending: rfm_recency ranks the
	// profile's whole days from its last order to At, floor((At -
	// last_order) / 1 day), fewer being better: its rank is the number of
	// RecencyDays strictly above its day count. Measured from At, not from
	// now, so that scores do not drift between snapshots while everyone's
	// days grow alike.
	RecencyDays []int64 `json:"recency_days"`
	// Frequency are order counts; rfm_frequency ranks orders.
	Frequency []int64 `json:"frequency"`
	// Monetary are total spends in micro-units; rfm_monetary ranks
	// total_spend.
	Monetary []int64 `json:"monetary_micros"`

	// Spenders is the spend-tier population: profiles whose spend over
	// SpendWindow up to At is positive. Spend has 2 boundaries, in
	// micro-units, on that trailing spend.
	Spenders int     `json:"spenders"`
	Spend    []int64 `json:"spend_micros"`

	// Predictions is the fit the prediction fields use (predictions.go),
	// nil before the first; CLVPercentiles are the 99 percentile
	// boundaries of predicted_clv over the customers at At, in
	// micro-units, which clv_percentile ranks against.
	Predictions    *Predictions `json:"predictions,omitempty"`
	CLVPercentiles []int64      `json:"clv_percentiles_micros,omitempty"`

	// SendHours are every profile's engagement events at At by local hour:
	// best_send_hour's fallback for profiles with too few of their own.
	SendHours sendHours `json:"send_hours"`
}

// options returns m's lifecycle thresholds; the defaults without a snapshot.
func (m *Models) options() ModelOptions {
	if m == nil {
		return ModelOptions{}.WithDefaults()
	}
	return m.Options.WithDefaults()
}

// quantileBounds returns, for each percentage p, the smallest of the
// sorted keys that at least p % of the keys are at or below: the key at
// position ceil(p*n/100) - 1. Integer arithmetic: 60 % of 5 must be 3,
// not 3.0000000000000004. Nil for no keys.
func quantileBounds(sorted []int64, percents []int) []int64 {
	n := len(sorted)
	if n == 0 {
		return nil
	}
	b := make([]int64, len(percents))
	for i, p := range percents {
		b[i] = sorted[max((p*n+99)/100-1, 0)]
	}
	return b
}

// rankBelow is the number of bounds strictly below v.
func rankBelow(bounds []int64, v int64) int {
	n := 0
	for _, b := range bounds {
		if b < v {
			n++
		}
	}
	return n
}

// daysFloor is floor(secs / 1 day), for negative secs too (an order after
// the snapshot is "-1 days" ago: more recent than any).
func daysFloor(secs int64) int64 {
	d := secs / 86400
	if secs%86400 != 0 && secs < 0 {
		d--
	}
	return d
}

// computeModels builds the snapshot of the index at now with lifecycle
// thresholds opts. Caller holds ix.mu.
func computeModels(ix *Index, now time.Time, opts ModelOptions) *Models {
	m := &Models{At: time.Unix(now.Unix(), 0).UTC(), Options: opts.WithDefaults()}
	at := m.At.Unix()
	ev := newEvaluation(ix, m.At, nil, false)
	a := ev.aggregatesNow()
	ev.trailingNow(a)
	var recency, frequency, monetary, spend []int64
	for it := ix.alive.Iterator(); it.HasNext(); {
		o := it.Next()
		if a.ordersAt(int(o)) > 0 {
			// Negated, so that fewer days rank higher like the other keys.
			recency = append(recency, -daysFloor(at-(int64(a.lastOrderAt(int(o)))-1)))
			frequency = append(frequency, int64(a.ordersAt(int(o))))
			monetary = append(monetary, a.spendAt(int(o)))
		}
		if a.trail[o] > 0 {
			spend = append(spend, a.trail[o])
		}
	}
	for _, s := range [][]int64{recency, frequency, monetary, spend} {
		slices.Sort(s)
	}
	m.Customers, m.Spenders = len(frequency), len(spend)
	m.RecencyDays = quantileBounds(recency, rfmPercents)
	for i, b := range m.RecencyDays {
		m.RecencyDays[i] = -b
	}
	m.Frequency = quantileBounds(frequency, rfmPercents)
	m.Monetary = quantileBounds(monetary, rfmPercents)
	m.Spend = quantileBounds(spend, spendPercents)
	m.SendHours = populationSendHours(ix, at)
	return m
}

// modelField computes a model field of profile o from its aggregates at
// now (a.trail must be filled for spend_tier). ok is false for a field
// that is not a model field.
func modelField(field string, a *aggregates, o int, now int64, m *Models) (v computedValue, ok bool) {
	str := func(s string) computedValue { return computedValue{str: s, present: true, isStr: true} }
	switch field {
	case FieldRFM, FieldRFMRecency, FieldRFMFrequency, FieldRFMMonetary:
		if m == nil || m.Customers == 0 || a.ordersAt(int(o)) == 0 {
			return computedValue{}, true
		}
		days := daysFloor(m.At.Unix() - (int64(a.lastOrderAt(int(o))) - 1))
		r := 1
		for _, b := range m.RecencyDays {
			if b > days {
				r++
			}
		}
		f := 1 + rankBelow(m.Frequency, int64(a.ordersAt(int(o))))
		mon := 1 + rankBelow(m.Monetary, a.spendAt(int(o)))
		score := 100*r + 10*f + mon
		switch field {
		case FieldRFMRecency:
			score = r
		case FieldRFMFrequency:
			score = f
		case FieldRFMMonetary:
			score = mon
		}
		return computedValue{num: float64(score), present: true}, true
	case FieldSpendTier:
		if m == nil || m.Spenders == 0 || a.trail[o] <= 0 {
			return computedValue{}, true
		}
		return str([]string{TierLow, TierMid, TierHigh}[rankBelow(m.Spend, a.trail[o])]), true
	case FieldLifecycle:
		return str(lifecycleStage(a.firstOrderAt(o), a.lastOrderAt(int(o)), now, m.options())), true
	}
	return computedValue{}, false
}

// lifecycleStage is the stage at now of a profile with first and last
// order times firstOrder and lastOrder (+1 encoded, 0 = no order).
func lifecycleStage(firstOrder, lastOrder uint32, now int64, o ModelOptions) string {
	if lastOrder == 0 {
		return StageProspect
	}
	fo, lo := int64(firstOrder)-1, int64(lastOrder)-1
	switch {
	case fo > now-secsOf(o.NewWithin):
		return StageNew
	case lo > now-secsOf(o.ActiveWithin):
		return StageActive
	case lo > now-secsOf(o.LapsedAfter):
		return StageAtRisk
	}
	return StageLapsed
}

// lifecycleNext is the instant after now at which the stage changes by
// the passing of time alone (math.MaxInt64 for never). Exact: a stage only
// ever moves on down the list new → active → at_risk → lapsed, and each
// one ends when its own threshold passes.
func lifecycleNext(firstOrder, lastOrder uint32, now int64, o ModelOptions) int64 {
	fo, lo := int64(firstOrder)-1, int64(lastOrder)-1
	switch lifecycleStage(firstOrder, lastOrder, now, o) {
	case StageNew:
		return fo + secsOf(o.NewWithin)
	case StageActive:
		return lo + secsOf(o.ActiveWithin)
	case StageAtRisk:
		return lo + secsOf(o.LapsedAfter)
	}
	return maxInstant
}

const maxInstant = int64(^uint64(0) >> 1)

func secsOf(d time.Duration) int64 { return int64(d / time.Second) }

// usesModels reports whether r, or a segment it refers to, reads a
// snapshot's boundaries (RFM or spend tier). The lifecycle stage reads
// only the options, which a refresh keeps.
func (e *Engine) usesModels(r *Rule, depth int) bool {
	uses := false
	r.walk(func(n *Rule) {
		switch {
		case uses:
		case n.Kind() == KindComputed:
			uses = modelBounded(n.Computed)
		case n.Kind() == KindSegment && depth < MaxDepth:
			if sub, ok := e.resolve(n.Segment); ok {
				uses = e.usesModels(sub, depth+1)
			}
		}
	})
	return uses
}

// modelBounded reports whether field reads the snapshot's boundaries.
func modelBounded(field string) bool {
	switch field {
	case FieldRFM, FieldRFMRecency, FieldRFMFrequency, FieldRFMMonetary, FieldSpendTier:
		return true
	}
	_, pred := predictionFields[field]        // the fit, and the as-of instant
	return pred || field == FieldBestSendHour // the population's hours
}

// Models returns the current snapshot of the models' boundaries; nil
// before the first.
func (e *Engine) Models() *Models {
	e.ix.mu.RLock()
	defer e.ix.mu.RUnlock()
	return e.ix.models
}

// RefreshModels recomputes the models' boundaries from the index at now,
// then re-evaluates in full, recording the transitions, every saved
// segment whose rule (or a segment it refers to) ranks profiles by them.
// The engine calls it at start and every ModelRefreshInterval; the admin
// API may call it on demand.
func (e *Engine) RefreshModels(now time.Time) {
	e.refreshMu.Lock()
	defer e.refreshMu.Unlock()
	ix := e.ix
	start := time.Now()
	// The fit runs without the write lock: the applier keeps going.
	p, snap := e.preparePredictions(now)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if p != nil {
		e.pred = p
	}
	e.computeModelsWith(now, snap)
	if e.loading {
		return
	}
	cause := "models-" + strconv.FormatInt(max(now.Unix(), 0), 10)
	n := 0
	for _, s := range e.order { // dependencies first
		if !e.usesModels(s.def.Rule, 0) {
			continue
		}
		n++
		if err := e.refresh(s, now, cause, true); err != nil {
			slog.Error("segment: evaluation after a models refresh failed", "segment", s.def.ID, "err", err)
		}
	}
	m := ix.models
	slog.Info("segment: models refreshed", "customers", m.Customers, "spenders", m.Spenders,
		"segments", n, "took", time.Since(start))
}

// computeModels replaces the index's snapshot with one at now, keeping the
// options. Caller holds ix.mu for writing.
func (e *Engine) computeModels(now time.Time) { e.computeModelsWith(now, nil) }

// computeModelsWith is computeModels with the customers' predictions
// computed off the lock in snap (nil: compute them here).
func (e *Engine) computeModelsWith(now time.Time, snap *predSnapshot) {
	e.ix.models = computeModels(e.ix, now, e.opts.Models.WithDefaults())
	e.ix.installPredictions(e.ix.models, e.pred, snap)
}

// ParseModelOptions reads lifecycle thresholds as the --lifecycle flag
// writes them: "new=30d,active=90d,lapsed=180d", any subset.
func ParseModelOptions(s string) (ModelOptions, error) {
	var o ModelOptions
	if s == "" {
		return o, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		d, err := ParseDuration(v)
		if !ok || err != nil {
			return o, fmt.Errorf("lifecycle %q: want name=duration, e.g. new=30d,active=90d,lapsed=180d", part)
		}
		switch k {
		case "new":
			o.NewWithin = d
		case "active":
			o.ActiveWithin = d
		case "lapsed":
			o.LapsedAfter = d
		default:
			return o, fmt.Errorf("lifecycle %q: the stages are new, active and lapsed", part)
		}
	}
	return o, o.Validate()
}

// modelLoop refreshes the models every ModelRefreshInterval until ctx ends.
func (e *Engine) modelLoop(ctx context.Context) {
	// Without a saved fit, fit now rather than an interval from now, if
	// there are customers enough (the saved fit is otherwise served, and
	// refit at the first tick).
	e.ix.mu.RLock()
	missing := e.pred == nil
	e.ix.mu.RUnlock()
	if missing {
		if now := e.opts.Now(); e.fitPossible(now) {
			e.RefreshModels(now)
		}
	}
	tick := time.NewTicker(ModelRefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			e.RefreshModels(e.opts.Now())
		}
	}
}

// checkModelValue reports an operand of a string model field that is not
// one of its values. Caller has compiled the comparison.
func checkModelValue(field string, op Op, value any, caseSensitive bool) error {
	allowed, ok := modelValues[field]
	if !ok {
		return nil
	}
	var operands []any
	switch op {
	case Eq, Neq:
		operands = []any{value}
	case In, NotIn:
		operands, _ = value.([]any)
	}
	for _, v := range operands {
		s, _ := v.(string)
		if !caseSensitive {
			s = strings.ToLower(s)
		}
		if !slices.Contains(allowed, s) {
			return fmt.Errorf("%s is one of %s, not %q", field, strings.Join(allowed, ", "), v)
		}
	}
	return nil
}

// modelWhy states the figures behind a model field of the profile in slot
// 0 of a, for explanations; "" for other fields.
func modelWhy(field string, a *aggregates, m *Models) string {
	when := func(t uint32) string { return time.Unix(int64(t)-1, 0).UTC().Format(time.RFC3339) }
	switch field {
	case FieldRFM, FieldRFMRecency, FieldRFMFrequency, FieldRFMMonetary, FieldSpendTier:
		if m == nil {
			return "no models snapshot yet"
		}
		at := m.At.Format(time.RFC3339)
		if field == FieldSpendTier {
			return fmt.Sprintf("spend over the %d days to now %v; against the snapshot of %s: %d spenders, low up to %v, high above %v",
				spendWindowSecs/86400, float64(a.trail[0])/1e6, at, m.Spenders, micros(m.Spend, 0), micros(m.Spend, 1))
		}
		if a.ordersAt(0) == 0 {
			return "no orders"
		}
		return fmt.Sprintf("%d days from the last order to the snapshot of %s, %d orders, total spend %v; quintile boundaries: days %v, orders %v, spend %v",
			daysFloor(m.At.Unix()-(int64(a.lastOrderAt(0))-1)), at, a.ordersAt(0), float64(a.spendAt(0))/1e6,
			m.RecencyDays, m.Frequency, microsList(m.Monetary))
	case FieldLifecycle:
		if a.ordersAt(0) == 0 {
			return "no orders"
		}
		return fmt.Sprintf("first order %s, last order %s", when(a.firstOrderAt(0)), when(a.lastOrderAt(0)))
	}
	return predictionWhy(field, a, m)
}

// micros is bounds[i] in currency units, "none" when there is none.
func micros(bounds []int64, i int) any {
	if i >= len(bounds) {
		return "none"
	}
	return float64(bounds[i]) / 1e6
}

func microsList(bounds []int64) []float64 {
	out := make([]float64, len(bounds))
	for i, b := range bounds {
		out[i] = float64(b) / 1e6
	}
	return out
}
