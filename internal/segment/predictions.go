package segment

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/predict"
	"tailor/internal/store"
)

// This file turns the customer-base models of internal/predict (BG/NBD for
// orders and P(alive), Gamma-Gamma for order value) into computed fields.
//
// Inputs. A profile's summary comes from the index's order aggregates:
// x = orders − 1 repeat orders (0 when every order has the same instant),
// t_x = last order − first order, T = as-of instant − first order, in
// weeks (seconds / 604800), and m = total spend / orders (the mean order
// value, first order included: the index keeps no per-order values, so
// this stands for the papers' mean repeat value). Orders on the same day
// count separately, unlike the papers' "purchase days".
//
// Time. The as-of instant is the models snapshot's At, or the profile's
// last order when that is later: so between two refreshes a profile's
// predictions move only with its own orders, never with the clock, and
// every evaluator (full, single, reference) computes the same figure at
// any instant. The decay with time (P(alive) falling while a customer
// stays silent, the expected orders shrinking) is applied at each refresh
// (ModelRefreshInterval, and RefreshModels on demand), which re-evaluates
// in full every segment that reads a prediction. next_order_date is an
// instant, so "next order due within 7 days" moves with the clock
// between refreshes like any time field.
//
// Fitting. RefreshModels fits both models by maximum likelihood on a
// snapshot of every customer's summary taken under the index's read lock,
// then fits and computes each customer's CLV and expected orders without
// holding the lock (the applier keeps applying), and swaps the parameters
// and the values in under the write lock, recomputing only the customers
// whose orders changed meanwhile. The last fit is saved under pd/ and read
// back at start, so a restart serves predictions without refitting first.
//
// Caching. predicted_clv and predicted_orders cost microseconds each
// (hypergeometric functions), with the age rounded to the day in their
// horizon terms (predict.Model.Values), so that a refresh computes those
// terms once per (orders, age in days) pair, not per customer. Still too
// much for a full evaluation over millions of profiles: the index keeps them per ordinal for the current snapshot
// (predCache), updated when a profile's orders change (Index.add, merge).
// The other fields are a few logarithms and are computed when read.

// The prediction fields, as rules name them.
const (
	FieldPredictedCLV       = "predicted_clv"        // discounted revenue over the next 12 months
	FieldCLVPercentile      = "clv_percentile"       // 0–99: percentage of customers with a lower or equal CLV
	FieldPredictedOrders    = "predicted_orders"     // expected orders in the next 90 days
	FieldPAlive             = "p_alive"              // probability of still being a customer
	FieldChurnRisk          = "churn_risk"           // 1 − p_alive
	FieldExpectedOrderValue = "expected_order_value" // Gamma-Gamma expected value of the next order
	FieldNextOrderInDays    = "next_order_in_days"   // median days from the as-of instant to the next order, if alive
	FieldNextOrderDate      = "next_order_date"      // the as-of instant + next_order_in_days
)

// predictionFields are the prediction fields and their types; all are
// absent for a profile without orders or before the first fit.
var predictionFields = map[string]fieldType{
	FieldPredictedCLV:       typeNumber,
	FieldCLVPercentile:      typeNumber,
	FieldPredictedOrders:    typeNumber,
	FieldPAlive:             typeNumber,
	FieldChurnRisk:          typeNumber,
	FieldExpectedOrderValue: typeNumber,
	FieldNextOrderInDays:    typeNumber,
	FieldNextOrderDate:      typeTime,
}

// FieldReplenishmentDue is when the customer's own rhythm says the next
// order is due: the last order + the mean gap between their orders,
// (last − first) / (orders − 1) in whole seconds; absent with fewer than two
// orders at different instants. Unlike the predictions it needs no fit.
const FieldReplenishmentDue = "replenishment_due"

func init() {
	for f, t := range predictionFields {
		computedFields[f] = t
		orderFields[f] = true // only orders (and refreshes) change them
	}
	computedFields[FieldReplenishmentDue] = typeTime
	orderFields[FieldReplenishmentDue] = true
}

// replenishmentDue is FieldReplenishmentDue of orders orders with first and
// last order times (+1 encoded).
func replenishmentDue(orders, firstOrder, lastOrder uint32) computedValue {
	fo, lo := int64(firstOrder)-1, int64(lastOrder)-1
	if orders < 2 || lo <= fo {
		return computedValue{isTime: true}
	}
	return computedValue{secs: lo + (lo-fo)/int64(orders-1), present: true, isTime: true}
}

// The prediction settings.
const (
	// PredictionHorizon is the window of predicted_orders.
	PredictionHorizon = 90 * 24 * time.Hour
	// CLVMonths and CLVMonthlyDiscount set predicted_clv: the next 12
	// months of expected revenue, each month discounted by 1 % (≈ 12.7 %
	// a year).
	CLVMonths          = 12
	CLVMonthlyDiscount = 0.01
	// MinFitCustomers and MinFitRepeaters are the least data a fit needs:
	// with fewer customers, or fewer of them with a second order, the
	// estimates are noise and the previous fit (if any) stays.
	MinFitCustomers = 50
	MinFitRepeaters = 10
)

const secsPerWeek = 7 * 86400

var (
	horizonWeeks = PredictionHorizon.Hours() / 24 / 7
	clvOptions   = predict.CLVOptions{Months: CLVMonths, MonthlyDiscount: CLVMonthlyDiscount}
	// clvPercents are the percentile boundaries of clv_percentile: 1 … 99.
	clvPercents = func() []int {
		p := make([]int, 99)
		for i := range p {
			p[i] = i + 1
		}
		return p
	}()
)

// Predictions is one fit of the models: parameters and how they came.
type Predictions struct {
	FittedAt   time.Time          `json:"fitted_at"`
	BGNBD      predict.BGNBD      `json:"bgnbd"`
	GammaGamma predict.GammaGamma `json:"gamma_gamma"`
	// Customers entered the BG/NBD fit (profiles with an order), Repeaters
	// the Gamma-Gamma fit (a second order and a positive mean value).
	Customers int     `json:"customers"`
	Repeaters int     `json:"repeaters"`
	LogLik    float64 `json:"log_likelihood"`
	FitMillis int64   `json:"fit_ms"`
}

func (p *Predictions) model() predict.Model { return predict.Model{BG: p.BGNBD, GG: p.GammaGamma} }

// predictInput is the model input of a profile with orders orders, spend
// micro-units, first and last order times (+1 encoded) at snapshot
// instant at: see the file comment. ok is false without orders.
func predictInput(orders uint32, spend int64, firstOrder, lastOrder uint32, at int64) (c predict.Customer, asOf int64, ok bool) {
	if orders == 0 || firstOrder == 0 {
		return c, 0, false
	}
	fo, lo := int64(firstOrder)-1, int64(lastOrder)-1
	asOf = max(at, lo)
	if orders > 1 && lo > fo {
		c.X = float64(orders - 1)
		c.Tx = float64(lo-fo) / secsPerWeek
	}
	c.T = float64(asOf-fo) / secsPerWeek
	c.M = max(float64(spend)/1e6/float64(orders), 0)
	return c, asOf, true
}

// predCache holds predicted_clv and predicted_orders per ordinal for the
// snapshot models (float64 bits; meaningful only for ordinals with
// orders). Evaluations read it only when models is the index's current
// snapshot and the aggregates are the running ones; otherwise they compute.
type predCache struct {
	models      *Models
	clv, orders vec64
}

func (pc *predCache) set(o int, clv, orders float64) {
	pc.clv.set(o, int64(math.Float64bits(clv)))
	pc.orders.set(o, int64(math.Float64bits(orders)))
}

func (pc *predCache) get(o int) (clv, orders float64) {
	return math.Float64frombits(uint64(pc.clv.get(o))), math.Float64frombits(uint64(pc.orders.get(o)))
}

// updatePrediction recomputes profile o's cached values after its orders
// changed. Caller holds ix.mu for writing.
func (ix *Index) updatePrediction(o int) {
	m := ix.pred.models
	if m == nil || m != ix.models || m.Predictions == nil {
		return
	}
	c, _, ok := predictInput(ix.orders.get(o), ix.spend.get(o), ix.firstOrder.get(o), ix.lastOrder.get(o), m.At.Unix())
	if !ok {
		ix.pred.set(o, 0, 0)
		return
	}
	md := m.Predictions.model()
	clv, orders := md.Values(c, clvOptions, horizonWeeks)
	ix.pred.set(o, clv, orders)
}

// predictionField is a prediction field of profile o (slot o of a), or
// ok false for another field.
func predictionField(field string, a *aggregates, o int, m *Models) (v computedValue, ok bool) {
	if _, ok := predictionFields[field]; !ok {
		return v, false
	}
	if m == nil || m.Predictions == nil {
		return v, true
	}
	c, asOf, has := predictInput(a.ordersAt(o), a.spendAt(o), a.firstOrderAt(o), a.lastOrderAt(o), m.At.Unix())
	if !has {
		return v, true
	}
	p := m.Predictions
	// A degenerate fit can overflow a figure: absent, not NaN (which no
	// answer could carry as JSON).
	num := func(f float64) computedValue {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return computedValue{}
		}
		return computedValue{num: f, present: true}
	}
	cached := func() (clv, orders float64) {
		if a.live != nil && a.live.pred.models == m {
			return a.live.pred.get(o)
		}
		md := p.model()
		return md.Values(c, clvOptions, horizonWeeks)
	}
	switch field {
	case FieldPredictedCLV:
		clv, _ := cached()
		return num(clv), true
	case FieldCLVPercentile:
		clv, _ := cached()
		if len(m.CLVPercentiles) == 0 || !finite(clv) {
			return v, true
		}
		return num(float64(clvPercentile(m.CLVPercentiles, clv))), true
	case FieldPredictedOrders:
		_, orders := cached()
		return num(orders), true
	case FieldPAlive:
		return num(p.BGNBD.PAlive(c)), true
	case FieldChurnRisk:
		return num(1 - p.BGNBD.PAlive(c)), true
	case FieldExpectedOrderValue:
		return num(p.GammaGamma.ExpectedValue(c.X, c.M)), true
	case FieldNextOrderInDays:
		return num(p.BGNBD.NextOrderIn(c) * 7), true
	case FieldNextOrderDate:
		secs, ok := nextOrderAt(p, c, asOf)
		if !ok {
			return computedValue{isTime: true}, true
		}
		return computedValue{secs: secs, present: true, isTime: true}, true
	}
	return v, true
}

// clvMicros is a CLV in whole micro-units, as the percentile boundaries
// hold it.
func clvMicros(clv float64) int64 { return int64(math.Round(clv * 1e6)) }

// clvPercentile is the number of boundaries strictly below clv: 0 … 99.
func clvPercentile(bounds []int64, clv float64) int {
	v := clvMicros(clv)
	return sort.Search(len(bounds), func(i int) bool { return bounds[i] >= v })
}

// nextOrderAt is the instant of the median next order: whole seconds after
// asOf; ok false when it is beyond any window a rule can name.
func nextOrderAt(p *Predictions, c predict.Customer, asOf int64) (int64, bool) {
	d := p.BGNBD.NextOrderIn(c) * secsPerWeek
	if !(d >= 0) || d > float64(MaxWindow/time.Second) {
		return 0, false
	}
	return asOf + int64(d), true
}

// predIn is one customer's inputs in a snapshot.
type predIn struct {
	ord               uint32
	orders            uint32
	spend             int64
	firstOrd, lastOrd uint32
}

// predSnapshot is every customer's inputs at one instant, in ordinal
// order, and — once computed — their cached values.
type predSnapshot struct {
	at          int64
	in          []predIn
	clv, orders []float64
	bounds      []int64
}

// snapshotInputs copies every surviving customer's inputs. Caller holds
// ix.mu (reading is enough).
func (ix *Index) snapshotInputs(at int64) *predSnapshot {
	s := &predSnapshot{at: at}
	for it := ix.alive.Iterator(); it.HasNext(); {
		o := int(it.Next())
		if n := ix.orders.get(o); n > 0 {
			s.in = append(s.in, predIn{uint32(o), n, ix.spend.get(o), ix.firstOrder.get(o), ix.lastOrder.get(o)})
		}
	}
	return s
}

// customers are the snapshot's model inputs.
func (s *predSnapshot) customers() []predict.Customer {
	cs := make([]predict.Customer, 0, len(s.in))
	for _, in := range s.in {
		if c, _, ok := predictInput(in.orders, in.spend, in.firstOrd, in.lastOrd, s.at); ok {
			cs = append(cs, c)
		}
	}
	return cs
}

// compute fills the snapshot's values with p, on every core, sharing the
// horizon terms of customers with equal orders and age in days
// (predict.Model.Batch), and the CLV percentile boundaries.
func (s *predSnapshot) compute(p *Predictions) {
	md := p.model()
	s.clv, s.orders = make([]float64, len(s.in)), make([]float64, len(s.in))
	cs := make([]predict.Customer, len(s.in))
	for i, in := range s.in {
		cs[i], _, _ = predictInput(in.orders, in.spend, in.firstOrd, in.lastOrd, s.at)
	}
	md.Batch(cs, clvOptions, horizonWeeks, runtime.GOMAXPROCS(0), s.clv, s.orders)
	keys := make([]int64, 0, len(s.clv))
	for _, v := range s.clv {
		if finite(v) {
			keys = append(keys, clvMicros(v))
		}
	}
	slices.Sort(keys)
	s.bounds = quantileBounds(keys, clvPercents)
}

// fitPredictions fits both models on the snapshot, starting from the
// previous fit prev when there is one (nil: a cold fit); an error when
// there is too little data or a fit fails.
func fitPredictions(s *predSnapshot, prev *Predictions) (*Predictions, error) {
	cs := s.customers()
	rep := 0
	for _, c := range cs {
		if c.X > 0 {
			rep++
		}
	}
	if len(cs) < MinFitCustomers || rep < MinFitRepeaters {
		return nil, fmt.Errorf("%w: %d customers, %d with a repeat order (need %d and %d)", errFewCustomers, len(cs), rep, MinFitCustomers, MinFitRepeaters)
	}
	start := time.Now()
	// A refit starts from the last fit and stops at WarmTolerance: the
	// customers are mostly those of yesterday, the parameters move in the
	// fourth decimal, and it takes a handful of evaluations instead of
	// tens (predict/warm.go).
	opt := predict.FitOptions{}
	if prev != nil {
		opt = predict.FitOptions{StartBG: prev.BGNBD, StartGG: prev.GammaGamma, Tolerance: predict.WarmTolerance}
	}
	bg, res, err := predict.FitBGNBD(cs, opt)
	if err != nil {
		return nil, err
	}
	gg, gres, err := predict.FitGammaGamma(cs, opt)
	if err != nil {
		return nil, err
	}
	return &Predictions{FittedAt: time.Unix(s.at, 0).UTC(), BGNBD: bg, GammaGamma: gg, Customers: res.N,
		Repeaters: gres.N, LogLik: res.LogLik, FitMillis: time.Since(start).Milliseconds()}, nil
}

var errFewCustomers = errors.New("not enough customers to fit the predictions")

// installPredictions attaches p to the new snapshot m and fills the cache
// for it: from s where a customer's inputs are unchanged since s was taken,
// by computing otherwise. s may be nil (compute everything, in parallel).
// Caller holds ix.mu for writing; m is ix.models.
func (ix *Index) installPredictions(m *Models, p *Predictions, s *predSnapshot) {
	ix.pred = predCache{}
	if p == nil {
		return
	}
	m.Predictions = p
	at := m.At.Unix()
	if s == nil || s.at != at || len(s.clv) != len(s.in) {
		s = ix.snapshotInputs(at)
		s.compute(p)
	}
	m.CLVPercentiles = s.bounds
	ix.pred.models = m
	md := p.model()
	i := 0
	for it := ix.alive.Iterator(); it.HasNext(); {
		o := it.Next()
		n := ix.orders.get(int(o))
		if n == 0 {
			continue
		}
		for i < len(s.in) && s.in[i].ord < o {
			i++
		}
		cur := predIn{o, n, ix.spend.get(int(o)), ix.firstOrder.get(int(o)), ix.lastOrder.get(int(o))}
		if i < len(s.in) && s.in[i] == cur {
			ix.pred.set(int(o), s.clv[i], s.orders[i])
			continue
		}
		c, _, _ := predictInput(cur.orders, cur.spend, cur.firstOrd, cur.lastOrd, at)
		clv, orders := md.Values(c, clvOptions, horizonWeeks)
		ix.pred.set(int(o), clv, orders)
	}
}

// predictionKey holds the last fit (JSON).
var predictionKey = store.Key(store.PrefixPredict, "params")

// loadPredictions reads the last fit back. A fit that cannot be read is
// logged and dropped: the next refresh fits again.
func (e *Engine) loadPredictions(db *pebble.DB) {
	b, closer, err := db.Get(predictionKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return
	}
	if err != nil {
		slog.Warn("segment: reading the saved prediction fit failed; the next refresh fits again", "err", err)
		return
	}
	defer closer.Close()
	var p Predictions
	if err := json.Unmarshal(b, &p); err != nil || !p.BGNBD.Valid() || !p.GammaGamma.Valid() {
		slog.Warn("segment: the saved prediction fit is unreadable; the next refresh fits again", "err", err)
		return
	}
	e.pred = &p
}

func (e *Engine) savePredictions(p *Predictions) {
	if e.opts.DB == nil {
		return
	}
	b, err := json.Marshal(p)
	if err == nil {
		err = e.opts.DB.Set(predictionKey, b, pebble.Sync)
	}
	if err != nil {
		slog.Error("segment: saving the prediction fit failed; a restart will serve the previous one", "err", err)
	}
}

// preparePredictions is the part of a refresh at now that runs without the
// write lock: snapshot the customers (read lock), fit, compute every
// customer's values with the new fit (or the current one when the fit is
// not possible). Nil when there is nothing to predict with.
func (e *Engine) preparePredictions(now time.Time) (*Predictions, *predSnapshot) {
	at := now.Unix()
	e.ix.mu.RLock()
	s := e.ix.snapshotInputs(at)
	cur := e.pred
	e.ix.mu.RUnlock()
	p, err := fitPredictions(s, cur)
	switch {
	case err == nil:
		slog.Info("segment: predictions fitted", "customers", p.Customers, "repeaters", p.Repeaters,
			"bgnbd", p.BGNBD, "gamma_gamma", p.GammaGamma, "took_ms", p.FitMillis)
		e.savePredictions(p)
	case errors.Is(err, errFewCustomers):
		slog.Debug("segment: predictions not fitted", "reason", err)
		p = cur
	default:
		slog.Warn("segment: prediction fit failed; keeping the previous one", "err", err)
		p = cur
	}
	if p == nil {
		return nil, nil
	}
	s.compute(p)
	return p, s
}

// Predictions returns the fit the current snapshot uses; nil before any.
func (e *Engine) Predictions() *Predictions {
	e.ix.mu.RLock()
	defer e.ix.mu.RUnlock()
	if m := e.ix.models; m != nil {
		return m.Predictions
	}
	return nil
}

// predictionWhy states the inputs behind a prediction field of the profile
// in slot 0 of a, for explanations; "" for other fields.
func predictionWhy(field string, a *aggregates, m *Models) string {
	if _, ok := predictionFields[field]; !ok {
		return ""
	}
	if m == nil || m.Predictions == nil {
		return "no prediction fit yet (it needs " + fmt.Sprint(MinFitCustomers) + " customers, " + fmt.Sprint(MinFitRepeaters) + " with a repeat order)"
	}
	c, asOf, ok := predictInput(a.ordersAt(0), a.spendAt(0), a.firstOrderAt(0), a.lastOrderAt(0), m.At.Unix())
	if !ok {
		return "no orders"
	}
	p := m.Predictions
	return fmt.Sprintf("as of %s: %v repeat orders, last %.1f weeks after the first, customer for %.1f weeks, mean order %.2f; BG/NBD r=%.3g α=%.3g a=%.3g b=%.3g, Gamma-Gamma p=%.3g q=%.3g γ=%.3g fitted %s on %d customers",
		time.Unix(asOf, 0).UTC().Format(time.RFC3339), c.X, c.Tx, c.T, c.M,
		p.BGNBD.R, p.BGNBD.Alpha, p.BGNBD.A, p.BGNBD.B, p.GammaGamma.P, p.GammaGamma.Q, p.GammaGamma.Gamma,
		p.FittedAt.Format(time.RFC3339), p.Customers)
}

// fitPossible reports whether the customers at now are enough for a fit.
func (e *Engine) fitPossible(now time.Time) bool {
	e.ix.mu.RLock()
	s := e.ix.snapshotInputs(now.Unix())
	e.ix.mu.RUnlock()
	rep := 0
	for _, in := range s.in {
		if in.orders > 1 && in.lastOrd > in.firstOrd {
			rep++
		}
	}
	return len(s.in) >= MinFitCustomers && rep >= MinFitRepeaters
}
