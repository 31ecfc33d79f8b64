package predict

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.6g, want %.6g ± %g", name, got, want, tol)
	}
}

// cdnowBG and cdnowGG are the published CDNOW fits (Fader, Hardie & Lee 2005;
// Fader & Hardie 2013), used as realistic parameters in the formula tests.
var (
	cdnowBG = BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	cdnowGG = GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
)

// The closed forms against values worked out by hand.
func TestFormulasMatchHandComputedValues(t *testing.T) {
	unit := BGNBD{R: 1, Alpha: 1, A: 1, B: 2}
	cases := []struct {
		name      string
		got, want float64
	}{
		// x=1, t_x=1, T=3: ((α+T)/(α+t_x))^(r+x) = (4/2)² = 4, a/(b+x−1) = 1/2 → 1/(1+2).
		{"P(alive) x=1", unit.PAlive(Customer{X: 1, Tx: 1, T: 3}), 1.0 / 3},
		// Dropout only follows a purchase: no repeat purchase, alive for sure.
		{"P(alive) x=0", unit.PAlive(Customer{T: 50}), 1},
		// t_x = T: (α+T)/(α+t_x) = 1, so 1/(1 + a/(b+x−1)) = 1/(1+1/4) with x=3.
		{"P(alive) t_x=T", unit.PAlive(Customer{X: 3, Tx: 5, T: 5}), 0.8},
		// r+x = 1: median of a Lomax(1, α+T) is α+T.
		{"next order r+x=1", unit.NextOrderIn(Customer{T: 9}), 10},
		// r+x = 2: (α+T)(√2 − 1).
		{"next order r+x=2", unit.NextOrderIn(Customer{X: 1, Tx: 2, T: 3}), 4 * (math.Sqrt2 - 1)},
		// Alive for sure (x=0), r=1: 1 − (α+T)/(α+T+t) = 1 − 4/6.
		{"P(order within) x=0", unit.POrderWithin(Customer{T: 3}, 2), 1 - 4.0/6},
		// p(γ + x m)/(px + q − 1) = 2(10 + 2·20)/(4 + 2) = 50/3.
		{"E[M] x=2", GammaGamma{P: 2, Q: 3, Gamma: 10}.ExpectedValue(2, 20), 50.0 / 3},
		// x = 0 is the population mean pγ/(q−1) = 2·10/2, whatever m says.
		{"E[M] x=0", GammaGamma{P: 2, Q: 3, Gamma: 10}.ExpectedValue(0, 99), 10},
		// One customer, x=0, T=1 under r=α=a=b=1: L = B(1,1)/B(1,1) · α^r/(α+T)^r = 1/2.
		{"LL x=0", BGNBD{1, 1, 1, 1}.LogLik(Customer{T: 1}), math.Log(0.5)},
		// x=1, t_x=1, T=2, r=α=a=1, b=2: B(1,3)/B(1,2) = 2/3, Γ(2)/Γ(1)·1/(3)² = 1/9;
		// second term B(2,2)/B(1,2) = 1/3, 1/(2)² → L = 2/27 + 1/12.
		{"LL x=1", BGNBD{1, 1, 1, 2}.LogLik(Customer{X: 1, Tx: 1, T: 2}), math.Log(2.0/27 + 1.0/12)},
		// Gamma-Gamma x=1: Γ(p+q)/(Γ(p)Γ(q)) γ^q m^(p−1)/(γ+m)^(p+q) with p=1,q=2,γ=1,m=1:
		// Γ(3)/(Γ(1)Γ(2)) · 1 · 1 / 2³ = 2/8.
		{"GG LL x=1", GammaGamma{1, 2, 1}.LogLik(1, 1), math.Log(0.25)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { near(t, c.name, c.got, c.want, 1e-12) })
	}
}

// expectedRepeatByQuadrature is E[Y(t) | x, t_x, T] computed a second way:
// given alive, λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x) independently, and a
// live customer with (λ, p) makes (1 − e^(−λpt))/p purchases on average in t,
// so E[Y(t)] = P(alive) · E_p[(1 − ((α+T)/(α+T+pt))^(r+x)) / p]. The integral
// over p is done numerically with p = u^(1/a), which absorbs Beta's p^(a−1).
func expectedRepeatByQuadrature(m BGNBD, c Customer, t float64) float64 {
	a, b := m.A, m.B+c.X
	lb := func() float64 {
		x, _ := math.Lgamma(a)
		y, _ := math.Lgamma(b)
		z, _ := math.Lgamma(a + b)
		return x + y - z
	}()
	f := func(u float64) float64 {
		p := math.Pow(u, 1/a)
		if p == 0 {
			return (m.R + c.X) * t / (m.Alpha + c.T)
		}
		inner := (1 - math.Pow((m.Alpha+c.T)/(m.Alpha+c.T+p*t), m.R+c.X)) / p
		return inner * math.Pow(1-p, b-1) / a
	}
	return m.PAlive(c) * quad.Fixed(f, 0, 1, 2000, quad.Legendre{}, 0) / math.Exp(lb)
}

func TestExpectedRepeatMatchesQuadrature(t *testing.T) {
	cases := []struct {
		name string
		m    BGNBD
		c    Customer
		t    float64
	}{
		{"CDNOW, FHL example customer, 39 weeks", cdnowBG, Customer{X: 2, Tx: 30.43, T: 38.86}, 39},
		{"CDNOW, new customer, 78 weeks", cdnowBG, Customer{}, 78},
		{"CDNOW, one-time buyer aged 30", cdnowBG, Customer{T: 30}, 13},
		{"CDNOW, heavy buyer", cdnowBG, Customer{X: 20, Tx: 37, T: 38}, 52},
		{"CDNOW, lapsed heavy buyer", cdnowBG, Customer{X: 8, Tx: 5, T: 38}, 52},
		{"a > 1", BGNBD{R: 2, Alpha: 10, A: 3, B: 5}, Customer{X: 4, Tx: 20, T: 30}, 26},
		{"short horizon", BGNBD{R: 0.5, Alpha: 2, A: 1.5, B: 4}, Customer{X: 1, Tx: 1, T: 10}, 0.5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := expectedRepeatByQuadrature(c.m, c.c, c.t)
			near(t, "E[Y(t)]", c.m.ExpectedRepeat(c.c, c.t), want, 1e-6*max(1, want))
		})
	}
}

func TestExpectedRepeatProperties(t *testing.T) {
	c := Customer{X: 3, Tx: 20, T: 35}
	// Over a short horizon a live customer buys at the posterior mean rate
	// (r+x)/(α+T), so E[Y(h)]/h → P(alive)(r+x)/(α+T).
	h := 1e-4
	near(t, "E[Y(h)]/h", cdnowBG.ExpectedRepeat(c, h)/h,
		cdnowBG.PAlive(c)*(cdnowBG.R+c.X)/(cdnowBG.Alpha+c.T), 1e-3)
	// More time, more purchases; a customer silent for longer buys less.
	prev := 0.0
	for _, tt := range []float64{1, 4, 13, 26, 52, 104} {
		v := cdnowBG.ExpectedRepeat(c, tt)
		if v <= prev {
			t.Errorf("E[Y(%v)] = %v, not above E[Y] at the shorter horizon %v", tt, v, prev)
		}
		prev = v
	}
	if a, b := cdnowBG.ExpectedRepeat(Customer{X: 3, Tx: 20, T: 30}, 10), cdnowBG.ExpectedRepeat(c, 10); b >= a {
		t.Errorf("silent 15 weeks: %v, silent 10 weeks: %v; want fewer after the longer silence", b, a)
	}
	// The population curve is the conditional one of a customer with no history.
	near(t, "E[X(t)]", cdnowBG.ExpectedPopulation(20), cdnowBG.ExpectedRepeat(Customer{}, 20), 0)
}

// FHL (2005), section 5: for a customer with x = 2, t_x = 30.43, T = 38.86 the
// model expects 1.226 purchases in the next 39 weeks.
func TestFHLConditionalExpectationExample(t *testing.T) {
	near(t, "E[Y(39)]", cdnowBG.ExpectedRepeat(Customer{X: 2, Tx: 30.43, T: 38.86}, 39), 1.226, 0.0005)
}

func TestCLV(t *testing.T) {
	md := Model{BG: cdnowBG, GG: cdnowGG}
	c := Customer{X: 2, Tx: 30.43, T: 38.86, M: 22.35}
	v := md.GG.ExpectedValue(c.X, c.M)
	// With no discounting the sum telescopes to E[Y(12 months)] · E[M].
	near(t, "CLV, no discount", md.CLV(c, CLVOptions{Months: 12, MonthlyDiscount: -1}),
		v*md.BG.ExpectedRepeat(c, 12*WeeksPerMonth), 1e-9)
	// Discounting lowers it, by less than the full year's discount factor.
	full := md.CLV(c, CLVOptions{Months: 12, MonthlyDiscount: -1})
	disc := md.CLV(c, CLVOptions{})
	if !(disc < full && disc > full/math.Pow(1.01, 12)) {
		t.Errorf("CLV at 1 %%/month = %v, want between %v and %v", disc, full/math.Pow(1.01, 12), full)
	}
	// One month at d: the month's purchases · E[M] / (1+d).
	near(t, "CLV one month", md.CLV(c, CLVOptions{Months: 1, MonthlyDiscount: 0.05}),
		v*md.BG.ExpectedRepeat(c, WeeksPerMonth)/1.05, 1e-9)
	// A longer horizon is worth more.
	if md.CLV(c, CLVOptions{Months: 24}) <= disc {
		t.Error("24-month CLV not above the 12-month one")
	}
	p := md.Predict(c, 13, CLVOptions{})
	if p.CLV != disc || p.PAlive != md.BG.PAlive(c) || p.ExpectedOrders != md.BG.ExpectedRepeat(c, 13) {
		t.Errorf("Predict disagrees with the parts: %+v", p)
	}
}

// The analytic gradient against central differences of the likelihood.
func TestBGNBDGradientMatchesFiniteDifferences(t *testing.T) {
	cs := Simulate(Model{BG: cdnowBG, GG: cdnowGG}, 3000, 39, 7)
	d, err := newBGData(cs, 1)
	if err != nil {
		t.Fatal(err)
	}
	cks := d.chunks()
	at := []float64{math.Log(0.4), math.Log(3), math.Log(0.6), math.Log(2)}
	from := func(v []float64) BGNBD { return BGNBD{math.Exp(v[0]), math.Exp(v[1]), math.Exp(v[2]), math.Exp(v[3])} }
	g := make([]float64, 4)
	ll := d.eval(from(at), cks, g)
	sum := 0.0
	for _, c := range cs {
		sum += from(at).LogLik(c)
	}
	near(t, "grouped LL vs per-customer LL", ll, sum, 1e-7*math.Abs(sum))
	for i := range at {
		h := 1e-5
		up, dn := append([]float64(nil), at...), append([]float64(nil), at...)
		up[i] += h
		dn[i] -= h
		fd := (d.eval(from(up), cks, nil) - d.eval(from(dn), cks, nil)) / (2 * h)
		near(t, "∂LL/∂θ", g[i], fd, 1e-5*max(1, math.Abs(fd)))
	}
}

// A fit on data simulated from known parameters gets them back.
func TestFitRecoversSimulatedParameters(t *testing.T) {
	truth := Model{BG: BGNBD{R: 0.8, Alpha: 6, A: 0.7, B: 3}, GG: GammaGamma{P: 5, Q: 4, Gamma: 20}}
	cs := Simulate(truth, 40000, 52, 1)
	bg, res, err := FitBGNBD(cs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "r", bg.R, truth.BG.R, 0.08)
	near(t, "α", bg.Alpha, truth.BG.Alpha, 0.8)
	near(t, "a", bg.A, truth.BG.A, 0.15)
	near(t, "b", bg.B, truth.BG.B, 0.8)
	if res.N != len(cs) {
		t.Errorf("N = %d, want %d", res.N, len(cs))
	}
	// The MLE beats the truth on its own data.
	truthLL := 0.0
	for _, c := range cs {
		truthLL += truth.BG.LogLik(c)
	}
	if res.LogLik < truthLL {
		t.Errorf("fitted LL %v below the LL at the true parameters %v", res.LogLik, truthLL)
	}
	gg, _, err := FitGammaGamma(cs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "population mean spend", gg.PopulationMean(), truth.GG.PopulationMean(), 0.05*truth.GG.PopulationMean())
}

func TestFitRejectsBadInput(t *testing.T) {
	cases := []struct {
		name string
		cs   []Customer
	}{
		{"none", nil},
		{"no repeat buyer", []Customer{{T: 3}, {T: 5}}},
		{"t_x after T", []Customer{{X: 1, Tx: 6, T: 5}}},
		{"fractional x", []Customer{{X: 1.5, Tx: 1, T: 5}}},
		{"negative x", []Customer{{X: -1, T: 5}}},
		{"repeat at time 0", []Customer{{X: 1, Tx: 0, T: 5}}},
		{"NaN", []Customer{{X: 1, Tx: 1, T: math.NaN()}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := FitBGNBD(c.cs, FitOptions{}); err == nil {
				t.Error("FitBGNBD accepted it")
			}
		})
	}
	if _, _, err := FitGammaGamma([]Customer{{X: 1, Tx: 1, T: 2, M: 5}}, FitOptions{}); err == nil {
		t.Error("FitGammaGamma accepted a single repeat customer")
	}
}
