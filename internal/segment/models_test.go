package segment

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"tailor/internal/event"
)

const oneDay = 24 * time.Hour

// fieldValue is profile id's computed field at now, as an explanation
// shows it (nil when absent). It also checks that the full evaluation
// agrees on whether the field is present.
func fieldValue(t *testing.T, e *Engine, id, field string, now time.Time) any {
	t.Helper()
	e.ix.mu.RLock()
	defer e.ix.mu.RUnlock()
	o, ok := e.ix.lookup(id)
	if !ok {
		t.Fatalf("no profile %s", id)
	}
	r := &Rule{Computed: field, Op: Exists}
	in, ex, err := newSingle(e.ix, o, now, nil, true).rule(r, "")
	if err != nil {
		t.Fatal(err)
	}
	full, err := newEvaluation(e.ix, now, nil, false).rule(r, "")
	if err != nil {
		t.Fatal(err)
	}
	if full.Contains(o) != in {
		t.Fatalf("%s of %s: full evaluation says present %v, single %v", field, id, full.Contains(o), in)
	}
	return ex.Value
}

func order(e *Engine, id string, at time.Time, revenue float64) {
	ev, res := track(id, "Order Completed", at, map[string]any{"revenue": revenue})
	ev.MessageID = fmt.Sprint(id, at.UnixNano())
	e.Apply(ev, res)
}

func TestQuantileBoundsPutTiesInTheLowerPart(t *testing.T) {
	tests := []struct {
		name     string
		keys     []int64
		percents []int
		want     []int64
		scores   map[int64]int // key → 1 + rank
	}{
		{"ten distinct", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, rfmPercents, []int64{2, 4, 6, 8},
			map[int64]int{1: 1, 2: 1, 3: 2, 5: 3, 8: 4, 9: 5, 10: 5}},
		// 60 % of 5 is 3 exactly, not 3.0000000000000004 (which would cut at 4).
		{"five distinct", []int64{10, 20, 30, 40, 50}, rfmPercents, []int64{10, 20, 30, 40},
			map[int64]int{10: 1, 20: 2, 30: 3, 40: 4, 50: 5}},
		{"ties share the lower score", []int64{1, 1, 1, 1, 2}, rfmPercents, []int64{1, 1, 1, 1},
			map[int64]int{1: 1, 2: 5}},
		{"three", []int64{1, 2, 3}, rfmPercents, []int64{1, 2, 2, 3}, map[int64]int{1: 1, 2: 2, 3: 4}},
		{"one", []int64{7}, rfmPercents, []int64{7, 7, 7, 7}, map[int64]int{7: 1, 8: 5}},
		{"none", nil, rfmPercents, nil, nil},
		{"spend halves and tenths", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, spendPercents, []int64{5, 9},
			map[int64]int{5: 1, 6: 2, 9: 2, 10: 3}},
		{"spend of eleven", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1000}, spendPercents, []int64{6, 10},
			map[int64]int{6: 1, 7: 2, 10: 2, 1000: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := quantileBounds(tc.keys, tc.percents)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("bounds = %v, want %v", got, tc.want)
			}
			for k, want := range tc.scores {
				if s := 1 + rankBelow(got, k); s != want {
					t.Errorf("score of %d = %d, want %d", k, s, want)
				}
			}
		})
	}
}

// Profile pI (I = 1..10) has I orders of 10*I each, the last 10*I days ago:
// more orders and spend come with older last orders, so recency runs
// against frequency and monetary.
func TestRFMScoresByQuintile(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	for i := 1; i <= 10; i++ {
		for k := range i {
			order(e, fmt.Sprintf("p%d", i), t0.Add(-time.Duration(10*i+k)*oneDay), float64(10*i))
		}
	}
	ev, res := track("p0", "Signed Up", t0.Add(-oneDay), nil)
	e.Apply(ev, res)
	e.RefreshModels(t0)

	m := e.Models()
	if m.Customers != 10 || !slices.Equal(m.Frequency, []int64{2, 4, 6, 8}) ||
		!slices.Equal(m.RecencyDays, []int64{90, 70, 50, 30}) ||
		!slices.Equal(m.Monetary, []int64{40e6, 160e6, 360e6, 640e6}) {
		t.Fatalf("models = %+v", m)
	}
	tests := []struct {
		id             string
		r, f, mon, rfm any
	}{
		{"p1", 5.0, 1.0, 1.0, 511.0},
		{"p2", 5.0, 1.0, 1.0, 511.0}, // 2 orders, 40: on the boundaries, with the part below
		{"p3", 4.0, 2.0, 2.0, 422.0}, // 30 days: on the boundary, with the part below (older)
		{"p6", 3.0, 3.0, 3.0, 333.0},
		{"p9", 1.0, 5.0, 5.0, 155.0},
		{"p10", 1.0, 5.0, 5.0, 155.0},
		{"p0", nil, nil, nil, nil}, // no orders: no scores
	}
	for _, tc := range tests {
		for field, want := range map[string]any{FieldRFMRecency: tc.r, FieldRFMFrequency: tc.f, FieldRFMMonetary: tc.mon, FieldRFM: tc.rfm} {
			if got := fieldValue(t, e, tc.id, field, t0); got != want {
				t.Errorf("%s %s = %v, want %v", tc.id, field, got, want)
			}
		}
	}
	// Explain shows the figures behind a score.
	if _, err := e.Save(Definition{ID: "champions", Rule: mustRule(t, `{"computed":"rfm","op":"gte","value":500}`)}); err != nil {
		t.Fatal(err)
	}
	ex, member, err := e.Explain("champions", "p1")
	if err != nil || !member || !ex.Result || ex.Value != 511.0 ||
		!strings.Contains(ex.Detail, "10 days from the last order to the snapshot of 2026-11-01T12:00:00Z, 1 orders, total spend 10") {
		t.Errorf("explain p1 = %+v, member %v, err %v", ex, member, err)
	}
	// Recency is measured from the snapshot: a day later nothing moves.
	if got := fieldValue(t, e, "p2", FieldRFMRecency, t0.Add(oneDay)); got != 5.0 {
		t.Errorf("p2 rfm_recency a day later = %v, want 5 until the next snapshot", got)
	}
	// A new order moves the profile at once, against the same boundaries.
	order(e, "p10", t0, 1)
	if got := fieldValue(t, e, "p10", FieldRFM, t0); got != 555.0 {
		t.Errorf("p10 rfm after ordering today = %v, want 555", got)
	}
}

func TestSpendTierByTrailingYear(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	if _, err := e.Save(Definition{ID: "spenders", Rule: mustRule(t, `{"computed":"spend_tier","op":"exists"}`)}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		order(e, fmt.Sprintf("s%d", i), t0.Add(-oneDay), float64(i))
	}
	order(e, "edge", t0.Add(-SpendWindow+time.Second), 1000) // leaves the window in a second
	order(e, "old", t0.Add(-SpendWindow), 1000)              // just out
	order(e, "zero", t0.Add(-oneDay), 0)
	order(e, "future", t0.Add(time.Hour), 5)
	e.RefreshModels(t0)
	if m := e.Models(); m.Spenders != 11 || !slices.Equal(m.Spend, []int64{6e6, 10e6}) {
		t.Fatalf("models = %+v, want 11 spenders cut at 6 and 10", m)
	}
	want := map[string]any{"s1": TierLow, "s6": TierLow, "s7": TierMid, "s10": TierMid, "edge": TierHigh,
		"old": nil, "zero": nil, "future": nil}
	for id, w := range want {
		if got := fieldValue(t, e, id, FieldSpendTier, t0); got != w {
			t.Errorf("%s spend_tier = %v, want %v", id, got, w)
		}
	}
	if _, err := e.Save(Definition{ID: "high", Rule: mustRule(t, `{"computed":"spend_tier","op":"eq","value":"high"}`)}); err != nil {
		t.Fatal(err)
	}
	ex, _, err := e.Explain("high", "edge")
	if err != nil || !ex.Result || ex.Value != TierHigh ||
		!strings.Contains(ex.Detail, "spend over the 365 days to now 1000; against the snapshot of 2026-11-01T12:00:00Z: 11 spenders, low up to 6, high above 10") {
		t.Errorf("explain edge = %+v, err %v", ex, err)
	}
	// The edge order leaves the window, the future one enters it: timers
	// move both without an event.
	e.Transitions()
	c.t = t0.Add(time.Second)
	e.Tick()
	if in, _ := e.Contains("spenders", "edge"); in {
		t.Error("edge still has a spend tier after its only order left the window")
	}
	c.t = t0.Add(time.Hour)
	e.Tick()
	if in, _ := e.Contains("spenders", "future"); !in {
		t.Error("future has no spend tier once its order is due")
	}
	if got := fieldValue(t, e, "future", FieldSpendTier, c.t); got != TierLow {
		t.Errorf("future spend_tier = %v, want low (5 against the snapshot's 6)", got)
	}
}

func TestLifecycleStagesAndTheirEnds(t *testing.T) {
	now := int64(1_800_000_000)
	d := day
	enc := func(ago int64) uint32 { return uint32(now - ago + 1) }
	never := maxInstant
	tests := []struct {
		name        string
		first, last uint32
		want        string
		next        int64
	}{
		{"no orders", 0, 0, StageProspect, never},
		{"first order 10 days ago", enc(10 * d), enc(10 * d), StageNew, now + 20*d},
		{"first order a second short of 30 days", enc(30*d - 1), enc(2 * d), StageNew, now + 1},
		{"first order 30 days ago", enc(30 * d), enc(30 * d), StageActive, now + 60*d},
		{"new ends in active", enc(29 * d), enc(29 * d), StageNew, now + d},
		{"ordered again", enc(400 * d), enc(5 * d), StageActive, now + 85*d},
		{"last order a second short of 90 days", enc(400 * d), enc(90*d - 1), StageActive, now + 1},
		{"last order 90 days ago", enc(400 * d), enc(90 * d), StageAtRisk, now + 90*d},
		{"last order 179 days ago", enc(400 * d), enc(179 * d), StageAtRisk, now + d},
		{"last order 180 days ago", enc(400 * d), enc(180 * d), StageLapsed, never},
	}
	o := ModelOptions{}.WithDefaults()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := lifecycleStage(tc.first, tc.last, now, o); got != tc.want {
				t.Fatalf("stage = %s, want %s", got, tc.want)
			}
			next := lifecycleNext(tc.first, tc.last, now, o)
			if next != tc.next {
				t.Fatalf("next change = now%+d s, want now%+d s", next-now, tc.next-now)
			}
			if next != never {
				// Exact: the stage holds until then and changes at it.
				if s := lifecycleStage(tc.first, tc.last, next-1, o); s != tc.want {
					t.Errorf("stage a second before the change = %s, want %s", s, tc.want)
				}
				if s := lifecycleStage(tc.first, tc.last, next, o); s == tc.want {
					t.Errorf("stage at the change is still %s", s)
				}
			}
		})
	}
}

// Timers move profiles between lifecycle segments at the exact instants.
func TestLifecycleSegmentsFlipOnTime(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	for _, stage := range []string{StageNew, StageActive, StageAtRisk, StageLapsed, StageProspect} {
		r := mustRule(t, fmt.Sprintf(`{"computed":"lifecycle","op":"eq","value":%q}`, stage))
		if _, err := e.Save(Definition{ID: stage, Rule: r}); err != nil {
			t.Fatal(err)
		}
	}
	ev, res := track("p_1", "Signed Up", t0, nil)
	e.Apply(ev, res)
	order(e, "p_1", t0, 20)
	stageOf := func() string {
		var in []string
		for _, s := range []string{StageNew, StageActive, StageAtRisk, StageLapsed, StageProspect} {
			if ok, _ := e.Contains(s, "p_1"); ok {
				in = append(in, s)
			}
		}
		return strings.Join(in, ",")
	}
	steps := []struct {
		at   time.Duration
		want string
	}{
		{0, StageNew},
		{30*oneDay - time.Second, StageNew},
		{30 * oneDay, StageActive},
		{90*oneDay - time.Second, StageActive},
		{90 * oneDay, StageAtRisk},
		{180*oneDay - time.Second, StageAtRisk},
		{180 * oneDay, StageLapsed},
	}
	for _, st := range steps {
		c.t = t0.Add(st.at)
		e.Tick()
		if got := stageOf(); got != st.want {
			t.Fatalf("at t0+%v: in %q, want %q", st.at, got, st.want)
		}
	}
}

// A refresh of the boundaries moves profiles in the segments that rank by
// them, and in the segments that refer to those, with transitions.
func TestRefreshModelsMovesProfilesBetweenSegments(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	for i := 1; i <= 10; i++ {
		order(e, fmt.Sprintf("p%d", i), t0.Add(-oneDay), float64(i))
	}
	e.RefreshModels(t0)
	defs := map[string]string{
		"high":      `{"computed":"spend_tier","op":"eq","value":"high"}`,
		"high-vips": `{"and":[{"segment":"high"},{"computed":"orders","op":"gte","value":1}]}`,
		"lifecycle": `{"computed":"lifecycle","op":"eq","value":"new"}`,
	}
	for _, id := range []string{"high", "high-vips", "lifecycle"} {
		if _, err := e.Save(Definition{ID: id, Rule: mustRule(t, defs[id])}); err != nil {
			t.Fatal(err)
		}
	}
	members := func(id string) []string {
		ids, _, err := e.Members(id, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	if got := members("high"); !slices.Equal(got, []string{"p10"}) {
		t.Fatalf("high = %v, want [p10]", got)
	}
	// A big spender ranks against the old boundaries: p10 (10) and p11 (100)
	// are both above 9.
	c.t = t0.Add(time.Minute)
	order(e, "p11", c.t, 100)
	if got := members("high"); !slices.Equal(got, []string{"p10", "p11"}) {
		t.Fatalf("high before the refresh = %v, want [p10 p11]", got)
	}
	e.Transitions()
	e.RefreshModels(c.t)
	// 11 spenders: the top tenth is above 10 now.
	for _, id := range []string{"high", "high-vips"} {
		if got := members(id); !slices.Equal(got, []string{"p11"}) {
			t.Errorf("%s after the refresh = %v, want [p11]", id, got)
		}
	}
	var moved []string
	for _, tr := range e.Transitions() {
		moved = append(moved, fmt.Sprintf("%s %s %v %s", tr.Segment, tr.Profile, tr.Entered, tr.Cause))
	}
	slices.Sort(moved)
	cause := fmt.Sprint("models-", c.t.Unix())
	want := []string{"high p10 false " + cause, "high-vips p10 false " + cause}
	if !slices.Equal(moved, want) {
		t.Errorf("transitions = %q, want %q", moved, want)
	}
}

// An order dated after now enters a model field when it comes due, even
// after a full refresh of the segment (which resets its timers).
func TestFutureOrderEntersAfterRefresh(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	order(e, "p_1", t0.Add(-oneDay), 10)
	if _, err := e.Save(Definition{ID: "scored", Rule: mustRule(t, `{"computed":"rfm_frequency","op":"exists"}`)}); err != nil {
		t.Fatal(err)
	}
	order(e, "p_2", t0.Add(time.Hour), 10)
	e.RefreshModels(t0)
	if in, _ := e.Contains("scored", "p_2"); in {
		t.Fatal("p_2 is scored before its order")
	}
	c.t = t0.Add(time.Hour)
	e.Tick()
	if in, _ := e.Contains("scored", "p_2"); !in {
		t.Fatal("p_2 is not scored once its order is due")
	}
}

func TestModelFieldRulesValidate(t *testing.T) {
	tests := []struct {
		rule    string
		errPath string // "" for valid
		errHas  string
	}{
		{`{"computed":"lifecycle","op":"eq","value":"at_risk"}`, "", ""},
		{`{"computed":"lifecycle","op":"in","value":["new","ACTIVE"]}`, "", ""},
		{`{"computed":"spend_tier","op":"not_in","value":["low"]}`, "", ""},
		{`{"computed":"spend_tier","op":"exists"}`, "", ""},
		{`{"computed":"rfm","op":"between","value":[500,599]}`, "", ""},
		{`{"computed":"rfm_recency","op":"gte","value":4}`, "", ""},
		{`{"computed":"lifecycle","op":"eq","value":"activ"}`, "/value", `lifecycle is one of new, active, at_risk, lapsed, prospect, not "activ"`},
		{`{"computed":"spend_tier","op":"in","value":["low","top"]}`, "/value", `not "top"`},
		{`{"computed":"spend_tier","op":"eq","value":"High","case_sensitive":true}`, "/value", `not "High"`},
		{`{"computed":"lifecycle","op":"gt","value":1}`, "/op", "gt does not apply to a string"},
		{`{"computed":"spend_tier","op":"eq","value":1}`, "/value", "want a string"},
		{`{"computed":"rfm","op":"eq","value":"545"}`, "/value", "want a number"},
	}
	for _, tc := range tests {
		_, err := ParseJSON([]byte(tc.rule))
		if tc.errPath == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.rule, err)
			}
			continue
		}
		re, ok := err.(*Error)
		if !ok || re.Path != tc.errPath || !strings.Contains(re.Msg, tc.errHas) {
			t.Errorf("%s: error %v, want at %s containing %q", tc.rule, err, tc.errPath, tc.errHas)
		}
	}
}

func TestModelOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    ModelOptions
		bad  string
	}{
		{"defaults", ModelOptions{}, ""},
		{"custom", ModelOptions{NewWithin: 7 * oneDay, ActiveWithin: 30 * oneDay, LapsedAfter: 60 * oneDay}, ""},
		{"negative", ModelOptions{NewWithin: -oneDay}, "new_within"},
		{"fractional", ModelOptions{ActiveWithin: 1500 * time.Millisecond, LapsedAfter: oneDay}, "whole seconds"},
		{"active not before lapsed", ModelOptions{ActiveWithin: 200 * oneDay}, "shorter than lapsed_after"},
	}
	for _, tc := range tests {
		err := tc.o.Validate()
		if (err == nil) != (tc.bad == "") || err != nil && !strings.Contains(err.Error(), tc.bad) {
			t.Errorf("%s: Validate() = %v, want an error naming %q", tc.name, err, tc.bad)
		}
	}
}

// refBounds states quantileBounds independently, from its definition: for
// each percentage p, the smallest key k with at least p % of the keys at
// or below k.
func refBounds(keys []int64, percents []int) []int64 {
	if len(keys) == 0 {
		return nil
	}
	var out []int64
	for _, p := range percents {
		best := int64(0)
		found := false
		for _, k := range keys {
			atOrBelow := 0
			for _, x := range keys {
				if x <= k {
					atOrBelow++
				}
			}
			if atOrBelow*100 >= p*len(keys) && (!found || k < best) {
				best, found = k, true
			}
		}
		out = append(out, best)
	}
	return out
}

// checkModels compares the snapshot m of the index built from ps with the
// boundaries stated from the profiles' events directly.
func checkModels(t *testing.T, m *Models, ps []*RefProfile) {
	t.Helper()
	at := m.At.Unix()
	var recency, frequency, monetary, spend []int64
	for _, p := range ps {
		var orders, total, trailing, last int64
		for _, e := range p.Events {
			if e.Key != "Order Completed" || e.Time > at {
				continue
			}
			rev := event.OrderRevenue(e.Properties)
			if orders == 0 || e.Time > last {
				last = e.Time
			}
			orders++
			total += rev
			if e.Time > at-365*86400 {
				trailing += rev
			}
		}
		if orders > 0 {
			days := (at - last) / 86400
			if (at-last)%86400 != 0 && at < last {
				days--
			}
			recency = append(recency, days)
			frequency = append(frequency, orders)
			monetary = append(monetary, total)
		}
		if trailing > 0 {
			spend = append(spend, trailing)
		}
	}
	// Fewer days are better: the recency boundaries are the days of the
	// quantiles from the most days down.
	neg := make([]int64, len(recency))
	for i, d := range recency {
		neg[i] = -d
	}
	wantRecency := refBounds(neg, rfmPercents)
	for i := range wantRecency {
		wantRecency[i] = -wantRecency[i]
	}
	for _, c := range []struct {
		name      string
		got, want []int64
	}{
		{"recency", m.RecencyDays, wantRecency},
		{"frequency", m.Frequency, refBounds(frequency, rfmPercents)},
		{"monetary", m.Monetary, refBounds(monetary, rfmPercents)},
		{"spend", m.Spend, refBounds(spend, spendPercents)},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("models at %v: %s boundaries %v, want %v", m.At, c.name, c.got, c.want)
		}
	}
	if m.Customers != len(frequency) || m.Spenders != len(spend) {
		t.Errorf("models at %v: %d customers, %d spenders; want %d, %d", m.At, m.Customers, m.Spenders, len(frequency), len(spend))
	}
}

// benchIndex is an index of n profiles with about 5 events each, 2 of them
// orders, over the 400 days before t0.
func benchIndex(n int) *Index {
	ix := NewIndex()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		o := ix.ord(fmt.Sprint("p", i))
		for k := range 1 + rng.IntN(9) {
			e := &event.Event{Type: event.Track, Event: "Product Viewed", Timestamp: t0.Add(-time.Duration(rng.Int64N(400*86400)) * time.Second)}
			if k%2 == 1 {
				e.Event, e.Properties = event.OrderCompleted, map[string]any{"revenue": float64(rng.IntN(50000)) / 100}
			}
			ix.add(o, e, EventKey(e))
		}
	}
	return ix
}

// The models refresh against full evaluations of one leaf over the same
// index: total_spend (the aggregates only) and spend_tier (plus a scan of
// the orders).
func BenchmarkModels(b *testing.B) {
	ix := benchIndex(100_000)
	for _, bc := range []struct {
		name string
		run  func()
	}{
		{"computeModels", func() { computeModels(ix, t0, ModelOptions{}) }},
		{"eval total_spend", func() {
			newEvaluation(ix, t0, nil, true).rule(&Rule{Computed: "total_spend", Op: Gt, Value: 100.0}, "")
		}},
		{"eval spend_tier", func() {
			newEvaluation(ix, t0, nil, true).rule(&Rule{Computed: FieldSpendTier, Op: Eq, Value: TierHigh}, "")
		}},
		{"eval lifecycle", func() {
			newEvaluation(ix, t0, nil, true).rule(&Rule{Computed: FieldLifecycle, Op: Eq, Value: StageActive}, "")
		}},
		{"eval rfm", func() {
			newEvaluation(ix, t0, nil, true).rule(&Rule{Computed: FieldRFM, Op: Gte, Value: 500.0}, "")
		}},
	} {
		ix.models = computeModels(ix, t0, ModelOptions{})
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.run()
			}
		})
	}
}

func TestParseModelOptions(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    ModelOptions
		wantErr string
	}{
		{"", ModelOptions{}, ""},
		{"new=14d", ModelOptions{NewWithin: 14 * 24 * time.Hour}, ""},
		{"new=14d, active=60d,lapsed=1w", ModelOptions{}, "must be shorter"},
		{"active=60d,lapsed=365d", ModelOptions{ActiveWithin: 60 * 24 * time.Hour, LapsedAfter: 365 * 24 * time.Hour}, ""},
		{"old=3d", ModelOptions{}, "the stages are new, active and lapsed"},
		{"new", ModelOptions{}, "want name=duration"},
		{"new=soon", ModelOptions{}, "want name=duration"},
	} {
		got, err := ParseModelOptions(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
