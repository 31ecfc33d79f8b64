package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// posterior is what ChanceBest needs of an arm's posterior.
type posterior interface {
	Prob(x float64) float64
	CDF(x float64) float64
	Mean() float64
	StdDev() float64
}

// chanceBest is, for each arm, P(its value is the highest) under
// independent posteriors: ∫ fᵢ(x) Πⱼ≠ᵢ Fⱼ(x) dx by Gauss–Legendre over the
// pieces of the arms' ranges (breakpoints) clipped to [lo, hi]. The results are
// renormalised to sum to 1 (the quadrature leaves ~1e-9).
func chanceBest(arms []posterior, lo, hi float64) []float64 {
	out := make([]float64, len(arms))
	if len(arms) == 0 {
		return out
	}
	ds := make([]spread, len(arms))
	for i, p := range arms {
		ds[i] = p
	}
	cuts := breakpoints(lo, hi, ds...)
	var sum float64
	for i := range arms {
		out[i] = integrate(func(x float64) float64 {
			v := arms[i].Prob(x)
			for j, q := range arms {
				if j != i && v != 0 {
					v *= q.CDF(x)
				}
			}
			return v
		}, cuts)
		out[i] = math.Max(out[i], 0)
		sum += out[i]
	}
	for i := range out {
		if sum > 0 {
			out[i] /= sum
		} else {
			out[i] = 1 / float64(len(out))
		}
	}
	return out
}

// ChanceBestBeta is each arm's probability of having the highest
// conversion rate, with Beta(prior + conversions, prior + failures)
// posteriors. It is what Thompson sampling allocates traffic by, in
// expectation (randomised probability matching).
func ChanceBestBeta(arms []Sample, prior BetaPrior) []float64 {
	if prior.Alpha <= 0 || prior.Beta <= 0 {
		prior = BetaPrior{1, 1}
	}
	ps := make([]posterior, len(arms))
	for i, s := range arms {
		ps[i] = distuv.Beta{Alpha: prior.Alpha + s.Sum, Beta: prior.Beta + math.Max(s.N-s.Sum, 0)}
	}
	return chanceBest(ps, 0, 1)
}

// ChanceBestNormal is each arm's probability of having the highest mean,
// with the normal approximation N(mean, variance/n) of each mean's
// posterior. Arms with fewer than two units make the answer uniform: there
// is nothing to go on yet.
func ChanceBestNormal(arms []Sample) []float64 {
	ps := make([]posterior, len(arms))
	for i, s := range arms {
		if s.N < 2 {
			u := make([]float64, len(arms))
			for j := range u {
				u[j] = 1 / float64(len(arms))
			}
			return u
		}
		sd := math.Sqrt(s.Variance() / s.N)
		if sd == 0 {
			sd = 1e-12 * math.Max(1, math.Abs(s.Mean()))
		}
		ps[i] = distuv.Normal{Mu: s.Mean(), Sigma: sd}
	}
	return chanceBest(ps, math.Inf(-1), math.Inf(1))
}
