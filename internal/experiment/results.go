package experiment

import (
	"fmt"
	"math"
	"slices"
	"time"

	"tailor/internal/experiment/stats"
)

// Results is what GET /api/experiments/{id}/results answers.
type Results struct {
	Experiment Info            `json:"experiment"`
	Computed   time.Time       `json:"computed"`
	Variants   []VariantCount  `json:"variants"`
	SRM        stats.SRMResult `json:"srm"`
	// SRMWarning explains a sample-ratio mismatch in words; empty if none.
	SRMWarning string         `json:"srm_warning,omitempty"`
	Metrics    []MetricResult `json:"metrics"`
	// Verdict is the primary metric's outcome in plain words.
	Verdict string `json:"verdict"`
	// Daily is the primary metric's cumulative effect per day of first
	// exposure, for the effect-over-time chart.
	Daily []DailyPoint `json:"daily"`
	// Conflicts counts exposures that named another variant than the
	// unit's first (a sign of broken assignment), Unknown those naming no
	// variant of the experiment.
	Conflicts int64 `json:"conflicts"`
	Unknown   int64 `json:"unknown"`
	DaysToGo  *int  `json:"days_to_go,omitempty"` // to the planned power; nil when it cannot be estimated
	// Allocation is the share of new traffic per variant: the weights', or
	// a bandit's current one.
	Allocation []float64 `json:"allocation"`
}

// VariantCount is a variant with its exposed units.
type VariantCount struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Weight uint32  `json:"weight"`
	Units  int     `json:"units"`
	Share  float64 `json:"share"` // of all units
}

// MetricResult is one metric's table: control first, then each treatment
// compared with it.
type MetricResult struct {
	ID    string     `json:"id"`
	Kind  MetricKind `json:"kind"`
	CUPED bool       `json:"cuped"` // the comparison used the pre-period covariate
	// VarianceReduction is 1 − Var(adjusted)/Var(raw) pooled over variants
	// (0 without CUPED).
	VarianceReduction float64         `json:"variance_reduction"`
	Variants          []MetricVariant `json:"variants"`
}

// MetricVariant is one row of a metric's table.
type MetricVariant struct {
	ID    string  `json:"id"`
	Units float64 `json:"units"`
	Total float64 `json:"total"` // conversions, or the metric summed
	Mean  float64 `json:"mean"`  // per unit (conversion rate)
	// The comparison with control; nil for control and when a variant
	// has too few units.
	Effect     *stats.Effect         `json:"effect,omitempty"`
	Bayes      *stats.Bayes          `json:"bayes,omitempty"`
	Sequential *stats.SequentialLook `json:"sequential,omitempty"`
}

// DailyPoint is the cumulative primary-metric comparison over the units
// first exposed up to the end of Day (UTC), each with its metric as
// counted now.
type DailyPoint struct {
	Day     string        `json:"day"` // YYYY-MM-DD
	Unix    int64         `json:"unix"`
	Units   []float64     `json:"units"`   // per variant, cumulative
	Effects []DailyEffect `json:"effects"` // per treatment
}

// DailyEffect is one treatment's relative effect on a day, with its fixed
// interval and its always-valid confidence sequence (both relative to the
// control mean).
type DailyEffect struct {
	Variant string  `json:"variant"`
	Rel     float64 `json:"rel"`
	Lo      float64 `json:"lo"`
	Hi      float64 `json:"hi"`
	SeqLo   float64 `json:"seq_lo"`
	SeqHi   float64 `json:"seq_hi"`
	PValue  float64 `json:"p_value"` // always-valid
}

// maxDays bounds the daily series; an experiment running longer has its
// first days folded into the first point.
const maxDays = 366

// Results computes an experiment's results from its units. It holds the
// engine's read lock only while summing units into per-variant, per-day
// statistics; the statistics run after.
func (e *Engine) Results(id string) (*Results, error) {
	e.mu.RLock()
	s := e.exps[id]
	if s == nil {
		e.mu.RUnlock()
		return nil, fmt.Errorf("experiment %q: %w", id, ErrNotFound)
	}
	def, inf := *s.def, s.info()
	conflicts, unknown := s.conflicts, s.unknown
	alloc := s.allocation()
	agg := s.aggregate()
	e.mu.RUnlock()

	now := e.opts.Now().UTC()
	res := &Results{Experiment: inf, Computed: now, Conflicts: conflicts, Unknown: unknown, Allocation: alloc}
	nv := len(def.Variants)
	observed, weights := make([]float64, nv), make([]float64, nv)
	var all float64
	for v := range nv {
		observed[v] = float64(inf.Units[v])
		weights[v] = float64(def.Variants[v].Weight)
		all += observed[v]
	}
	for v, vr := range def.Variants {
		vc := VariantCount{ID: vr.ID, Name: vr.Name, Weight: vr.Weight, Units: inf.Units[v]}
		if all > 0 {
			vc.Share = observed[v] / all
		}
		res.Variants = append(res.Variants, vc)
	}
	srm, err := stats.SRM(observed, weights)
	if err != nil {
		// Units in a variant of weight 0 (an SDK logged a variant that is
		// switched off): no χ² to compute, and certainly a mismatch.
		srm = stats.SRMResult{Mismatch: true, Expected: make([]float64, nv)}
	}
	res.SRM = srm
	if def.Bandit {
		// A bandit moves traffic on purpose: units cannot match the weights.
		res.SRM = stats.SRMResult{PValue: 1, Expected: srm.Expected}
	}
	switch {
	case err != nil && !def.Bandit:
		res.SRMWarning = fmt.Sprintf("Sample ratio mismatch: units were exposed to a variant with weight 0 (%v). "+
			"Assignment or exposure logging is likely broken; do not trust these results until it is fixed.", err)
	case res.SRM.Mismatch:
		res.SRMWarning = srmWarning(res.Variants, weights, srm.PValue)
	}
	for m := range def.Metrics {
		res.Metrics = append(res.Metrics, metricResult(&def, agg, m))
	}
	res.Daily = daily(&def, agg)
	res.Verdict, res.DaysToGo = verdict(&def, res, agg, now)
	return res, nil
}

// aggregated is every unit summed per metric, variant and day of first
// exposure: cell (m, v, d) at [(m*V+v)*D+d].
type aggregated struct {
	days  int
	first int64 // unix seconds of day 0's start
	cells []stats.Paired
	nv    int
}

func (a *aggregated) cell(m, v, d int) *stats.Paired { return &a.cells[(m*a.nv+v)*a.days+d] }

// total is metric m of variant v over all days.
func (a *aggregated) total(m, v int) stats.Paired {
	var t stats.Paired
	for d := range a.days {
		t = addPaired(t, *a.cell(m, v, d))
	}
	return t
}

func addPaired(a, b stats.Paired) stats.Paired {
	return stats.Paired{N: a.N + b.N, SumY: a.SumY + b.SumY, SumY2: a.SumY2 + b.SumY2,
		SumX: a.SumX + b.SumX, SumX2: a.SumX2 + b.SumX2, SumXY: a.SumXY + b.SumXY}
}

// aggregate sums units; the caller holds mu for reading. One pass over
// the units and their values, in slice order (cache-friendly).
func (s *expState) aggregate() *aggregated {
	nm, nv := len(s.def.Metrics), len(s.def.Variants)
	a := &aggregated{nv: nv, days: 1}
	minT, maxT := int64(math.MaxInt64), int64(math.MinInt64)
	for _, u := range s.units {
		if u.variant >= 0 {
			minT, maxT = min(minT, u.exposed), max(maxT, u.exposed)
		}
	}
	if minT <= maxT {
		a.first = minT - minT%86400
		a.days = int((maxT-a.first)/86400) + 1
		if a.days > maxDays {
			a.first = maxT - maxT%86400 - (maxDays-1)*86400
			a.days = maxDays
		}
	}
	a.cells = make([]stats.Paired, nm*nv*a.days)
	st := 2 * nm
	for i, u := range s.units {
		if u.variant < 0 {
			continue
		}
		d := max(int((u.exposed-a.first)/86400), 0)
		vals := s.vals[i*st : i*st+st]
		for m := range nm {
			a.cell(m, int(u.variant), d).Add(vals[2*m], vals[2*m+1])
		}
	}
	return a
}

// compare is the sample each comparison uses for metric m: CUPED-adjusted
// when the pre-period covariate varies, else the raw metric.
type compare struct {
	cuped     bool
	theta, mx float64
}

func comparison(def *Experiment, a *aggregated, m int) compare {
	if *def.PreDays == 0 {
		return compare{}
	}
	totals := make([]stats.Paired, a.nv)
	for v := range a.nv {
		totals[v] = a.total(m, v)
	}
	theta, mx := stats.CUPEDTheta(totals...)
	return compare{cuped: theta != 0, theta: theta, mx: mx}
}

func (c compare) sample(p stats.Paired) stats.Sample {
	if c.cuped {
		return p.Adjusted(c.theta, c.mx)
	}
	return p.Y()
}

func metricResult(def *Experiment, a *aggregated, m int) MetricResult {
	metric := def.Metrics[m]
	cmp := comparison(def, a, m)
	mr := MetricResult{ID: metric.ID, Kind: metric.Kind, CUPED: cmp.cuped}
	ctrl := a.total(m, 0)
	var rawVar, adjVar float64
	for v := range a.nv {
		p := a.total(m, v)
		row := MetricVariant{ID: def.Variants[v].ID, Units: p.N, Total: p.SumY, Mean: p.Y().Mean()}
		rawVar += p.Y().Variance() * p.N
		adjVar += cmp.sample(p).Variance() * p.N
		if v > 0 {
			row.Effect, row.Bayes = effect(metric.Kind, cmp, ctrl, p, def.Alpha)
			if row.Effect != nil {
				seq := sequentialFor(def, a, m, v, cmp)
				row.Sequential = &seq
			}
		}
		mr.Variants = append(mr.Variants, row)
	}
	if cmp.cuped && rawVar > 0 {
		mr.VarianceReduction = 1 - adjVar/rawVar
	}
	return mr
}

// effect compares treatment t with control c on one metric: conversions
// without CUPED by the two-proportion z test and Beta-Binomial; everything
// else by Welch and the normal posterior on the (adjusted) means.
func effect(kind MetricKind, cmp compare, c, t stats.Paired, alpha float64) (*stats.Effect, *stats.Bayes) {
	var e stats.Effect
	var b stats.Bayes
	var err error
	if kind == MetricConversion && !cmp.cuped {
		if e, err = stats.TwoProportion(c.Y(), t.Y(), alpha); err != nil {
			return nil, nil
		}
		if b, err = stats.BetaBinomial(c.Y(), t.Y(), stats.BetaPrior{}); err != nil {
			return &e, nil
		}
		return &e, &b
	}
	cs, ts := cmp.sample(c), cmp.sample(t)
	if e, err = stats.Welch(cs, ts, alpha); err != nil {
		return nil, nil
	}
	// Report the means of the metric itself; the adjusted ones differ by
	// θ·(x̄ − x̄_pooled), an artefact of the covariate, not a quantity users know.
	if cmp.cuped {
		e.Control, e.Treatment = c.Y().Mean(), c.Y().Mean()+e.Abs
		// Welch's relative effect is against the adjusted control mean,
		// which is not zero when the raw one is: a lift on nothing.
		e.RelDefined, e.Rel, e.RelSE, e.RelCI = false, 0, 0, stats.Interval{}
		if e.Control != 0 {
			e.RelDefined, e.Rel = true, e.Abs/e.Control
			e.RelSE = e.AbsSE / math.Abs(e.Control)
			q := (e.AbsCI.Hi - e.Abs) / e.AbsSE
			e.RelCI = stats.Interval{Lo: e.Rel - q*e.RelSE, Hi: e.Rel + q*e.RelSE}
		}
	}
	if b, err = stats.NormalMeans(cs, ts); err != nil {
		return &e, nil
	}
	return &e, &b
}

// plannedUnits is the sample size per variant that the plan (MDE, alpha,
// power) needs, from control's observed mean and spread; 0 when it cannot
// be estimated yet.
func plannedUnits(def *Experiment, kind MetricKind, c stats.Sample) float64 {
	mean := c.Mean()
	var n float64
	var err error
	if kind == MetricConversion {
		if mean <= 0 || mean*(1+def.MDE) >= 1 {
			return 0
		}
		n, err = stats.SampleSizeProportion(mean, mean*def.MDE, def.Alpha, def.Power)
	} else {
		sd := math.Sqrt(c.Variance())
		if mean == 0 || sd == 0 {
			return 0
		}
		n, err = stats.SampleSizeMeans(sd, math.Abs(mean)*def.MDE, def.Alpha, def.Power)
	}
	if err != nil {
		return 0
	}
	return math.Ceil(n)
}

// sequentialFor runs the mixture SPRT over the daily cumulative samples of
// variant v against control, units in order of first exposure (each with
// its metric as counted now). τ² is tuned to the planned sample size (or
// the current one when no plan can be estimated) with the variances seen
// so far: the strict guarantee is for a τ² fixed in advance, and a τ² that
// settles as data comes in is the usual practical approximation.
func sequentialFor(def *Experiment, a *aggregated, m, v int, cmp compare) stats.SequentialLook {
	look, _ := sequentialDays(def, a, m, v, cmp, nil)
	look.CI = stats.Interval{Lo: finite(look.CI.Lo), Hi: finite(look.CI.Hi)}
	return look
}

func sequentialDays(def *Experiment, a *aggregated, m, v int, cmp compare, each func(d int, c, t stats.Sample, l stats.SequentialLook)) (stats.SequentialLook, bool) {
	c, t := cmp.sample(a.total(m, 0)), cmp.sample(a.total(m, v))
	n := plannedUnits(def, def.Metrics[m].Kind, a.total(m, 0).Y())
	if n == 0 {
		n = max(c.N, t.N, 2)
	}
	vPlan := (c.Variance() + t.Variance()) / n
	if !(vPlan > 0) {
		return stats.SequentialLook{PValue: 1, CI: stats.Interval{Lo: math.Inf(-1), Hi: math.Inf(1)}}, false
	}
	seq, err := stats.NewSequential(def.Alpha, stats.MixtureVariance(vPlan, def.Alpha))
	if err != nil {
		return stats.SequentialLook{PValue: 1}, false
	}
	var cc, tc stats.Paired
	var look stats.SequentialLook
	for d := range a.days {
		cc, tc = addPaired(cc, *a.cell(m, 0, d)), addPaired(tc, *a.cell(m, v, d))
		cs, ts := cmp.sample(cc), cmp.sample(tc)
		look = seq.Look(cs, ts)
		if each != nil {
			each(d, cs, ts, look)
		}
	}
	return look, true
}

// daily is the primary metric's cumulative comparison per day.
func daily(def *Experiment, a *aggregated) []DailyPoint {
	if a.days == 0 || len(a.cells) == 0 {
		return nil
	}
	pts := make([]DailyPoint, a.days)
	cum := make([]float64, a.nv)
	for d := range a.days {
		for v := range a.nv {
			cum[v] += a.cell(0, v, d).N
		}
		t := a.first + int64(d)*86400
		pts[d] = DailyPoint{Day: time.Unix(t, 0).UTC().Format(time.DateOnly), Unix: t, Units: slices.Clone(cum)}
	}
	cmp := comparison(def, a, 0)
	for v := 1; v < a.nv; v++ {
		// Lifts are against control's raw mean, as effect reports them:
		// with CUPED the adjusted mean is not zero when the raw one is.
		var raw stats.Paired
		sequentialDays(def, a, 0, v, cmp, func(d int, c, t stats.Sample, l stats.SequentialLook) {
			raw = addPaired(raw, *a.cell(0, 0, d))
			de := DailyEffect{Variant: def.Variants[v].ID, PValue: l.PValue}
			mc := raw.Y().Mean()
			e, err := stats.Welch(c, t, def.Alpha)
			if err != nil || mc == 0 {
				return
			}
			de.Rel, de.Lo, de.Hi = e.Abs/mc, e.AbsCI.Lo/mc, e.AbsCI.Hi/mc
			if mc < 0 {
				de.Lo, de.Hi = de.Hi, de.Lo
			}
			de.SeqLo, de.SeqHi = finite(l.CI.Lo/mc), finite(l.CI.Hi/mc)
			if mc < 0 {
				de.SeqLo, de.SeqHi = de.SeqHi, de.SeqLo
			}
			pts[d].Effects = append(pts[d].Effects, de)
		})
	}
	return pts
}

// finite maps ±Inf (no bound yet) to a large finite number, since JSON has
// no infinity.
func finite(x float64) float64 {
	switch {
	case math.IsInf(x, 1):
		return math.MaxFloat32
	case math.IsInf(x, -1):
		return -math.MaxFloat32
	}
	return x
}
