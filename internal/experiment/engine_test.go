package experiment

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func def(id string, pre int, metrics ...Metric) Experiment {
	if len(metrics) == 0 {
		metrics = []Metric{{ID: "purchase", Kind: MetricConversion, Event: "Order Completed"}}
	}
	return Experiment{ID: id, Variants: []Variant{{ID: "a", Name: "A", Weight: 50}, {ID: "b", Name: "B", Weight: 50}},
		Metrics: metrics, WindowHours: 48, PreDays: &pre}
}

func running(t testing.TB, e *Engine, x Experiment) {
	t.Helper()
	if _, err := e.Create(x); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Start(x.ID); err != nil {
		t.Fatal(err)
	}
}

func track(name string, at time.Time, props map[string]any) *event.Event {
	return &event.Event{Type: event.Track, Event: name, Timestamp: at, Properties: props}
}

func expose(e *Engine, exp, prof, variant string, at time.Time) {
	e.Apply(track(ExposureEvent, at, map[string]any{"experiment_id": exp, "variant": variant}), profile.Resolution{Profile: prof})
}

func TestEngineCountsGoalsInsideTheWindowOnly(t *testing.T) {
	e := New(Options{Now: func() time.Time { return t0.Add(72 * time.Hour) }})
	running(t, e, def("x", 0,
		Metric{ID: "purchase", Kind: MetricConversion, Event: "Order Completed"},
		Metric{ID: "revenue", Kind: MetricRevenue},
		Metric{ID: "pro signups", Kind: MetricConversion, Event: "Signed Up", Where: map[string]string{"plan": "pro"}}))
	order := func(prof string, at time.Time, rev float64) {
		e.Apply(track("Order Completed", at, map[string]any{"revenue": rev}), profile.Resolution{Profile: prof})
	}
	order("p1", t0.Add(-time.Hour), 99) // before exposure: not counted
	expose(e, "x", "p1", "a", t0)
	expose(e, "x", "p2", "b", t0)
	expose(e, "x", "p2", "a", t0.Add(time.Minute)) // a conflicting second exposure: first wins, counted
	expose(e, "x", "p3", "zzz", t0)                // unknown variant
	order("p1", t0.Add(time.Hour), 10)
	order("p1", t0.Add(47*time.Hour), 5)
	order("p1", t0.Add(49*time.Hour), 1000) // after the 48 h window
	order("p2", t0.Add(2*time.Hour), 7)
	e.Apply(track("Signed Up", t0.Add(time.Hour), map[string]any{"plan": "free"}), profile.Resolution{Profile: "p2"})
	e.Apply(track("Signed Up", t0.Add(time.Hour), map[string]any{"plan": "pro"}), profile.Resolution{Profile: "p1"})

	r, err := e.Results("x")
	if err != nil {
		t.Fatal(err)
	}
	if r.Variants[0].Units != 1 || r.Variants[1].Units != 1 {
		t.Errorf("units %+v, want 1 and 1", r.Variants)
	}
	if r.Conflicts != 1 || r.Unknown != 1 {
		t.Errorf("conflicts %d unknown %d, want 1 and 1", r.Conflicts, r.Unknown)
	}
	want := map[string][2]float64{"purchase": {1, 1}, "revenue": {15, 7}, "pro signups": {1, 0}}
	for _, m := range r.Metrics {
		got := [2]float64{m.Variants[0].Total, m.Variants[1].Total}
		if got != want[m.ID] {
			t.Errorf("metric %s totals %v, want %v", m.ID, got, want[m.ID])
		}
	}
}

func TestPlacementImpressionsExposeTheirExperiment(t *testing.T) {
	e := New(Options{Now: func() time.Time { return t0.Add(time.Hour) }})
	running(t, e, def("x", 0, Metric{ID: "purchase", Kind: MetricConversion, Event: "Order Completed"}))
	seen := func(prof string, props map[string]any) {
		e.Apply(track(PlacementExposure, t0, props), profile.Resolution{Profile: prof})
	}
	seen("p1", map[string]any{"placement_id": "hero", "experiment_id": "x", "experiment_variant": "a"})
	seen("p2", map[string]any{"placement_id": "hero", "experiment_id": "x", "experiment_variant": "b"})
	seen("p3", map[string]any{"placement_id": "hero"})                                                  // no experiment
	seen("p4", map[string]any{"placement_id": "hero", "experiment_id": "y", "experiment_variant": "a"}) // another one
	e.Apply(track("Order Completed", t0.Add(time.Minute), nil), profile.Resolution{Profile: "p2"})
	r, err := e.Results("x")
	if err != nil {
		t.Fatal(err)
	}
	if r.Variants[0].Units != 1 || r.Variants[1].Units != 1 {
		t.Errorf("units %+v, want 1 and 1", r.Variants)
	}
	if got := [2]float64{r.Metrics[0].Variants[0].Total, r.Metrics[0].Variants[1].Total}; got != [2]float64{0, 1} {
		t.Errorf("purchases %v, want [0 1]", got)
	}
}

func TestEngineIgnoresExperimentsNotRunning(t *testing.T) {
	e := New(Options{})
	if _, err := e.Create(def("draft", 0)); err != nil {
		t.Fatal(err)
	}
	expose(e, "draft", "p1", "a", t0)
	if _, ok := e.Assign("draft", "p1"); ok {
		t.Error("a draft assigned a variant")
	}
	if r, _ := e.Results("draft"); r.Variants[0].Units != 0 {
		t.Error("a draft counted an exposure")
	}
}

func TestEnginePrePeriodBecomesTheCovariate(t *testing.T) {
	e := New(Options{Now: func() time.Time { return t0 }})
	running(t, e, def("x", 7, Metric{ID: "rev", Kind: MetricRevenue}))
	e.Apply(track("Order Completed", t0.Add(-10*24*time.Hour), map[string]any{"revenue": 100.0}), profile.Resolution{Profile: "p1"}) // older than 7 days
	e.Apply(track("Order Completed", t0.Add(-2*24*time.Hour), map[string]any{"revenue": 30.0}), profile.Resolution{Profile: "p1"})
	e.Apply(track("Order Completed", t0.Add(-1*24*time.Hour), map[string]any{"revenue": "12.5"}), profile.Resolution{Profile: "p1"})
	expose(e, "x", "p1", "b", t0)
	s := e.exps["x"]
	i, _ := s.byProfile.Get("p1")
	if got := s.vals[int(i)*s.stride()+1]; got != 42.5 {
		t.Errorf("pre-period covariate %v, want 42.5 (30 + 12.5; the 10-day-old order is outside 7 days)", got)
	}
	if len(s.pre) != 0 {
		t.Errorf("pre-period buffer kept %d profiles after exposure", len(s.pre))
	}
}

func TestAssignmentIsStickyAcrossMerges(t *testing.T) {
	e := New(Options{})
	running(t, e, def("x", 0))
	// Find two profiles the hash puts in different variants.
	anon, known := "anon-1", ""
	va, _ := e.Assign("x", anon)
	for i := range 100 {
		p := "user-" + strconv.Itoa(i)
		if v, _ := e.Assign("x", p); v != va {
			known = p
			break
		}
	}
	expose(e, "x", anon, va, t0)
	// The anonymous profile merges into the known one (it survives).
	e.Apply(track("Signed In", t0.Add(time.Hour), nil), profile.Resolution{Profile: known, Merged: []string{anon}})
	if v, ok := e.Assign("x", known); !ok || v != va {
		t.Errorf("after the merge %s gets %q, want the variant %q its merged profile was shown", known, v, va)
	}
	e.Apply(track("Order Completed", t0.Add(2*time.Hour), nil), profile.Resolution{Profile: known})
	r, _ := e.Results("x")
	idx := 0
	if va == "b" {
		idx = 1
	}
	if got := r.Metrics[0].Variants[idx]; got.Units != 1 || got.Total != 1 {
		t.Errorf("variant %s row %+v, want the one unit with its conversion after the merge", va, got)
	}
	s := e.exps["x"]
	i, _ := s.byProfile.Get(known)
	if id := s.ids.String(s.units[i].id); id != anon {
		t.Errorf("unit id %q, want the first-known id %q", id, anon)
	}
}

func TestMergeOfTwoExposedProfilesKeepsTheEarlierExposure(t *testing.T) {
	e := New(Options{})
	running(t, e, def("x", 0))
	expose(e, "x", "early", "b", t0)
	expose(e, "x", "late", "a", t0.Add(time.Hour))
	e.Apply(track("Order Completed", t0.Add(2*time.Hour), nil), profile.Resolution{Profile: "late"})
	e.Apply(track("Merged", t0.Add(3*time.Hour), nil), profile.Resolution{Profile: "late", Merged: []string{"early"}})
	if v, _ := e.Assign("x", "late"); v != "b" {
		t.Errorf("survivor's variant %q, want b (the earlier exposure)", v)
	}
	r, _ := e.Results("x")
	if r.Variants[0].Units != 0 || r.Variants[1].Units != 1 || r.Metrics[0].Variants[1].Total != 1 {
		t.Errorf("after merge: units %+v, b total %v; want one unit in b with the conversion", r.Variants, r.Metrics[0].Variants[1].Total)
	}
}

func TestCheckpointAndLoadRoundTrip(t *testing.T) {
	db := storetest.MemDB(t)
	e := New(Options{DB: db})
	running(t, e, def("x", 7, Metric{ID: "rev", Kind: MetricRevenue}))
	e.Apply(track("Order Completed", t0.Add(-time.Hour), map[string]any{"revenue": 3.0}), profile.Resolution{Profile: "p1"})
	expose(e, "x", "p1", "b", t0)
	expose(e, "x", "p2", "a", t0)
	e.Apply(track("Order Completed", t0.Add(time.Hour), map[string]any{"revenue": 8.0}), profile.Resolution{Profile: "p1"})
	e.Apply(track("x", t0.Add(time.Hour), nil), profile.Resolution{Profile: "p3", Merged: []string{"p2"}})
	b := db.NewBatch()
	if err := e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	again := New(Options{DB: db})
	if err := again.Load(); err != nil {
		t.Fatal(err)
	}
	r1, _ := e.Results("x")
	r2, err := again.Results("x")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(r1.Metrics) != fmt.Sprint(r2.Metrics) || r2.Experiment.Status != StatusRunning {
		t.Errorf("after load\n%v\nwant\n%v", r2.Metrics, r1.Metrics)
	}
	if v, _ := again.Assign("x", "p3"); v != "a" {
		t.Errorf("merged unit after load: %q, want a", v)
	}
	if _, ok := again.exps["x"].byProfile.Get("p2"); ok {
		t.Error("the merged-away profile's unit came back after load")
	}
}

// simulate exposes n units split by Assign and converts them with the
// given rates, over days days.
func simulate(e *Engine, exp string, n, days int, rates []float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	for i := range n {
		p := "p" + strconv.Itoa(i)
		v, _ := e.Assign(exp, p)
		at := t0.Add(time.Duration(i*days/n) * 24 * time.Hour)
		expose(e, exp, p, v, at)
		vi := e.exps[exp].def.variantIndex(v)
		if rng.Float64() < rates[vi] {
			e.Apply(track("Order Completed", at.Add(time.Hour), nil), profile.Resolution{Profile: p})
		}
	}
}

func TestResultsFindAWinnerAndSayHowLongToRun(t *testing.T) {
	cases := []struct {
		name      string
		n, days   int
		rates     []float64
		verdict   []string
		daysToGo  func(int) bool
		sigWinner bool
	}{
		{"clear winner", 40000, 10, []float64{0.10, 0.13},
			[]string{"B is better than A with", "probability", "safe to decide now"}, nil, true},
		{"too early", 2000, 2, []float64{0.10, 0.10},
			[]string{"No clear winner yet", "keep running", "more days to reach the planned power"}, func(d int) bool { return d > 3 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(time.Duration(tc.days) * 24 * time.Hour)
			e := New(Options{Now: func() time.Time { return now }})
			x := def("x", 0)
			if _, err := e.Create(x); err != nil {
				t.Fatal(err)
			}
			e.opts.Now = func() time.Time { return t0 }
			e.Start("x")
			e.opts.Now = func() time.Time { return now }
			simulate(e, "x", tc.n, tc.days, tc.rates, 9)
			r, err := e.Results("x")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("verdict: %s", r.Verdict)
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("results do not encode as JSON: %v", err)
			}
			for _, w := range tc.verdict {
				if !strings.Contains(r.Verdict, w) {
					t.Errorf("verdict %q lacks %q", r.Verdict, w)
				}
			}
			if tc.daysToGo != nil && (r.DaysToGo == nil || !tc.daysToGo(*r.DaysToGo)) {
				t.Errorf("days to go %v", r.DaysToGo)
			}
			if r.SRMWarning != "" {
				t.Errorf("SRM warning on a hash split: %s", r.SRMWarning)
			}
			row := r.Metrics[0].Variants[1]
			if row.Effect.Significant() != tc.sigWinner || (row.Sequential.PValue < 0.05) != tc.sigWinner {
				t.Errorf("significant %v (seq p %.3g), want %v", row.Effect.Significant(), row.Sequential.PValue, tc.sigWinner)
			}
			if len(r.Daily) != tc.days || r.Daily[len(r.Daily)-1].Units[0] != float64(r.Variants[0].Units) {
				t.Errorf("daily points %d (last %+v), want %d ending at the totals", len(r.Daily), r.Daily[len(r.Daily)-1], tc.days)
			}
		})
	}
}

func TestResultsWarnOnSampleRatioMismatch(t *testing.T) {
	e := New(Options{})
	running(t, e, def("x", 0))
	for i := range 3000 {
		v := "a"
		if i%5 < 2 { // 40 % b instead of 50 %
			v = "b"
		}
		expose(e, "x", "p"+strconv.Itoa(i), v, t0)
	}
	r, err := e.Results("x")
	if err != nil {
		t.Fatal(err)
	}
	if !r.SRM.Mismatch || !strings.Contains(r.SRMWarning, "Sample ratio mismatch") || !strings.Contains(r.Verdict, "Warning") {
		t.Errorf("srm %+v warning %q verdict %q: want a mismatch reported", r.SRM, r.SRMWarning, r.Verdict)
	}
}

func TestResultsUseCUPEDWhenThePrePeriodPredicts(t *testing.T) {
	e := New(Options{Now: func() time.Time { return t0 }})
	running(t, e, def("x", 14, Metric{ID: "rev", Kind: MetricRevenue}))
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 4000 {
		p := "p" + strconv.Itoa(i)
		spend := 20 + 10*rng.NormFloat64()
		e.Apply(track("Order Completed", t0.Add(-3*24*time.Hour), map[string]any{"revenue": spend}), profile.Resolution{Profile: p})
		v, _ := e.Assign("x", p)
		expose(e, "x", p, v, t0)
		e.Apply(track("Order Completed", t0.Add(time.Hour), map[string]any{"revenue": spend + 2*rng.NormFloat64()}), profile.Resolution{Profile: p})
	}
	r, _ := e.Results("x")
	m := r.Metrics[0]
	if !m.CUPED || m.VarianceReduction < 0.9 {
		t.Errorf("cuped %v, variance reduction %.3f; want CUPED with ≥ 90 %% reduction (ρ² ≈ 0.96)", m.CUPED, m.VarianceReduction)
	}
}

// BenchmarkResults1M computes results of one experiment with a million
// exposed units and three metrics over 30 days; the baseline is a single
// pass summing the same units' values, the floor of any computation.
func BenchmarkResults1M(b *testing.B) {
	e := New(Options{Now: func() time.Time { return t0.Add(30 * 24 * time.Hour) }})
	x := def("x", 14, Metric{ID: "buy", Kind: MetricConversion, Event: "Order Completed"},
		Metric{ID: "rev", Kind: MetricRevenue}, Metric{ID: "views", Kind: MetricValue, Event: "Viewed", Property: "n"})
	running(b, e, x)
	s := e.exps["x"]
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 1_000_000
	for i := range n {
		p := "p" + strconv.Itoa(i)
		s.addUnit(p, p, int16(Assign("x", p, []uint32{50, 50})), t0.Unix()+int64(i%30)*86400)
		for range 3 {
			s.vals = append(s.vals, float64(rng.IntN(2)), rng.Float64()*10)
		}
	}
	b.Run("results", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Results("x"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-sum-pass", func(b *testing.B) {
		for b.Loop() {
			var sum float64
			for i := range s.units {
				for _, v := range s.vals[i*6 : i*6+6] {
					sum += v
				}
			}
			if sum == 0 {
				b.Fatal("no data")
			}
		}
	})
}

// TestReadersRunBesideTheProcessor has the API and decide read (Assign,
// Results, List) while the processor applies; run with -race.
func TestReadersRunBesideTheProcessor(t *testing.T) {
	e := New(Options{})
	running(t, e, def("x", 7, Metric{ID: "rev", Kind: MetricRevenue}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 3000 {
			p := "p" + strconv.Itoa(i%500)
			expose(e, "x", p, []string{"a", "b"}[i%2], t0.Add(time.Duration(i)*time.Minute))
			e.Apply(track("Order Completed", t0.Add(time.Duration(i)*time.Minute+time.Second), map[string]any{"revenue": 5.0}),
				profile.Resolution{Profile: p, Merged: []string{"p" + strconv.Itoa(500+i%7)}})
		}
	}()
	for {
		select {
		case <-done:
			r, err := e.Results("x")
			if err != nil || r.Variants[0].Units+r.Variants[1].Units != 500 {
				t.Fatalf("after the stream: %v units, err %v; want 500", r.Variants, err)
			}
			return
		default:
			e.Assign("x", "p1")
			if _, err := e.Results("x"); err != nil {
				t.Fatal(err)
			}
			e.List()
		}
	}
}

func TestCheckpointDropsStalePrePeriodBuffers(t *testing.T) {
	db := storetest.MemDB(t)
	e := New(Options{DB: db})
	running(t, e, def("x", 2, Metric{ID: "rev", Kind: MetricRevenue}))
	order := func(prof string, at time.Time) {
		e.Apply(track("Order Completed", at, map[string]any{"revenue": 1.0}), profile.Resolution{Profile: prof})
	}
	order("old", t0)
	order("recent", t0.Add(72*time.Hour))
	if err := e.Checkpoint(db.NewBatch()); err != nil {
		t.Fatal(err)
	}
	pre := e.exps["x"].pre
	if _, ok := pre["old"]; ok || len(pre["recent"]) != 1 {
		t.Errorf("pre-period buffers after checkpoint: %v; want only the recent profile", pre)
	}
}

func TestResultsWarnWhenAZeroWeightVariantHasUnits(t *testing.T) {
	e := New(Options{})
	x := def("x", 0)
	x.Variants = append(x.Variants, Variant{ID: "off", Weight: 0})
	running(t, e, x)
	expose(e, "x", "p1", "a", t0)
	expose(e, "x", "p2", "off", t0)
	r, err := e.Results("x")
	if err != nil {
		t.Fatalf("results failed: %v", err)
	}
	if !r.SRM.Mismatch || !strings.Contains(r.SRMWarning, "weight 0") {
		t.Errorf("srm %+v, warning %q: want a mismatch naming the zero-weight variant", r.SRM, r.SRMWarning)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}

// A control without a single conversion has no relative effect to report,
// with CUPED as without: the adjusted control mean is not zero, but a lift
// over nothing is meaningless (it read "-6745.2 %" in a verdict).
func TestCUPEDReportsNoRelativeEffectOverAControlWithoutConversions(t *testing.T) {
	e := New(Options{Now: func() time.Time { return t0 }})
	running(t, e, def("x", 14))
	for i := range 400 {
		p := "p" + strconv.Itoa(i)
		if i%3 == 0 { // the pre-period predicts: the covariate is in use
			e.Apply(track("Order Completed", t0.Add(-3*24*time.Hour), nil), profile.Resolution{Profile: p})
		}
		v, _ := e.Assign("x", p)
		expose(e, "x", p, v, t0)
		if v == "b" && i%3 == 0 {
			e.Apply(track("Order Completed", t0.Add(time.Hour), nil), profile.Resolution{Profile: p})
		}
	}
	r, err := e.Results("x")
	if err != nil {
		t.Fatal(err)
	}
	m := r.Metrics[0]
	eff := m.Variants[1].Effect
	if !m.CUPED || eff == nil {
		t.Fatalf("cuped %v effect %+v: the test needs CUPED and an effect", m.CUPED, eff)
	}
	if eff.RelDefined || eff.Rel != 0 || strings.Contains(r.Verdict, "% on") {
		t.Errorf("relative effect %+v, verdict %q: want none over a control of 0", eff, r.Verdict)
	}
	for _, d := range r.Daily {
		if len(d.Effects) != 0 {
			t.Errorf("day %s charts lifts %+v over a control of 0", d.Day, d.Effects)
		}
	}
}
