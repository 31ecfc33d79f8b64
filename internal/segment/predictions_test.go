package segment

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"tailor/internal/predict"
)

// testPredictions are the published CDNOW fits (weeks), realistic values
// for tests that need a fit without fitting.
var testPredictions = &Predictions{
	BGNBD:      predict.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
	GammaGamma: predict.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44},
	Customers:  2357, Repeaters: 946,
}

// shop gives n customers BG/NBD-like order histories over the year to t0:
// each buys at its own rate until it drops out.
func shop(e *Engine, rng *rand.Rand, n int) {
	for i := range n {
		id := fmt.Sprintf("c%03d", i)
		start := t0.Add(-time.Duration(rng.IntN(360)+5) * oneDay)
		gap := time.Duration(5+rng.IntN(60)) * oneDay
		value := float64(10 + rng.IntN(90))
		for at := start; at.Before(t0); at = at.Add(gap + time.Duration(rng.IntN(10))*oneDay) {
			order(e, id, at, value+float64(rng.IntN(10)))
			if rng.IntN(4) == 0 {
				break // dropped out
			}
		}
	}
}

// The fields equal internal/predict's functions of the profile's summary.
func TestPredictionFieldsAreTheModelsOfTheProfilesOrders(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	// Three orders: 70, 28 and 7 days before t0, worth 30, 40 and 50.
	for _, o := range []struct {
		days int
		v    float64
	}{{70, 30}, {28, 40}, {7, 50}} {
		order(e, "p1", t0.Add(-time.Duration(o.days)*oneDay), o.v)
	}
	ev, res := track("p0", "Signed Up", t0.Add(-oneDay), nil)
	e.Apply(ev, res)
	if v := fieldValue(t, e, "p1", FieldPAlive, t0); v != nil {
		t.Fatalf("p_alive before any fit = %v, want absent", v)
	}
	e.pred = testPredictions
	e.RefreshModels(t0) // too few customers to fit: keeps testPredictions
	if e.Models().Predictions != testPredictions {
		t.Fatalf("the refresh replaced the fit with %+v from 1 customer", e.Models().Predictions)
	}
	in := predict.Customer{X: 2, Tx: 9, T: 10, M: 40} // weeks: first order 10 weeks ago, last 1
	md := predict.Model{BG: testPredictions.BGNBD, GG: testPredictions.GammaGamma}
	want := map[string]float64{
		FieldPAlive:             md.BG.PAlive(in),
		FieldChurnRisk:          1 - md.BG.PAlive(in),
		FieldPredictedOrders:    md.BG.ExpectedRepeat(in, 90.0/7),
		FieldExpectedOrderValue: md.GG.ExpectedValue(2, 40),
		FieldPredictedCLV:       md.CLV(in, predict.CLVOptions{Months: 12, MonthlyDiscount: 0.01}),
		FieldNextOrderInDays:    md.BG.NextOrderIn(in) * 7,
		FieldCLVPercentile:      0, // the only customer: every boundary is its own CLV
	}
	for f, w := range want {
		got, ok := fieldValue(t, e, "p1", f, t0).(float64)
		if !ok || math.Abs(got-w) > 1e-9*math.Max(1, math.Abs(w)) {
			t.Errorf("%s = %v, want %v", f, got, w)
		}
	}
	due := t0.Add(time.Duration(md.BG.NextOrderIn(in) * 7 * 24 * float64(time.Hour))).Truncate(time.Second)
	if got := fieldValue(t, e, "p1", FieldNextOrderDate, t0); got != due.UTC().Format(time.RFC3339) {
		t.Errorf("next_order_date = %v, want %v", got, due.UTC().Format(time.RFC3339))
	}
	// Orders 70, 28 and 7 days ago: a mean gap of 31.5 days, due 24.5 days from now.
	if got, want := fieldValue(t, e, "p1", FieldReplenishmentDue, t0), t0.Add(-7*oneDay+63*oneDay/2).UTC().Format(time.RFC3339); got != want {
		t.Errorf("replenishment_due = %v, want %v", got, want)
	}
	if v := fieldValue(t, e, "p0", FieldPredictedCLV, t0); v != nil {
		t.Errorf("predicted_clv of a profile without orders = %v, want absent", v)
	}
	// Between refreshes the clock does not move the figures; the next
	// refresh does (a silent customer is less likely alive).
	before := fieldValue(t, e, "p1", FieldPAlive, t0).(float64)
	later := t0.Add(60 * oneDay)
	c.t = later
	if v := fieldValue(t, e, "p1", FieldPAlive, later).(float64); v != before {
		t.Errorf("p_alive moved with the clock alone: %v, then %v", before, v)
	}
	e.RefreshModels(later)
	if v := fieldValue(t, e, "p1", FieldPAlive, later).(float64); v >= before {
		t.Errorf("p_alive after 60 silent days and a refresh = %v, want below %v", v, before)
	}
	// The profile's own order updates its figures at once.
	clvBefore := fieldValue(t, e, "p1", FieldPredictedCLV, later).(float64)
	order(e, "p1", later, 45)
	if v := fieldValue(t, e, "p1", FieldPredictedCLV, later).(float64); v <= clvBefore {
		t.Errorf("predicted_clv after a new order = %v, want above %v", v, clvBefore)
	}
}

// A refresh fits on the customers, the fit survives a restart without a
// refit, and "the top 10 % by CLV" is a rule.
func TestRefreshFitsPersistsAndRanksByCLV(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &clock{t: t0}
	e := NewEngine(Options{DB: db, Now: c.now})
	if err := e.Prepare(); err != nil {
		t.Fatal(err)
	}
	e.Begin()
	shop(e, rand.New(rand.NewPCG(1, 2)), 300)
	top, err := e.Save(Definition{ID: "top", Rule: &Rule{Computed: FieldCLVPercentile, Op: Gte, Value: 90.0}})
	if err != nil {
		t.Fatal(err)
	}
	_ = top
	e.RefreshModels(t0)
	p := e.Predictions()
	if p == nil || !p.BGNBD.Valid() || !p.GammaGamma.Valid() || p.Customers != 300 {
		t.Fatalf("fit after refresh: %+v", p)
	}
	size := int(e.segs["top"].members.GetCardinality())
	if size < 25 || size > 32 {
		t.Errorf("top 10 %% by CLV has %d of 300 customers", size)
	}
	// Every member's CLV is above every non-member's.
	minIn, maxOut := math.Inf(1), math.Inf(-1)
	for i := range 300 {
		id := fmt.Sprintf("c%03d", i)
		v := fieldValue(t, e, id, FieldPredictedCLV, t0).(float64)
		o, _ := e.ix.lookup(id)
		if e.segs["top"].members.Contains(o) {
			minIn = math.Min(minIn, v)
		} else {
			maxOut = math.Max(maxOut, v)
		}
	}
	if minIn <= maxOut {
		t.Errorf("lowest CLV in the top 10 %% %v, highest outside %v", minIn, maxOut)
	}

	// A restart reads the fit back: the first snapshot has it, no refit.
	e2 := NewEngine(Options{DB: db, Now: c.now})
	if err := e2.Prepare(); err != nil {
		t.Fatal(err)
	}
	e2.Begin()
	if got := e2.Predictions(); got == nil || got.BGNBD != p.BGNBD || got.GammaGamma != p.GammaGamma || !got.FittedAt.Equal(p.FittedAt) {
		t.Errorf("after a restart the fit is %+v, want the saved %+v", got, p)
	}
	// A saved fit that cannot be read is dropped, not a reason not to start.
	for _, bad := range []string{`{"bgnbd":`, `{"bgnbd":{"r":-1,"alpha":1,"a":1,"b":1},"gamma_gamma":{"p":1,"q":2,"gamma":1}}`} {
		if err := db.Set(predictionKey, []byte(bad), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		e3 := NewEngine(Options{DB: db, Now: c.now})
		if err := e3.Prepare(); err != nil {
			t.Fatal(err)
		}
		e3.Begin()
		if got := e3.Predictions(); got != nil {
			t.Errorf("saved fit %s: loaded as %+v", bad, got)
		}
	}
}

// Orders applied while a refresh fits land in the cache: afterwards every
// customer's cached figures equal a fresh computation.
func TestRefreshDuringAppliesKeepsCacheExact(t *testing.T) {
	c := &clock{t: t0}
	var mu sync.Mutex
	e := NewEngine(Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return c.t }})
	e.Begin()
	rng := rand.New(rand.NewPCG(3, 4))
	shop(e, rng, 200)
	e.RefreshModels(t0)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 3 {
			e.RefreshModels(t0)
		}
	})
	for i := range 400 {
		order(e, fmt.Sprintf("c%03d", i%250), t0, float64(5+i%50))
	}
	wg.Wait()
	e.ix.mu.RLock()
	defer e.ix.mu.RUnlock()
	m := e.ix.models
	if m.Predictions == nil || e.ix.pred.models != m {
		t.Fatal("no prediction cache for the current snapshot")
	}
	md := m.Predictions.model()
	for it := e.ix.alive.Iterator(); it.HasNext(); {
		o := int(it.Next())
		in, _, ok := predictInput(e.ix.orders.get(o), e.ix.spend.get(o), e.ix.firstOrder.get(o), e.ix.lastOrder.get(o), m.At.Unix())
		if !ok {
			continue
		}
		clv, orders := e.ix.pred.get(o)
		wantCLV, wantOrders := md.Values(in, clvOptions, horizonWeeks)
		if clv != wantCLV || orders != wantOrders {
			t.Fatalf("ordinal %d: cached %v, %v; computed %v, %v", o, clv, orders, wantCLV, wantOrders)
		}
	}
}

func TestClvPercentileCountsBoundariesBelow(t *testing.T) {
	bounds := []int64{1e6, 2e6, 2e6, 5e6}
	for _, c := range []struct {
		clv  float64
		want int
	}{{0.5, 0}, {1, 0}, {1.0000005, 1}, {2, 1}, {3, 3}, {5, 3}, {6, 4}} {
		if got := clvPercentile(bounds, c.clv); got != c.want {
			t.Errorf("clvPercentile(%v) = %d, want %d", c.clv, got, c.want)
		}
	}
}

func TestPredictInputFollowsTheConventions(t *testing.T) {
	at := t0.Unix()
	enc := func(d time.Duration) uint32 { return uint32(t0.Add(d).Unix() + 1) }
	cases := []struct {
		name        string
		orders      uint32
		spend       int64
		first, last uint32
		want        predict.Customer
		wantAsOf    int64
		ok          bool
	}{
		{"no orders", 0, 0, 0, 0, predict.Customer{}, 0, false},
		{"one order two weeks ago", 1, 30e6, enc(-14 * oneDay), enc(-14 * oneDay), predict.Customer{T: 2, M: 30}, at, true},
		{"three orders", 3, 90e6, enc(-21 * oneDay), enc(-7 * oneDay), predict.Customer{X: 2, Tx: 2, T: 3, M: 30}, at, true},
		{"two orders at one instant", 2, 20e6, enc(-7 * oneDay), enc(-7 * oneDay), predict.Customer{T: 1, M: 10}, at, true},
		{"an order after the snapshot", 2, 20e6, enc(-7 * oneDay), enc(7 * oneDay), predict.Customer{X: 1, Tx: 2, T: 2, M: 10}, at + 7*86400, true},
		{"refunds: negative spend", 1, -5e6, enc(-7 * oneDay), enc(-7 * oneDay), predict.Customer{T: 1}, at, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, asOf, ok := predictInput(c.orders, c.spend, c.first, c.last, at)
			if ok != c.ok || (ok && (got != c.want || asOf != c.wantAsOf)) {
				t.Errorf("= %+v, %d, %v; want %+v, %d, %v", got, asOf, ok, c.want, c.wantAsOf, c.ok)
			}
		})
	}
}

// The report ranks customers and checks the model on the shop's own
// recent orders.
func TestPredictionReport(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	if r := e.PredictionReport(); r.Fit != nil || r.Customers != 0 {
		t.Fatalf("report before any order: %+v", r)
	}
	shop(e, rand.New(rand.NewPCG(5, 6)), 400)
	if _, err := e.RefitPredictions(); err != nil {
		t.Fatal(err)
	}
	r := e.PredictionReport()
	if r.Fit == nil || r.Customers != 400 || len(r.Top) != reportList {
		t.Fatalf("fit %v, %d customers, %d top", r.Fit, r.Customers, len(r.Top))
	}
	for i := 1; i < len(r.Top); i++ {
		if r.Top[i].CLV > r.Top[i-1].CLV {
			t.Errorf("top customers out of order at %d: %v after %v", i, r.Top[i].CLV, r.Top[i-1].CLV)
		}
	}
	if got := fieldValue(t, e, r.Top[0].Profile, FieldPredictedCLV, t0); got != r.Top[0].CLV {
		t.Errorf("top customer's CLV %v, its field says %v", r.Top[0].CLV, got)
	}
	for _, a := range r.AtRisk {
		if 1-a.PAlive < 0.5 {
			t.Errorf("at-risk customer %s has churn risk %v", a.Profile, 1-a.PAlive)
		}
	}
	n := 0
	for _, b := range r.CLV.Histogram {
		n += b.Count
	}
	if n != 400 || r.ChurnBands[0]+r.ChurnBands[1]+r.ChurnBands[2]+r.ChurnBands[3] != 400 {
		t.Errorf("histogram holds %d, churn bands %v; want 400 each", n, r.ChurnBands)
	}
	h := r.Holdout
	if h == nil || h.Reason != "" {
		t.Fatalf("holdout: %+v", h)
	}
	if len(h.Weeks) != len(h.Actual) || len(h.Weeks) != len(h.Predicted) || h.Actual[len(h.Actual)-1] < h.ActualHoldout {
		t.Fatalf("holdout series: %d weeks, %d actual, %d predicted", len(h.Weeks), len(h.Actual), len(h.Predicted))
	}
	// The shop's histories are not BG/NBD's, but the forecast is of the right size.
	if h.PredictedHold < h.ActualHoldout/3 || h.PredictedHold > h.ActualHoldout*3 {
		t.Errorf("holdout: predicted %v repeat orders, actual %v", h.PredictedHold, h.ActualHoldout)
	}
	// Same snapshot, same report (cached).
	if r2 := e.PredictionReport(); r2.Holdout != h {
		t.Error("the report was recomputed for the same snapshot")
	}
}

// Fits at the edge of the parameter space (what the optimizer returns when
// nobody drops out, or spend does not vary) still give answers JSON can
// carry: a figure that overflows is absent, never NaN.
func TestDegenerateFitsGiveFiniteOrAbsentFigures(t *testing.T) {
	for _, p := range []*Predictions{
		{BGNBD: predict.BGNBD{R: 0.53, Alpha: 1.58, A: 5.1e6, B: 3.07e7}, GammaGamma: predict.GammaGamma{P: 0.435, Q: 2.3e7, Gamma: 2.9e9}},
		{BGNBD: predict.BGNBD{R: 3.33, Alpha: 42.8, A: 8.3e-7, B: 60821}, GammaGamma: predict.GammaGamma{P: 4e7, Q: 5.97, Gamma: 2.3e-6}},
		{BGNBD: predict.BGNBD{R: 1e-12, Alpha: 1e12, A: 1e-12, B: 1e12}, GammaGamma: predict.GammaGamma{P: 1e-12, Q: 1 + 1e-12, Gamma: 1e12}},
	} {
		c := &clock{t: t0}
		e := NewEngine(Options{Now: c.now})
		e.Begin()
		shop(e, rand.New(rand.NewPCG(7, 8)), 30)
		e.pred = p
		e.RefreshModels(t0)
		for i := range 30 {
			v, err := e.ProfileView(fmt.Sprintf("c%03d", i))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("fit %+v: profile view %v: %v", p, v.Computed, err)
			}
		}
		if _, err := json.Marshal(e.PredictionReport()); err != nil {
			t.Fatalf("fit %+v: report: %v", p, err)
		}
	}
}
