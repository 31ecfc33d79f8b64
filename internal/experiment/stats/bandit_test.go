package stats

import (
	"math"
	"testing"
)

func TestChanceBestAgreesWithPairwiseAndSumsToOne(t *testing.T) {
	// Two arms: the chance the second is best is BetaBinomial's chance to
	// beat (Evan Miller's closed form, checked in TestBetaBinomialMatchesClosedForm).
	c, tr := Sample{N: 1000, Sum: 100}, Sample{N: 1000, Sum: 120}
	two := ChanceBestBeta([]Sample{c, tr}, BetaPrior{})
	near(t, "two arms", two[1], 0.923183439, 1e-8)
	// Symmetric arms split evenly; the total is one.
	same := ChanceBestBeta([]Sample{c, c, c}, BetaPrior{})
	for _, p := range same {
		near(t, "symmetric arm", p, 1.0/3, 1e-9)
	}
	// scipy check: three arms 50/1000, 60/1000, 80/1000, P(third best) =
	// integrate.quad(lambda x: C.pdf(x)*A.cdf(x)*B.cdf(x), 0, 1) with
	// beta(1+x, 1+n−x) posteriors → 0.9577462585.
	three := ChanceBestBeta([]Sample{{N: 1000, Sum: 50}, {N: 1000, Sum: 60}, {N: 1000, Sum: 80}}, BetaPrior{})
	var sum float64
	for _, p := range three {
		sum += p
	}
	near(t, "sum", sum, 1, 1e-12)
	near(t, "third best", three[2], 0.9577462585, 1e-8)
	// Normal arms: two arms reduce to Φ(Δ/s).
	a, b := fromSummary(10, 2, 100), fromSummary(10.5, math.Sqrt(8.25), 100)
	n := ChanceBestNormal([]Sample{a, b})
	near(t, "normal two arms", n[1], normalBayes(0.5, 0.35).ChanceToBeat, 1e-8)
	if u := ChanceBestNormal([]Sample{{N: 1}, b}); u[0] != 0.5 {
		t.Errorf("an arm without data: %v, want uniform", u)
	}
}
