package stats

import (
	"fmt"
	"math"
)

// MixtureVariance is the variance τ² of the normal mixture over effects used
// by the mixture SPRT, tuned so that the confidence sequence is narrowest
// when the estimate's variance is vPlanned — the variance of the effect
// estimate at the planned sample size. This is Howard et al. (2021,
// "Time-uniform, nonparametric, nonasymptotic confidence sequences",
// section 3.5) choice ρ = m / (−2 ln α + ln(−2 ln α + 1)) for intrinsic time
// m, written in the units of the effect (τ² = 1/ρ for unit variance).
func MixtureVariance(vPlanned, alpha float64) float64 {
	l := -2 * math.Log(alpha)
	return vPlanned * (l + math.Log(l+1))
}

// SequentialLook is one look of the mixture SPRT at the current data.
type SequentialLook struct {
	// Lambda is the mixture likelihood ratio of "effect ≠ 0" against
	// "effect = 0" at this look.
	Lambda float64 `json:"lambda"`
	// PValue is the always-valid p-value: the smallest 1/Lambda seen so far
	// (capped at 1). Rejecting when it falls below alpha, at whichever look,
	// keeps the false-positive rate at most alpha.
	PValue float64 `json:"p_value"`
	// CI is the running intersection of the confidence sequences of all
	// looks so far; it covers the true effect at every look at once with
	// probability at least 1 − alpha.
	CI Interval `json:"ci"`
}

// Sequential is the mixture sequential probability ratio test (mSPRT) of
// Johari, Pekelis & Walsh (2017, "Always valid inference: bringing
// sequential analysis to A/B testing") for a difference of means with a
// normal approximation: with the estimate θ̂ (treatment − control mean), its
// variance V and a N(0, τ²) mixture over the effect,
//
//	Λ = sqrt(V/(V+τ²)) · exp( θ̂²·τ² / (2V(V+τ²)) ),
//
// and the confidence sequence is the set of θ with Λ(θ̂−θ) < 1/α:
//
//	θ̂ ± sqrt( V(V+τ²)/τ² · (ln((V+τ²)/V) − 2 ln α) ).
//
// Feed it the cumulative samples at each look (e.g. once a day) with Look.
// The zero value is not ready; use NewSequential.
type Sequential struct {
	alpha, tau2 float64
	looks       int
	minP        float64
	ci          Interval
}

// NewSequential returns a test at level alpha with mixture variance tau2
// (see MixtureVariance).
func NewSequential(alpha, tau2 float64) (*Sequential, error) {
	if err := checkAlpha(alpha); err != nil {
		return nil, err
	}
	if !(tau2 > 0) || math.IsInf(tau2, 1) {
		return nil, fmt.Errorf("stats: mixture variance %v must be positive and finite", tau2)
	}
	return &Sequential{alpha: alpha, tau2: tau2, minP: 1, ci: Interval{math.Inf(-1), math.Inf(1)}}, nil
}

// Look folds the cumulative control and treatment samples at one look.
// A look where a variant has fewer than two units, or no variance, changes
// nothing and returns the state so far.
func (s *Sequential) Look(c, t Sample) SequentialLook {
	if c.N < 2 || t.N < 2 {
		return s.state(0)
	}
	v := c.Variance()/c.N + t.Variance()/t.N
	if v <= 0 {
		return s.state(0)
	}
	d := t.Mean() - c.Mean()
	lambda := mixtureLR(d, v, s.tau2)
	s.looks++
	if lambda > 0 {
		s.minP = math.Min(s.minP, 1/lambda)
	}
	r := math.Sqrt(v * (v + s.tau2) / s.tau2 * (math.Log((v+s.tau2)/v) - 2*math.Log(s.alpha)))
	s.ci.Lo = math.Max(s.ci.Lo, d-r)
	s.ci.Hi = math.Min(s.ci.Hi, d+r)
	return s.state(lambda)
}

func (s *Sequential) state(lambda float64) SequentialLook {
	return SequentialLook{Lambda: lambda, PValue: s.minP, CI: s.ci}
}

// mixtureLR is Λ for estimate d with variance v under a N(0, tau2) mixture;
// computed in logs so a large effect gives +Inf rather than NaN.
func mixtureLR(d, v, tau2 float64) float64 {
	return math.Exp(0.5*math.Log(v/(v+tau2)) + d*d*tau2/(2*v*(v+tau2)))
}
