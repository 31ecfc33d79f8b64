package segment

import (
	"math"
	"math/big"
	"slices"
	"time"

	"tailor/internal/event"
	"tailor/internal/predict"
)

// This file is the reference evaluator: the slow, obviously correct
// statement of what a rule means, which the columnar evaluator and the SQL
// check are tested against. It is a plain walk over one profile's events
// per condition, and shares with the fast path only the comparisons
// (compileComparison, match, matchTime), so that a bug in how a condition
// gathers its values cannot hide in both. Keep it that way: clarity here is
// worth any amount of speed.

// RefProfile is one profile as the reference evaluator reads it.
type RefProfile struct {
	ID string
	// Traits holds trait values as decoded from JSON (string, float64,
	// bool, []any, map[string]any). A JSON null is the same as an absent
	// trait.
	Traits map[string]any
	// Events are the profile's events, in any order.
	Events []RefEvent
	// Reachable lists the channels consent allows marketing on (what
	// the server feeds the index from package consent).
	Reachable []string
}

// RefEvent is one event as the reference evaluator reads it.
type RefEvent struct {
	// Key is the event's EventKey: what an event condition names.
	Key string
	// Time is the event's timestamp in unix seconds, truncated.
	Time int64
	// Properties holds the event's properties as decoded from JSON.
	Properties map[string]any
}

// EventKey is the name an event condition uses for e: a track's event name,
// else "$" and the call type ("$page", "$screen", "$identify", "$group",
// "$alias").
func EventKey(e *event.Event) string {
	switch e.Type {
	case event.Track:
		return e.Event
	// The keys of the other types are constants: no string built per event.
	case event.Identify:
		return "$identify"
	case event.Page:
		return "$page"
	case event.Screen:
		return "$screen"
	case event.Group:
		return "$group"
	case event.Alias:
		return "$alias"
	}
	return "$" + string(e.Type)
}

// Reference reports whether profile p matches rule r at the instant now
// (unix seconds); member answers segment conditions (a nil member belongs
// to no segment). r should have passed Validate: on a node that has not,
// Reference still returns without panicking, but its answer is unspecified.
// A nil p is a profile with no traits and no events.
//
// The semantics, node by node, which every evaluator follows:
//
//   - Events after now do not exist, for every condition below.
//   - Trait: the trait's value (nil when absent or null) is matched with the
//     rule's comparison (see comparison.match: a missing value or one of
//     another type than the operand only satisfies not_exists).
//   - Computed: see refComputed.
//   - Event: see refEvent.
//   - Segment: member(r.Segment).
//   - Reachable: the channel is one of p.Reachable.
//   - And: every child holds; Or: some child holds; Not: the child does not.
//
// Reference has no models snapshot: the RFM and spend-tier fields are
// absent and the lifecycle stage takes the default thresholds (see
// ReferenceWith).
func Reference(r *Rule, p *RefProfile, now int64, member func(segment string) bool) bool {
	return ReferenceWith(r, p, now, member, nil)
}

// ReferenceWith is Reference with the models snapshot m (nil for none)
// that the model fields rank profiles by: the same snapshot the evaluator
// under test holds.
func ReferenceWith(r *Rule, p *RefProfile, now int64, member func(segment string) bool, m *Models) bool {
	if r == nil {
		return false
	}
	if p == nil {
		p = &RefProfile{}
	}
	switch r.Kind() {
	case KindAnd:
		for _, c := range r.And {
			if !ReferenceWith(c, p, now, member, m) {
				return false
			}
		}
		return true
	case KindOr:
		for _, c := range r.Or {
			if ReferenceWith(c, p, now, member, m) {
				return true
			}
		}
		return false
	case KindNot:
		return !ReferenceWith(r.Not, p, now, member, m)
	case KindTrait:
		c, err := compileComparison(r.Op, r.Value, r.CaseSensitive, anyType)
		if err != nil {
			return false
		}
		return c.match(p.Traits[r.Trait], now)
	case KindComputed:
		return refComputed(r, p, now, m)
	case KindEvent:
		return refEvent(r, p, now)
	case KindSegment:
		return member != nil && member(r.Segment)
	case KindReachable:
		return slices.Contains(p.Reachable, r.Reachable)
	}
	return false
}

// refComputed evaluates a computed-field condition. Every field is derived
// from the profile's events at or before now:
//
//   - event_count: the number of events, of every key, except the events
//     Tailor records itself (segment_entered, segment_exited: see
//     systemEvents), which no computed field counts;
//   - orders: the number of "Order Completed" events;
//   - total_spend: the sum of their event.OrderRevenue in micro-units,
//     divided by 1e6. The sum is exact, as profiles keep it (in 128 bits):
//     it equals an int64 sum until that overflows, past about 9.2e12
//     currency units;
//   - average_order_value: that micro-unit sum / orders / 1e6; absent
//     without orders;
//   - first_seen, last_seen: the earliest and latest event time; absent
//     without events;
//   - first_order, last_order: the same over Order Completed; absent
//     without orders;
//   - days_since_last_order, days_since_last_seen: whole days from
//     last_order or last_seen to now, floor((now - t) / 86400); absent when
//     that time is.
//
// The model fields (see models.go for the why), with m the snapshot:
//
//   - rfm_recency, rfm_frequency, rfm_monetary: absent without orders, or
//     without a snapshot, or when its Customers is 0. Else 1 + the number
//     of boundaries strictly below the profile's figure: Frequency below
//     orders, Monetary below the micro-unit spend; for recency, fewer days
//     are better: 1 + the number of RecencyDays strictly above
//     floor((m.At - last_order) / 86400) (a floor, for negative
//     differences too);
//   - rfm: 100*recency + 10*frequency + monetary, absent with them;
//   - spend_tier: the trailing spend is the micro-unit sum of
//     event.OrderRevenue over the Order Completed events with
//     now-SpendWindow < time <= now; absent when it is not positive, or
//     without a snapshot, or when its Spenders is 0; else low, mid or high
//     for 0, 1 or 2 of m.Spend strictly below it;
//   - lifecycle: with m's options (the defaults without m): prospect
//     without orders; new when first_order > now - NewWithin; else active
//     when last_order > now - ActiveWithin; else at_risk when last_order >
//     now - LapsedAfter; else lapsed.
//
// Number fields are matched with comparison.match (event_count, orders and
// total_spend are always present, 0 without events); time fields with
// matchTime; string fields with comparison.match.
// An absent field satisfies not_exists and nothing else.
func refComputed(r *Rule, p *RefProfile, now int64, m *Models) bool {
	want, ok := computedFields[r.Computed]
	if !ok {
		return false
	}
	c, err := compileComparison(r.Op, r.Value, r.CaseSensitive, want)
	if err != nil {
		return false
	}

	var (
		events, orders        int64
		spend                 = new(big.Int)
		firstSeen, lastSeen   int64
		firstOrder, lastOrder int64
		seenAny, orderedAny   bool
		trailing              = new(big.Int)
	)
	for _, e := range p.Events {
		if e.Time > now || systemEvents[e.Key] {
			continue
		}
		events++
		if !seenAny || e.Time < firstSeen {
			firstSeen = e.Time
		}
		if !seenAny || e.Time > lastSeen {
			lastSeen = e.Time
		}
		seenAny = true
		if e.Key != event.OrderCompleted {
			continue
		}
		orders++
		spend.Add(spend, big.NewInt(event.OrderRevenue(e.Properties)))
		if e.Time > now-int64(SpendWindow/time.Second) {
			trailing.Add(trailing, big.NewInt(event.OrderRevenue(e.Properties)))
		}
		if !orderedAny || e.Time < firstOrder {
			firstOrder = e.Time
		}
		if !orderedAny || e.Time > lastOrder {
			lastOrder = e.Time
		}
		orderedAny = true
	}

	number := func(present bool, v float64) bool {
		if !present {
			return c.match(nil, now)
		}
		return c.match(v, now)
	}
	instant := func(present bool, t int64) bool {
		if !present {
			return c.op == NotExists
		}
		return c.matchTime(t, now)
	}
	switch r.Computed {
	case "event_count":
		return number(true, float64(events))
	case "orders":
		return number(true, float64(orders))
	case "total_spend":
		return number(true, refFloat(spend)/1e6)
	case "average_order_value":
		return number(orders > 0, refFloat(spend)/float64(orders)/1e6)
	case "first_seen":
		return instant(seenAny, firstSeen)
	case "last_seen":
		return instant(seenAny, lastSeen)
	case "first_order":
		return instant(orderedAny, firstOrder)
	case "last_order":
		return instant(orderedAny, lastOrder)
	case "days_since_last_order":
		// Division truncates, which is the floor: the times are <= now.
		return number(orderedAny, float64((now-lastOrder)/86400))
	case "days_since_last_seen":
		return number(seenAny, float64((now-lastSeen)/86400))
	case FieldRFM, FieldRFMRecency, FieldRFMFrequency, FieldRFMMonetary:
		if m == nil || m.Customers == 0 || !orderedAny {
			return c.match(nil, now)
		}
		days := new(big.Int).Div(big.NewInt(m.At.Unix()-lastOrder), big.NewInt(86400)) // Euclidean: a floor for a positive divisor
		recency, frequency, monetary := 1, 1, 1
		for _, b := range m.RecencyDays {
			if big.NewInt(b).Cmp(days) > 0 {
				recency++
			}
		}
		for _, b := range m.Frequency {
			if b < orders {
				frequency++
			}
		}
		for _, b := range m.Monetary {
			if big.NewInt(b).Cmp(spend) < 0 {
				monetary++
			}
		}
		score := map[string]int{
			FieldRFM:          recency*100 + frequency*10 + monetary,
			FieldRFMRecency:   recency,
			FieldRFMFrequency: frequency,
			FieldRFMMonetary:  monetary,
		}[r.Computed]
		return c.match(float64(score), now)
	case FieldSpendTier:
		if m == nil || m.Spenders == 0 || trailing.Sign() <= 0 {
			return c.match(nil, now)
		}
		above := 0
		for _, b := range m.Spend {
			if big.NewInt(b).Cmp(trailing) < 0 {
				above++
			}
		}
		return c.match([]string{TierLow, TierMid, TierHigh}[above], now)
	case FieldLifecycle:
		o := ModelOptions{}.WithDefaults()
		if m != nil {
			o = m.Options.WithDefaults()
		}
		stage := StageLapsed
		switch {
		case !orderedAny:
			stage = StageProspect
		case firstOrder > now-int64(o.NewWithin/time.Second):
			stage = StageNew
		case lastOrder > now-int64(o.ActiveWithin/time.Second):
			stage = StageActive
		case lastOrder > now-int64(o.LapsedAfter/time.Second):
			stage = StageAtRisk
		}
		return c.match(stage, now)
	}
	if r.Computed == FieldReplenishmentDue {
		// The mean gap between orders after the last one.
		if orders < 2 || lastOrder <= firstOrder {
			return c.op == NotExists
		}
		return c.matchTime(lastOrder+(lastOrder-firstOrder)/(orders-1), now)
	}
	if r.Computed == FieldBestSendHour {
		if h, ok := refBestSendHour(p, now, m); ok {
			return c.match(h, now)
		}
		return c.match(nil, now)
	}
	if _, ok := predictionFields[r.Computed]; ok {
		if !orderedAny {
			return refPrediction(r.Computed, c, now, nil, 0, spend, 0, 0)
		}
		return refPrediction(r.Computed, c, now, m, orders, spend, firstOrder, lastOrder)
	}
	return false
}

// refPrediction matches a prediction field of a profile with the given
// orders (count, micro-unit spend, first and last order time):
//
//   - absent without orders, or without a fit in m;
//   - the as-of instant is max(m.At, last order); in weeks (seconds /
//     604800), x = orders − 1 when the last order is after the first (else
//     0), t_x = last − first when x > 0, T = as-of − first; the mean value
//     is spend / orders in currency units, 0 if negative;
//   - p_alive, predicted_orders (90 days = 90/7 weeks), expected_order_value,
//     predicted_clv (12 months at 1 %) are predict's functions of those;
//     churn_risk is 1 − p_alive; next_order_in_days is 7 × NextOrderIn;
//     next_order_date is as-of + the truncated seconds of NextOrderIn,
//     absent beyond MaxWindow;
//   - clv_percentile counts m.CLVPercentiles strictly below the CLV rounded
//     to micro-units; absent without boundaries.
func refPrediction(field string, c *comparison, now int64, m *Models, orders int64, spend *big.Int, first, last int64) bool {
	if m == nil || m.Predictions == nil || orders == 0 {
		return c.match(nil, now)
	}
	asOf := m.At.Unix()
	if last > asOf {
		asOf = last
	}
	var in predict.Customer
	if last > first {
		in.X = float64(orders - 1)
		in.Tx = float64(last-first) / (7 * 86400)
	}
	in.T = float64(asOf-first) / (7 * 86400)
	in.M = math.Max(float64(spend.Int64())/1e6/float64(orders), 0)
	md := predict.Model{BG: m.Predictions.BGNBD, GG: m.Predictions.GammaGamma}
	clv, orders90 := md.Values(in, predict.CLVOptions{Months: 12, MonthlyDiscount: 0.01}, 90.0/7)
	number := func(v float64) bool { // a figure that overflowed is absent
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return c.match(nil, now)
		}
		return c.match(v, now)
	}
	switch field {
	case FieldPAlive:
		return number(md.BG.PAlive(in))
	case FieldChurnRisk:
		return number(1 - md.BG.PAlive(in))
	case FieldPredictedOrders:
		return number(orders90)
	case FieldExpectedOrderValue:
		return number(md.GG.ExpectedValue(in.X, in.M))
	case FieldPredictedCLV:
		return number(clv)
	case FieldNextOrderInDays:
		return number(md.BG.NextOrderIn(in) * 7)
	case FieldNextOrderDate:
		secs := md.BG.NextOrderIn(in) * (7 * 86400)
		if !(secs >= 0) || secs > float64(MaxWindow/time.Second) {
			return c.op == NotExists
		}
		return c.matchTime(asOf+int64(secs), now)
	case FieldCLVPercentile:
		if len(m.CLVPercentiles) == 0 || math.IsNaN(clv) || math.IsInf(clv, 0) {
			return c.match(nil, now)
		}
		micros := int64(math.Round(clv * 1e6))
		below := 0
		for _, b := range m.CLVPercentiles {
			if b < micros {
				below++
			}
		}
		return c.match(float64(below), now)
	}
	return false
}

// refEvent evaluates an event condition.
//
// The matching events are those whose Key is r.Event, at or before now,
// inside the window, and for which every filter holds. The windows, in
// whole seconds (a Since or From/To instant is truncated to its second):
//
//   - Last d:    now-d < Time <= now
//   - Since s:   s <= Time <= now
//   - From f, To t: f <= Time < t (and Time <= now, as always)
//
// A filter holds on an event when some value its path yields (every element
// for a products[].field path, each filter choosing its element on its
// own) is non-nil and matches; exists holds when some non-nil value is
// yielded, not_exists when none is.
//
// The measure of the matching events is then compared:
//
//   - count (the default): their number, as a float64; with no op and no
//     value the condition is "count >= 1";
//   - sum, avg, min, max: over the float64 values at path Of in the matching
//     events (every element for a [] path; values of other types ignored).
//     sum is the exact sum (as for total_spend) of event.Micros of the
//     values, / 1e6: 0 without values. avg is that micro-unit sum / number
//     of values / 1e6. min and max are the plain float64 extremes. avg,
//     min and max are absent without values;
//   - first, last: the earliest and latest time of a matching event,
//     compared with matchTime; absent without matching events.
//
// An absent measure satisfies not_exists and nothing else.
func refEvent(r *Rule, p *RefProfile, now int64) bool {
	inWindow, ok := refWindow(r.Within, now)
	if !ok {
		return false
	}
	filters := make([]*comparison, len(r.Where))
	paths := make([]Path, len(r.Where))
	for i, f := range r.Where {
		if f == nil {
			return false
		}
		c, err := compileComparison(f.Op, f.Value, f.CaseSensitive, anyType)
		if err != nil {
			return false
		}
		path, err := ParsePath(f.Property)
		if err != nil {
			return false
		}
		filters[i], paths[i] = c, path
	}

	var matching []RefEvent
	for _, e := range p.Events {
		if e.Key != r.Event || e.Time > now || !inWindow(e.Time) {
			continue
		}
		all := true
		for i := range filters {
			if !refFilter(filters[i], paths[i], e.Properties, now) {
				all = false
				break
			}
		}
		if all {
			matching = append(matching, e)
		}
	}

	measure := r.Measure
	if measure == "" {
		measure = MeasureCount
	}
	if measure == MeasureCount && r.Op == "" && r.Value == nil {
		return len(matching) >= 1
	}
	want := typeNumber
	if measure == MeasureFirst || measure == MeasureLast {
		want = typeTime
	}
	c, err := compileComparison(r.Op, r.Value, r.CaseSensitive, want)
	if err != nil {
		return false
	}

	switch measure {
	case MeasureCount:
		return c.match(float64(len(matching)), now)

	case MeasureFirst, MeasureLast:
		if len(matching) == 0 {
			return c.op == NotExists
		}
		t := matching[0].Time
		for _, e := range matching[1:] {
			if measure == MeasureFirst && e.Time < t || measure == MeasureLast && e.Time > t {
				t = e.Time
			}
		}
		return c.matchTime(t, now)

	case MeasureSum, MeasureAvg, MeasureMin, MeasureMax:
		of, err := ParsePath(r.Of)
		if err != nil {
			return false
		}
		var values []float64
		for _, e := range matching {
			of.Values(e.Properties, func(v any) bool {
				if f, ok := v.(float64); ok {
					values = append(values, f)
				}
				return true
			})
		}
		micros := new(big.Int)
		for _, v := range values {
			micros.Add(micros, big.NewInt(event.Micros(v)))
		}
		if measure == MeasureSum {
			return c.match(refFloat(micros)/1e6, now)
		}
		if len(values) == 0 {
			return c.match(nil, now)
		}
		switch measure {
		case MeasureAvg:
			return c.match(refFloat(micros)/float64(len(values))/1e6, now)
		case MeasureMin:
			m := values[0]
			for _, v := range values[1:] {
				m = min(m, v)
			}
			return c.match(m, now)
		default:
			m := values[0]
			for _, v := range values[1:] {
				m = max(m, v)
			}
			return c.match(m, now)
		}
	}
	return false
}

// refFilter reports whether filter c on path holds on one event's
// properties (see refEvent).
func refFilter(c *comparison, path Path, props map[string]any, now int64) bool {
	sawValue, matched := false, false
	path.Values(props, func(v any) bool {
		if !scalar(v) {
			return true // lists and objects are absent to filters (Filter)
		}
		sawValue = true
		if c.match(v, now) {
			matched = true
		}
		return true
	})
	switch c.op {
	case Exists:
		return sawValue
	case NotExists:
		return !sawValue
	}
	return matched
}

// refWindow returns the test of an event time against w at now (every time
// passes a nil window); ok is false when w does not parse.
func refWindow(w *Window, now int64) (in func(t int64) bool, ok bool) {
	switch {
	case w == nil:
		return func(int64) bool { return true }, true
	case w.Last != "":
		d, err := ParseDuration(w.Last)
		if err != nil {
			return nil, false
		}
		secs := int64(d / time.Second)
		return func(t int64) bool { return now-secs < t && t <= now }, true
	case w.Since != "":
		s, err := ParseTime(w.Since)
		if err != nil {
			return nil, false
		}
		since := s.Unix()
		return func(t int64) bool { return since <= t && t <= now }, true
	default:
		f, err := ParseTime(w.From)
		if err != nil {
			return nil, false
		}
		to, err := ParseTime(w.To)
		if err != nil {
			return nil, false
		}
		from, until := f.Unix(), to.Unix()
		return func(t int64) bool { return from <= t && t < until }, true
	}
}

// refFloat is x rounded to the nearest float64: the same value as
// float64(int64) whenever x fits an int64.
func refFloat(x *big.Int) float64 {
	f, _ := new(big.Float).SetInt(x).Float64()
	return f
}
