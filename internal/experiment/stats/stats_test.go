package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// fromSummary builds a Sample from a mean, standard deviation and count, the
// form in which the reference engines state their cases.
func fromSummary(mean, sd, n float64) Sample {
	return Sample{N: n, Sum: n * mean, SumSq: (n-1)*sd*sd + n*mean*mean}
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.10g, want %.10g (±%g)", what, got, want, tol)
	}
}

func TestWelchMatchesReferenceEngines(t *testing.T) {
	cases := []struct {
		name             string
		source           string
		c, t             Sample
		p, df            float64
		absLo, absHi     float64
		relLo, relHi     float64
		tolAbs, tolOther float64
	}{
		{
			name: "growthbook two-sided t test",
			// GrowthBook gbstats packages/stats/tests/frequentist/test_tests.py,
			// TestTwoSidedTTest: absolute ci [0.04538, 0.53462], p 0.02016 (an
			// earlier revision) and relative ci [-0.03526, 1.44989], uplift sd
			// 0.37879 (a later one), both rounded to 5 decimals. df from
			// scipy below.
			source: "gbstats",
			c:      fromSummary(0.41, 3.9, 3407), t: fromSummary(0.7, 6.2, 3461),
			p: 0.02016, df: 5841.742032,
			absLo: 0.04538, absHi: 0.53462, relLo: -0.03526, relHi: 1.44989,
			tolAbs: 1e-5, tolOther: 1e-5,
		},
		{
			name: "scipy, treatment higher, small samples",
			// scipy 1.10 stats.ttest_ind_from_stats(11,3,40, 10,2,50, equal_var=False)
			// → pvalue 0.0747987386; interval with stats.t.ppf(0.975, df).
			source: "scipy",
			c:      fromSummary(10, 2, 50), t: fromSummary(11, 3, 40),
			p: 0.0747987386, df: 65.11213362,
			absLo: -0.1029194515, absHi: 2.102919451, relLo: -0.01328877907, relHi: 0.2132887791,
			tolAbs: 1e-8, tolOther: 1e-6,
		},
		{
			name: "scipy, treatment lower, unequal variances",
			// scipy stats.ttest_ind_from_stats(4.1,0.8,9, 5.0,1.2,12, equal_var=False)
			source: "scipy",
			c:      fromSummary(5.0, 1.2, 12), t: fromSummary(4.1, 0.8, 9),
			p: 0.0536379299, df: 18.81498612,
			absLo: -1.815601122, absHi: 0.01560112225, relLo: -0.3432029323, relHi: -0.01679706772,
			tolAbs: 1e-8, tolOther: 1e-6,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Welch(tc.c, tc.t, 0.05)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "p", e.PValue, tc.p, tc.tolOther)
			near(t, "df", e.DF, tc.df, 1e-3)
			near(t, "abs lo", e.AbsCI.Lo, tc.absLo, tc.tolAbs)
			near(t, "abs hi", e.AbsCI.Hi, tc.absHi, tc.tolAbs)
			near(t, "rel lo", e.RelCI.Lo, tc.relLo, tc.tolOther)
			near(t, "rel hi", e.RelCI.Hi, tc.relHi, tc.tolOther)
			if !e.RelDefined {
				t.Error("relative effect not defined with a non-zero control mean")
			}
		})
	}
}

func TestTwoProportionMatchesChiSquare(t *testing.T) {
	// p-values: scipy 1.10 stats.chi2_contingency([[x1,n1-x1],[x2,n2-x2]],
	// correction=False), which equals the pooled two-proportion z test;
	// intervals: Wald, p2−p1 ± stats.norm.ppf(0.975)·se (unpooled).
	cases := []struct {
		x1, n1, x2, n2 float64
		p, lo, hi      float64
	}{
		{200, 1000, 250, 1000, 0.007419649261, 0.01346362169, 0.08653637831},
		{49, 100, 51, 100, 0.7772974108, -0.1185626616, 0.1585626616},
		{1200, 50000, 1320, 50000, 0.01547113131, 0.0004572210566, 0.004342778943},
	}
	for _, tc := range cases {
		e, err := TwoProportion(Sample{N: tc.n1, Sum: tc.x1, SumSq: tc.x1}, Sample{N: tc.n2, Sum: tc.x2, SumSq: tc.x2}, 0.05)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "p", e.PValue, tc.p, 1e-9)
		near(t, "lo", e.AbsCI.Lo, tc.lo, 1e-9)
		near(t, "hi", e.AbsCI.Hi, tc.hi, 1e-9)
		near(t, "rel", e.Rel, tc.x2/tc.n2/(tc.x1/tc.n1)-1, 1e-12)
		if e.DF != 0 {
			t.Errorf("z test reports df %v, want 0", e.DF)
		}
	}
}

func TestFrequentistRejectsBadInput(t *testing.T) {
	ok := Sample{N: 100, Sum: 10, SumSq: 10}
	cases := []struct {
		name  string
		run   func() error
		wants string
	}{
		{"welch one unit", func() error { _, err := Welch(Sample{N: 1, Sum: 1, SumSq: 1}, ok, 0.05); return err }, "too few"},
		{"welch alpha", func() error { _, err := Welch(ok, ok, 1.5); return err }, "alpha"},
		{"proportion above one", func() error { _, err := TwoProportion(Sample{N: 10, Sum: 11}, ok, 0.05); return err }, "outside"},
	}
	for _, tc := range cases {
		err := tc.run()
		if err == nil || !contains(err.Error(), tc.wants) {
			t.Errorf("%s: err %v, want one mentioning %q", tc.name, err, tc.wants)
		}
	}
	e, err := Welch(Sample{N: 10}, Sample{N: 10, Sum: 5, SumSq: 5}, 0.05)
	if err != nil || e.RelDefined {
		t.Errorf("zero control mean: rel defined %v err %v, want undefined and no error", e.RelDefined, err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestBetaBinomialMatchesClosedForm(t *testing.T) {
	// chance: Evan Miller (2015) "Formulas for Bayesian A/B testing", the
	// closed-form sum for P(pB > pA), evaluated with scipy.special.betaln and
	// checked with scipy.integrate.quad(B.pdf·A.cdf). Losses: scipy
	// integrate.dblquad of (a−b)·fA·fB over a > b. The first case's losses
	// are GrowthBook gbstats tests/bayesian/test_tests.py
	// test_bayesian_binomial_ab_test risk [0.03872, 0.01912] (its chance to
	// win, 0.61052, comes from a log-normal approximation, not this exact form).
	cases := []struct {
		x1, n1, x2, n2 float64
		win, lossT     float64
		lossC          float64
	}{
		{49, 100, 51, 100, 0.6107705227, 0.0191164612, 0.03872430434},
		{100, 1000, 120, 1000, 0.923183439, 0.0004846139264, 0.02044469377},
		{0, 50, 3, 50, 0.9411941194, 0.001086964559, 0.05877927225},
		{30, 400, 22, 400, 0.1276610418, 0.02102452104, 0.001124023525},
	}
	for _, tc := range cases {
		b, err := BetaBinomial(Sample{N: tc.n1, Sum: tc.x1}, Sample{N: tc.n2, Sum: tc.x2}, BetaPrior{})
		if err != nil {
			t.Fatal(err)
		}
		near(t, "chance", b.ChanceToBeat, tc.win, 1e-8)
		near(t, "loss treatment", b.LossTreatment, tc.lossT, 1e-8)
		near(t, "loss control", b.LossControl, tc.lossC, 1e-8)
	}
}

func TestBetaBinomialIsStableAtScale(t *testing.T) {
	// At a million units a side the posteriors are needle-thin; the
	// quadrature must still agree with the normal approximation.
	c := Sample{N: 1e6, Sum: 50000}
	tr := Sample{N: 1e6, Sum: 50400}
	b, err := BetaBinomial(c, tr, BetaPrior{})
	if err != nil {
		t.Fatal(err)
	}
	pc, pt := c.Sum/c.N, tr.Sum/tr.N
	n := normalBayes(pt-pc, math.Sqrt(pc*(1-pc)/c.N+pt*(1-pt)/tr.N))
	near(t, "chance vs normal", b.ChanceToBeat, n.ChanceToBeat, 1e-3)
	near(t, "loss vs normal", b.LossTreatment, n.LossTreatment, 1e-6)
}

func TestNormalMeansClosedForm(t *testing.T) {
	// scipy: chance = stats.norm.cdf(d/s); loss = integrate.quad(lambda x:
	// -x*stats.norm.pdf(x, d, s), -inf, 0).
	cases := []struct{ d, s, chance, lossT float64 }{
		{0.5, 0.35, 0.9234362745, 0.01204738921},
		{-0.2, 0.1, 0.02275013195, 0.2008490703},
		{0.01, 1.0, 0.5039893563, 0.3939622273},
	}
	for _, tc := range cases {
		b := normalBayes(tc.d, tc.s)
		near(t, "chance", b.ChanceToBeat, tc.chance, 1e-9)
		near(t, "loss treatment", b.LossTreatment, tc.lossT, 1e-9)
		near(t, "loss control", b.LossControl, tc.d+tc.lossT, 1e-9)
	}
	// Through samples: means 10 vs 10.5 with se² = 4/100 + 8.25/100.
	c := fromSummary(10, 2, 100)
	tr := fromSummary(10.5, math.Sqrt(8.25), 100)
	b, err := NormalMeans(c, tr)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "chance through samples", b.ChanceToBeat, normalBayes(0.5, 0.35).ChanceToBeat, 1e-9)
}

func TestSequentialMatchesFormula(t *testing.T) {
	// Johari et al. (2017) mixture likelihood ratio and its confidence
	// sequence, evaluated in plain Python (math.sqrt/exp/log) for (θ̂, V, α, τ²).
	cases := []struct {
		d, v, alpha, tau2 float64
		lambda, lo, hi    float64
	}{
		{0.3, 0.01, 0.05, 0.02, 11.59639015, -0.02611524426, 0.6261152443},
		{0.05, 0.0004, 0.05, 0.001, 4.981651053, -0.0136927579, 0.1136927579},
		{0.0, 0.01, 0.1, 0.01, 0.7071067812, -0.3255247261, 0.3255247261},
	}
	for _, tc := range cases {
		s, err := NewSequential(tc.alpha, tc.tau2)
		if err != nil {
			t.Fatal(err)
		}
		// Two samples of 100 units with variances splitting v evenly and
		// means tc.d apart.
		sd := math.Sqrt(tc.v / 2 * 100)
		look := s.Look(fromSummary(1, sd, 100), fromSummary(1+tc.d, sd, 100))
		near(t, "lambda", look.Lambda, tc.lambda, 1e-7*tc.lambda)
		near(t, "lo", look.CI.Lo, tc.lo, 1e-9)
		near(t, "hi", look.CI.Hi, tc.hi, 1e-9)
		near(t, "p", look.PValue, math.Min(1, 1/tc.lambda), 1e-9)
	}
}

// TestSequentialKeepsFalsePositivesUnderPeeking simulates A/A experiments
// looked at every day for 30 days: rejecting on the first daily fixed-horizon
// p < 0.05 gives far more than 5 % false positives, the always-valid p-value
// stays within 5 %; and with a real effect it still detects it.
func TestSequentialKeepsFalsePositivesUnderPeeking(t *testing.T) {
	const (
		sims, days, perDay = 1000, 30, 200
		alpha              = 0.05
	)
	run := func(effect float64, seed uint64) (naive, seq int) {
		rng := rand.New(rand.NewPCG(seed, 1))
		tau2 := MixtureVariance(2.0/(days*perDay), alpha)
		for range sims {
			s, _ := NewSequential(alpha, tau2)
			var c, tr Sample
			naiveHit, seqHit := false, false
			for range days {
				// A day's sums of perDay unit-variance normals, drawn at once.
				c.N += perDay
				c.Sum += rng.NormFloat64() * math.Sqrt(perDay)
				tr.N += perDay
				tr.Sum += effect*perDay + rng.NormFloat64()*math.Sqrt(perDay)
				c.SumSq = (c.N - 1) + c.Sum*c.Sum/c.N
				tr.SumSq = (tr.N - 1) + tr.Sum*tr.Sum/tr.N
				se := math.Sqrt(c.Variance()/c.N + tr.Variance()/tr.N)
				naiveHit = naiveHit || pValueT(tr.Mean()-c.Mean(), se, math.Inf(1)) < alpha
				seqHit = seqHit || s.Look(c, tr).PValue < alpha
			}
			if naiveHit {
				naive++
			}
			if seqHit {
				seq++
			}
		}
		return naive, seq
	}
	naive, seq := run(0, 42)
	t.Logf("A/A: naive peeking %d, sequential %d of %d", naive, seq, sims)
	// Binomial(1000, 0.05) has sd ≈ 7; 65 is about 2 sd above 5 %.
	if seq > 65 {
		t.Errorf("sequential false positives %d/%d, want ≤ 65 (α = 5 %%)", seq, sims)
	}
	if naive < 150 {
		t.Errorf("naive peeking false positives %d/%d, expected the inflation the sequential test prevents (≥ 150)", naive, sims)
	}
	// 0.07 sd with 6000 units a side is z ≈ 3.8 at the end.
	_, power := run(0.07, 7)
	t.Logf("effect 0.07: sequential detected %d of %d", power, sims)
	if power < 700 {
		t.Errorf("sequential detected a 0.07 sd effect in %d/%d runs, want ≥ 700", power, sims)
	}
}

func TestSRMMatchesChiSquare(t *testing.T) {
	// scipy 1.10 stats.chisquare(obs, f_exp=n·w/Σw).
	cases := []struct {
		obs, w   []float64
		chi2, p  float64
		mismatch bool
	}{
		{[]float64{5050, 4950}, []float64{1, 1}, 1, 0.3173105079, false},
		{[]float64{50123, 49000}, []float64{1, 1}, 12.72286957, 0.0003612111005, true},
		{[]float64{1010, 990, 2100}, []float64{1, 1, 2}, 2.634146341, 0.2679183067, false},
		{[]float64{821, 1000}, []float64{1, 1}, 17.59527732, 2.732661333e-05, true},
	}
	for _, tc := range cases {
		r, err := SRM(tc.obs, tc.w)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "chi2", r.ChiSquare, tc.chi2, 1e-7)
		near(t, "p", r.PValue, tc.p, 1e-9*math.Max(1, tc.p*1e3))
		if r.Mismatch != tc.mismatch {
			t.Errorf("%v: mismatch %v, want %v", tc.obs, r.Mismatch, tc.mismatch)
		}
	}
	if _, err := SRM([]float64{1, 2}, []float64{1}); err == nil {
		t.Error("SRM with fewer weights than counts: no error")
	}
	if _, err := SRM([]float64{5, 2}, []float64{0, 1}); err == nil {
		t.Error("SRM with units in a zero-weight variant: no error")
	}
}

func TestCUPEDMatchesPerUnitAdjustment(t *testing.T) {
	// Deng et al. (2013): Y' = Y − θ(X − E X) with θ = Cov(X,Y)/Var(X) keeps
	// the mean difference and shrinks the variance by 1 − ρ². Compare the
	// sums-only path with adjusting every unit, on data where X explains
	// most of Y.
	rng := rand.New(rand.NewPCG(3, 3))
	var pc, pt Paired
	type unit struct{ y, x float64 }
	var units [2][]unit
	for i := range 4000 {
		x := 10 + 3*rng.NormFloat64()
		y := 0.8*x + rng.NormFloat64()
		v := i % 2
		if v == 1 {
			y += 0.1
			pt.Add(y, x)
		} else {
			pc.Add(y, x)
		}
		units[v] = append(units[v], unit{y, x})
	}
	theta, mx := CUPEDTheta(pc, pt)
	for v, p := range []Paired{pc, pt} {
		var direct Sample
		for _, u := range units[v] {
			direct.Add(u.y - theta*(u.x-mx))
		}
		adj := p.Adjusted(theta, mx)
		near(t, "adjusted mean", adj.Mean(), direct.Mean(), 1e-9)
		near(t, "adjusted variance", adj.Variance(), direct.Variance(), 1e-6)
	}
	raw, _ := Welch(pc.Y(), pt.Y(), 0.05)
	adj, _ := Welch(pc.Adjusted(theta, mx), pt.Adjusted(theta, mx), 0.05)
	// ρ² = 0.8²·9/(0.8²·9+1) ≈ 0.852, so the standard error shrinks by
	// about sqrt(1 − 0.852) ≈ 0.385.
	if ratio := adj.AbsSE / raw.AbsSE; ratio < 0.33 || ratio > 0.44 {
		t.Errorf("CUPED se ratio %.3f, want ≈ 0.385 (1 − ρ²)^½", ratio)
	}
	near(t, "effect kept", adj.Abs, raw.Abs, 0.05)
}

func TestCUPEDMatchesNumpy(t *testing.T) {
	// numpy 1.24: x = [1,2,3,4,5,6], y = [2.1,3.9,6.2,7.8,10.1,12.2];
	// theta = np.cov(x, y)[0,1]/np.var(x, ddof=1) → 2.02, and
	// np.var(y - theta*(x - x.mean()), ddof=1) → 0.0256.
	x := []float64{1, 2, 3, 4, 5, 6}
	y := []float64{2.1, 3.9, 6.2, 7.8, 10.1, 12.2}
	var p Paired
	for i := range x {
		p.Add(y[i], x[i])
	}
	theta, mx := CUPEDTheta(p)
	near(t, "theta", theta, 2.02, 1e-9)
	near(t, "adjusted variance", p.Adjusted(theta, mx).Variance(), 0.0256, 1e-9)
}

func TestSampleSize(t *testing.T) {
	// Evan Miller's sample size calculator defaults: baseline 20 %, minimum
	// detectable effect 5 % absolute, power 80 %, significance 5 % →
	// 1,030 per variation; the others from the same formula with
	// scipy.stats.norm.ppf, and 2(z.975+z.8)²sd²/mde² for means.
	props := []struct{ p, mde, want float64 }{
		{0.2, 0.05, 1030.219283},
		{0.1, 0.01, 14312.85624},
		{0.03, 0.005, 18707.15687},
	}
	for _, tc := range props {
		n, err := SampleSizeProportion(tc.p, tc.mde, 0.05, 0.8)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "n", n, tc.want, 1e-4)
	}
	means := []struct{ sd, mde, want float64 }{{10, 1, 1569.775947}, {2.5, 0.1, 9811.099668}}
	for _, tc := range means {
		n, err := SampleSizeMeans(tc.sd, tc.mde, 0.05, 0.8)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "n", n, tc.want, 1e-4)
	}
	if _, err := SampleSizeProportion(0.99, 0.05, 0.05, 0.8); err == nil {
		t.Error("baseline+mde above 1: no error")
	}
	if d := DaysToGo(1030, 700, 100); d != 4 {
		t.Errorf("DaysToGo(1030, 700, 100) = %v, want 4", d)
	}
	if d := DaysToGo(1030, 1100, 100); d != 0 {
		t.Errorf("DaysToGo past the target = %v, want 0", d)
	}
	if d := DaysToGo(1030, 10, 0); !math.IsInf(d, 1) {
		t.Errorf("DaysToGo with no traffic = %v, want +Inf", d)
	}
}

func TestBetaBinomialWithVeryUnequalSamples(t *testing.T) {
	// One posterior a needle (a million units), the other wide (ten units):
	// the quadrature must resolve both. Evan Miller's closed form (three
	// terms, since the small arm has α = 3), scipy.special.betaln.
	huge := Sample{N: 1e6, Sum: 1e5}
	tiny := Sample{N: 10, Sum: 2}
	b, err := BetaBinomial(huge, tiny, BetaPrior{})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "tiny beats huge", b.ChanceToBeat, 0.9104353805, 1e-8)
	b, err = BetaBinomial(tiny, huge, BetaPrior{})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "huge beats tiny", b.ChanceToBeat, 0.08956461948, 1e-8)
	best := ChanceBestBeta([]Sample{huge, tiny}, BetaPrior{})
	near(t, "chance best", best[1], 0.9104353805, 1e-8)
}
