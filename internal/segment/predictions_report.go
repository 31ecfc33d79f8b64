package segment

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"tailor/internal/event"
	"tailor/internal/predict"
)

// PredictionReport is what the predictions page shows: the fit, the CLV
// distribution, the most valuable and the most at-risk customers, and how
// well the model forecast the store's own recent orders.
type PredictionReport struct {
	At        time.Time          `json:"at"`  // the snapshot instant the figures are as of
	Fit       *Predictions       `json:"fit"` // null before the first fit
	Settings  PredictionSettings `json:"settings"`
	Customers int                `json:"customers"` // profiles with an order
	CLV       CLVSummary         `json:"clv"`
	// ChurnBands count the customers by churn risk: [0, .25), [.25, .5),
	// [.5, .75), [.75, 1].
	ChurnBands [4]int              `json:"churn_bands"`
	Top        []PredictedCustomer `json:"top"`     // highest predicted CLV
	AtRisk     []PredictedCustomer `json:"at_risk"` // churn risk ≥ 0.5, most spent first
	Holdout    *HoldoutFit         `json:"holdout"`
}

// PredictionSettings are the fixed settings of the prediction fields.
type PredictionSettings struct {
	CLVMonths          int     `json:"clv_months"`
	MonthlyDiscount    float64 `json:"monthly_discount"`
	HorizonDays        int     `json:"horizon_days"`
	RefreshEverySecs   int64   `json:"refresh_every_secs"`
	MinFitCustomers    int     `json:"min_fit_customers"`
	MinFitRepeaters    int     `json:"min_fit_repeaters"`
	TimeUnit           string  `json:"time_unit"`
	OrdersAreRepeatsOf string  `json:"orders_are"`
}

// CLVSummary describes the predicted CLVs of the customers.
type CLVSummary struct {
	Total  float64 `json:"total"`
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	// Histogram has equal-width bins from 0 to the 99th percentile; the
	// last bin also holds everything above.
	Histogram []Bin `json:"histogram"`
}

// Bin is a histogram bin [From, To).
type Bin struct {
	From  float64 `json:"from"`
	To    float64 `json:"to"`
	Count int     `json:"count"`
}

// PredictedCustomer is one customer's figures and predictions.
type PredictedCustomer struct {
	Profile         string    `json:"profile"`
	Email           string    `json:"email,omitempty"`
	Orders          int       `json:"orders"`
	TotalSpend      float64   `json:"total_spend"`
	LastOrder       time.Time `json:"last_order"`
	CLV             float64   `json:"predicted_clv"`
	CLVPercentile   int       `json:"clv_percentile"`
	PAlive          float64   `json:"p_alive"`
	PredictedOrders float64   `json:"predicted_orders"`
	NextOrderDate   time.Time `json:"next_order_date,omitzero"`
}

// HoldoutFit is the CDNOW-style check on the store's own orders: BG/NBD
// fitted on the orders before CalibrationEnd, its forecast of the
// cumulative repeat orders of those customers week by week through now,
// against what they did.
type HoldoutFit struct {
	Reason         string          `json:"reason,omitempty"` // why there is no check, when there is none
	CalibrationEnd time.Time       `json:"calibration_end"`
	Customers      int             `json:"customers"`
	Fit            predict.BGNBD   `json:"bgnbd"`
	Weeks          []int64         `json:"weeks"` // end of each week, unix seconds
	Actual         []float64       `json:"actual"`
	Predicted      []float64       `json:"predicted"`
	ActualHoldout  float64         `json:"actual_holdout"`    // repeat orders after CalibrationEnd
	PredictedHold  float64         `json:"predicted_holdout"` // the model's expectation of them
	ByFrequency    []HoldoutByFreq `json:"by_frequency"`
}

// HoldoutByFreq compares, per calibration repeat-order count, the mean
// orders customers made after CalibrationEnd with the model's conditional
// expectation (FHL 2005 fig. 4).
type HoldoutByFreq struct {
	X         string  `json:"x"`
	Customers int     `json:"customers"`
	Actual    float64 `json:"actual"`
	Expected  float64 `json:"expected"`
}

// The report's sizes.
const (
	reportList     = 20
	reportBins     = 20
	holdoutMinSpan = 8 * 7 * 86400  // fewer weeks of orders: no holdout check
	holdoutMaxLen  = 39 * 7 * 86400 // as CDNOW's
)

// reportCache keeps the last report per snapshot: the holdout check fits a
// model, which is not worth redoing per page view.
type reportCache struct {
	mu     sync.Mutex
	models *Models
	rep    PredictionReport
}

// PredictionReport returns the report for the current snapshot, computed
// at most once per snapshot.
func (e *Engine) PredictionReport() PredictionReport {
	e.report.mu.Lock()
	defer e.report.mu.Unlock()
	e.ix.mu.RLock()
	m := e.ix.models
	if m != nil && m == e.report.models {
		e.ix.mu.RUnlock()
		return e.report.rep
	}
	rep, rows := e.reportLocked(m)
	e.ix.mu.RUnlock()
	if m != nil {
		rep.Holdout = holdoutFit(rows, m.At.Unix())
	}
	e.report.models, e.report.rep = m, rep
	return rep
}

// orderRow is one order of a surviving profile.
type orderRow struct {
	ord uint32
	ts  int64
}

// reportLocked computes everything but the holdout check and copies the
// orders it needs. Caller holds ix.mu for reading.
func (e *Engine) reportLocked(m *Models) (PredictionReport, []orderRow) {
	ix := e.ix
	rep := PredictionReport{
		Settings: PredictionSettings{CLVMonths: CLVMonths, MonthlyDiscount: CLVMonthlyDiscount,
			HorizonDays: int(PredictionHorizon.Hours() / 24), RefreshEverySecs: int64(ModelRefreshInterval / time.Second),
			MinFitCustomers: MinFitCustomers, MinFitRepeaters: MinFitRepeaters, TimeUnit: "week",
			OrdersAreRepeatsOf: "orders after the first are repeat orders (x = orders − 1)"},
		Top: []PredictedCustomer{}, AtRisk: []PredictedCustomer{},
	}
	if m == nil {
		return rep, nil
	}
	rep.At, rep.Fit = m.At, m.Predictions
	a := &aggregates{live: ix}
	var all []PredictedCustomer
	for it := ix.alive.Iterator(); it.HasNext(); {
		o := int(it.Next())
		n := ix.orders.get(o)
		if n == 0 {
			continue
		}
		rep.Customers++
		if m.Predictions == nil {
			continue
		}
		pc := PredictedCustomer{Profile: ix.id(uint32(o)), Orders: int(n), TotalSpend: float64(ix.spend.get(o)) / 1e6,
			LastOrder: time.Unix(int64(ix.lastOrder.get(o))-1, 0).UTC()}
		pc.CLV = computeField(FieldPredictedCLV, a, o, m.At.Unix(), m).num
		pc.CLVPercentile = int(computeField(FieldCLVPercentile, a, o, m.At.Unix(), m).num)
		pc.PAlive = computeField(FieldPAlive, a, o, m.At.Unix(), m).num
		pc.PredictedOrders = computeField(FieldPredictedOrders, a, o, m.At.Unix(), m).num
		if v := computeField(FieldNextOrderDate, a, o, m.At.Unix(), m); v.present {
			pc.NextOrderDate = time.Unix(v.secs, 0).UTC()
		}
		all = append(all, pc)
	}
	if len(all) > 0 {
		clvs := make([]float64, len(all))
		for i, c := range all {
			clvs[i] = c.CLV
			rep.CLV.Total += c.CLV
			rep.ChurnBands[min(int((1-c.PAlive)*4), 3)]++
		}
		slices.Sort(clvs)
		q := func(p float64) float64 { return clvs[min(int(p*float64(len(clvs))), len(clvs)-1)] }
		rep.CLV.Mean = rep.CLV.Total / float64(len(clvs))
		rep.CLV.Median, rep.CLV.P90, rep.CLV.P99 = q(0.5), q(0.9), q(0.99)
		width := rep.CLV.P99 / reportBins
		if width <= 0 {
			width = 1
		}
		rep.CLV.Histogram = make([]Bin, reportBins)
		for i := range rep.CLV.Histogram {
			rep.CLV.Histogram[i] = Bin{From: float64(i) * width, To: float64(i+1) * width}
		}
		for _, v := range clvs {
			rep.CLV.Histogram[min(max(int(v/width), 0), reportBins-1)].Count++
		}
		slices.SortFunc(all, func(x, y PredictedCustomer) int {
			return cmp.Or(cmp.Compare(y.CLV, x.CLV), strings.Compare(x.Profile, y.Profile))
		})
		rep.Top = append(rep.Top, all[:min(reportList, len(all))]...)
		var risk []PredictedCustomer
		for _, c := range all {
			if 1-c.PAlive >= 0.5 {
				risk = append(risk, c)
			}
		}
		slices.SortFunc(risk, func(x, y PredictedCustomer) int {
			return cmp.Or(cmp.Compare(y.TotalSpend, x.TotalSpend), strings.Compare(x.Profile, y.Profile))
		})
		rep.AtRisk = append(rep.AtRisk, risk[:min(reportList, len(risk))]...)
		if c := ix.traits["email"]; c != nil {
			for _, l := range [][]PredictedCustomer{rep.Top, rep.AtRisk} {
				for i := range l {
					o, _ := ix.lookup(l[i].Profile)
					if id := c.vals.get(int(o)); id != 0 && c.dict.kinds[id-1] == kindString {
						l[i].Email = strings.Clone(c.dict.str(id - 1))
					}
				}
			}
		}
	}
	var rows []orderRow
	if s := ix.streams[event.OrderCompleted]; s != nil {
		rows = make([]orderRow, 0, s.n)
		for row := range s.n {
			rows = append(rows, orderRow{ix.canon[s.ord.get(row)], int64(s.ts.get(row))})
		}
	}
	return rep, rows
}

// holdoutFit splits the orders up to now into a calibration period and a
// holdout of a quarter of the time since the first order (at most 39
// weeks), fits BG/NBD on the calibration and compares its forecast with
// the holdout. Runs without locks.
func holdoutFit(rows []orderRow, now int64) *HoldoutFit {
	byOrd := map[uint32][]int64{}
	start := int64(math.MaxInt64)
	for _, r := range rows {
		if r.ts > now {
			continue
		}
		byOrd[r.ord] = append(byOrd[r.ord], r.ts)
		start = min(start, r.ts)
	}
	span := now - start
	if len(byOrd) == 0 || span < holdoutMinSpan {
		return &HoldoutFit{Reason: fmt.Sprintf("the holdout check needs %d weeks of orders", holdoutMinSpan/(7*86400))}
	}
	calEnd := now - min(span/4, holdoutMaxLen)
	h := &HoldoutFit{CalibrationEnd: time.Unix(calEnd, 0).UTC()}
	type cust struct {
		c       predict.Customer
		birth   int64
		holdout int
	}
	var cs []cust
	for _, ts := range byOrd {
		slices.Sort(ts)
		ts = slices.Compact(ts) // orders at one instant count once, as predictInput does
		if ts[0] > calEnd {
			continue // born in the holdout: not in the cohort
		}
		c := cust{birth: ts[0]}
		c.c.T = float64(calEnd-ts[0]) / secsPerWeek
		for _, t := range ts[1:] {
			if t > calEnd {
				c.holdout++
				continue
			}
			c.c.X++
			c.c.Tx = float64(t-ts[0]) / secsPerWeek
		}
		cs = append(cs, c)
	}
	in := make([]predict.Customer, len(cs))
	rep := 0
	for i, c := range cs {
		in[i] = c.c
		if c.c.X > 0 {
			rep++
		}
	}
	h.Customers = len(cs)
	if len(cs) < MinFitCustomers || rep < MinFitRepeaters {
		h.Reason = fmt.Sprintf("%d customers before the calibration end, %d with a repeat order: the check needs %d and %d", len(cs), rep, MinFitCustomers, MinFitRepeaters)
		return h
	}
	bg, _, err := predict.FitBGNBD(in, predict.FitOptions{})
	if err != nil {
		h.Reason = "the calibration fit failed: " + err.Error()
		return h
	}
	h.Fit = bg
	// Cumulative repeat orders at each week's end, actual and expected;
	// expectations are evaluated once per birth day.
	births := map[int64]int{}
	for _, c := range cs {
		births[c.birth/86400]++
	}
	var times []int64
	for w := start + 7*86400; ; w += 7 * 86400 {
		times = append(times, min(w, now))
		if w >= now {
			break
		}
	}
	h.Weeks = times
	h.Actual, h.Predicted = make([]float64, len(times)), make([]float64, len(times))
	var rts []int64
	for _, ts := range byOrd {
		if ts[0] <= calEnd {
			rts = append(rts, ts[1:]...)
		}
	}
	slices.Sort(rts)
	j := 0
	for i, t := range times {
		for j < len(rts) && rts[j] <= t {
			j++
		}
		h.Actual[i] = float64(j)
		for day, n := range births {
			if d := float64(t-day*86400) / secsPerWeek; d > 0 {
				h.Predicted[i] += float64(n) * bg.ExpectedPopulation(d)
			}
		}
	}
	atCal := 0.0
	for day, n := range births {
		if d := float64(calEnd-day*86400) / secsPerWeek; d > 0 {
			atCal += float64(n) * bg.ExpectedPopulation(d)
		}
	}
	h.PredictedHold = h.Predicted[len(times)-1] - atCal
	const groups = 8
	var n [groups]int
	var act, exp [groups]float64
	hold := (float64(now) - float64(calEnd)) / secsPerWeek
	for _, c := range cs {
		h.ActualHoldout += float64(c.holdout)
		g := min(int(c.c.X), groups-1)
		n[g]++
		act[g] += float64(c.holdout)
		exp[g] += bg.ExpectedRepeat(c.c, hold)
	}
	for g := range groups {
		if n[g] == 0 {
			continue
		}
		label := fmt.Sprint(g)
		if g == groups-1 {
			label += "+"
		}
		h.ByFrequency = append(h.ByFrequency, HoldoutByFreq{X: label, Customers: n[g], Actual: act[g] / float64(n[g]), Expected: exp[g] / float64(n[g])})
	}
	return h
}

// ErrNoPredictions is returned by a refresh on demand that could not fit.
var ErrNoPredictions = errors.New("no predictions")

// RefitPredictions refreshes the models now and reports the fit in use;
// ErrNoPredictions (wrapped, with the reason) when there is none.
func (e *Engine) RefitPredictions() (*Predictions, error) {
	now := e.opts.Now()
	e.RefreshModels(now)
	if p := e.Predictions(); p != nil {
		return p, nil
	}
	e.ix.mu.RLock()
	s := e.ix.snapshotInputs(now.Unix())
	e.ix.mu.RUnlock()
	_, err := fitPredictions(s, nil)
	if err == nil {
		err = errors.New("the fit did not take")
	}
	return nil, fmt.Errorf("%w: %v", ErrNoPredictions, err)
}
