package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Effect is the frequentist comparison of a treatment with control.
type Effect struct {
	Control   float64 `json:"control"`   // control mean (conversion rate for proportions)
	Treatment float64 `json:"treatment"` // treatment mean

	Abs   float64  `json:"abs"`    // Treatment − Control
	AbsSE float64  `json:"abs_se"` // standard error of Abs
	AbsCI Interval `json:"abs_ci"`

	// Rel is Treatment/Control − 1 with its delta-method standard error and
	// interval. RelDefined is false when the control mean is zero (no lift
	// can be expressed); the Rel fields are then zero.
	Rel        float64  `json:"rel"`
	RelSE      float64  `json:"rel_se"`
	RelCI      Interval `json:"rel_ci"`
	RelDefined bool     `json:"rel_defined"`

	// PValue is the two-sided p-value of "no difference" for the absolute
	// effect. It is a fixed-horizon p-value: valid only when looked at once,
	// at the planned sample size; see Sequential for peeking.
	PValue float64 `json:"p_value"`
	// DF is the degrees of freedom of the t distribution used (Welch–
	// Satterthwaite), or 0 when a normal (z) approximation was used (JSON
	// has no infinity).
	DF float64 `json:"df"`
}

// Significant reports whether the absolute interval excludes zero.
func (e Effect) Significant() bool { return !e.AbsCI.Contains(0) }

func checkAlpha(alpha float64) error {
	if !(alpha > 0 && alpha < 1) {
		return fmt.Errorf("stats: alpha %v outside (0, 1)", alpha)
	}
	return nil
}

// Welch compares means with Welch's unequal-variance t test: the absolute
// effect's interval uses the Welch–Satterthwaite degrees of freedom, and the
// relative effect's interval uses the delta method,
//
//	Var(mt/mc) ≈ vt/(nt·mc²) + mt²·vc/(nc·mc⁴),
//
// with the same t quantile.
func Welch(c, t Sample, alpha float64) (Effect, error) {
	if err := checkAlpha(alpha); err != nil {
		return Effect{}, err
	}
	if c.N < 2 || t.N < 2 {
		return Effect{}, ErrTooFewUnits
	}
	mc, mt := c.Mean(), t.Mean()
	a, b := c.Variance()/c.N, t.Variance()/t.N // squared standard errors of the means
	se := math.Sqrt(a + b)
	df := math.Inf(1)
	if a+b > 0 {
		df = (a + b) * (a + b) / (a*a/(c.N-1) + b*b/(t.N-1))
	}
	q := quantileT(1-alpha/2, df)
	e := Effect{Control: mc, Treatment: mt, Abs: mt - mc, AbsSE: se}
	if !math.IsInf(df, 1) {
		e.DF = df
	}
	e.AbsCI = Interval{e.Abs - q*se, e.Abs + q*se}
	e.PValue = pValueT(e.Abs, se, df)
	if mc != 0 {
		e.RelDefined = true
		e.Rel = mt/mc - 1
		e.RelSE = math.Sqrt(b/(mc*mc) + mt*mt*a/(mc*mc*mc*mc))
		e.RelCI = Interval{e.Rel - q*e.RelSE, e.Rel + q*e.RelSE}
	}
	return e, nil
}

// TwoProportion compares conversion rates (Sum = conversions out of N) with
// the two-proportion z test. The p-value uses the pooled standard error (the
// classic test, equal to Pearson's χ² on the 2×2 table without continuity
// correction); the intervals use the unpooled one (Wald), and the relative
// interval the delta method.
func TwoProportion(c, t Sample, alpha float64) (Effect, error) {
	if err := checkAlpha(alpha); err != nil {
		return Effect{}, err
	}
	if c.N < 2 || t.N < 2 {
		return Effect{}, ErrTooFewUnits
	}
	if c.Sum < 0 || c.Sum > c.N || t.Sum < 0 || t.Sum > t.N {
		return Effect{}, fmt.Errorf("stats: conversions outside [0, units]: control %v/%v, treatment %v/%v", c.Sum, c.N, t.Sum, t.N)
	}
	pc, pt := c.Sum/c.N, t.Sum/t.N
	a, b := pc*(1-pc)/c.N, pt*(1-pt)/t.N
	se := math.Sqrt(a + b)
	z := quantileZ(1 - alpha/2)
	e := Effect{Control: pc, Treatment: pt, Abs: pt - pc, AbsSE: se}
	e.AbsCI = Interval{e.Abs - z*se, e.Abs + z*se}
	pool := (c.Sum + t.Sum) / (c.N + t.N)
	e.PValue = pValueT(e.Abs, math.Sqrt(pool*(1-pool)*(1/c.N+1/t.N)), math.Inf(1))
	if pc != 0 {
		e.RelDefined = true
		e.Rel = pt/pc - 1
		e.RelSE = math.Sqrt(b/(pc*pc) + pt*pt*a/(pc*pc*pc*pc))
		e.RelCI = Interval{e.Rel - z*e.RelSE, e.Rel + z*e.RelSE}
	}
	return e, nil
}

// pValueT is the two-sided p-value of est/se under a t distribution with df
// degrees of freedom (+Inf: standard normal). A zero se gives 1 for a zero
// estimate and 0 otherwise.
func pValueT(est, se, df float64) float64 {
	if se == 0 {
		if est == 0 {
			return 1
		}
		return 0
	}
	x := -math.Abs(est / se)
	if math.IsInf(df, 1) {
		return 2 * distuv.UnitNormal.CDF(x)
	}
	return 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.CDF(x)
}

func quantileT(p, df float64) float64 {
	if math.IsInf(df, 1) || df > 1e7 {
		return quantileZ(p)
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
}

func quantileZ(p float64) float64 { return distuv.UnitNormal.Quantile(p) }
