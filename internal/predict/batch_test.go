package predict

import (
	"math"
	"testing"
)

// Batch is Values customer by customer, bit for bit, and Values is the
// exact CLV and expected orders up to the age's rounding to the day.
func TestBatchEqualsValuesAndValuesTheExactFigures(t *testing.T) {
	md := Model{BG: cdnowBG, GG: cdnowGG}
	cs := Simulate(md, 20000, 52, 7)
	// Customers that share (x, day) but not t_x or m, and ages off the day.
	cs = append(cs, Customer{X: 3, Tx: 10, T: 20, M: 30}, Customer{X: 3, Tx: 15, T: 20.01, M: 80},
		Customer{X: 0, T: 0.05}, Customer{X: 0, T: 0})
	for _, w := range []int{1, 2, 3} {
		clv, orders := make([]float64, len(cs)), make([]float64, len(cs))
		pairs := md.Batch(cs, CLVOptions{}, 13, w, clv, orders)
		if pairs >= len(cs)/2 || pairs < 100 {
			t.Errorf("%d distinct (x, day) pairs among %d customers", pairs, len(cs))
		}
		for i, c := range cs {
			vc, vo := md.Values(c, CLVOptions{}, 13)
			if clv[i] != vc || orders[i] != vo {
				t.Fatalf("workers %d, customer %d %+v: batch %v %v, values %v %v", w, i, c, clv[i], orders[i], vc, vo)
			}
		}
	}
	worst := 0.0
	for _, c := range cs {
		vc, vo := md.Values(c, CLVOptions{}, 13)
		ec, eo := md.CLV(c, CLVOptions{}), md.BG.ExpectedRepeat(c, 13)
		worst = math.Max(worst, math.Max(math.Abs(vc-ec)/math.Max(ec, 1e-9), math.Abs(vo-eo)/math.Max(eo, 1e-9)))
		if c.T == math.Round(c.T*7)/7 && (vc != ec && math.Abs(vc-ec) > 1e-12*ec) {
			t.Fatalf("%+v: a whole-day age changes CLV: %v, exact %v", c, vc, ec)
		}
	}
	// Half a day on an age of α+T ≥ 4.4 weeks: under 2 % in the worst case.
	if worst > 0.02 {
		t.Errorf("largest relative difference from the exact figures %.4f", worst)
	}
	t.Logf("largest relative difference from the exact figures: %.2e", worst)
}

// A refit from the last fit's parameters ends where a cold fit does, in a
// handful of evaluations, and a start far from the optimum still gets there
// through the general search.
func TestWarmRefitMatchesAColdFit(t *testing.T) {
	truth := Model{BG: BGNBD{R: 0.8, Alpha: 6, A: 0.7, B: 3}, GG: GammaGamma{P: 5, Q: 4, Gamma: 20}}
	day1 := Simulate(truth, 30000, 52, 3)
	bg1, _, err := FitBGNBD(day1, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gg1, _, err := FitGammaGamma(day1, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The next day: everyone a day older, one in 100 with a new order.
	day2 := make([]Customer, len(day1))
	for i, c := range day1 {
		c.T += DayWeeks
		if i%100 == 0 {
			c.X++
			c.Tx = c.T
		}
		day2[i] = c
	}
	cold, cres, err := FitBGNBD(day2, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	coldGG, _, err := FitGammaGamma(day2, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		bg       BGNBD
		gg       GammaGamma
		maxEvals int
	}{
		{"from yesterday's fit", bg1, gg1, 10},
		{"from far away", BGNBD{R: 5, Alpha: 0.5, A: 3, B: 0.3}, GammaGamma{P: 1, Q: 30, Gamma: 1}, 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := FitOptions{StartBG: tt.bg, StartGG: tt.gg, Tolerance: WarmTolerance}
			warm, wres, err := FitBGNBD(day2, o)
			if err != nil {
				t.Fatal(err)
			}
			warmGG, _, err := FitGammaGamma(day2, o)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range [][2]float64{{warm.R, cold.R}, {warm.Alpha, cold.Alpha}, {warm.A, cold.A}, {warm.B, cold.B},
				{warmGG.P, coldGG.P}, {warmGG.Q, coldGG.Q}, {warmGG.Gamma, coldGG.Gamma}} {
				if math.Abs(p[0]-p[1]) > 5e-4 {
					t.Errorf("warm %+v %+v, cold %+v %+v: not the same to three decimals", warm, warmGG, cold, coldGG)
					break
				}
			}
			if wres.LogLik < cres.LogLik-1e-6*math.Abs(cres.LogLik) {
				t.Errorf("warm LL %v below cold %v", wres.LogLik, cres.LogLik)
			}
			if wres.Evaluations > tt.maxEvals || (tt.maxEvals <= 10 && wres.Evaluations >= cres.Evaluations) {
				t.Errorf("warm refit took %d evaluations (cold %d), want at most %d", wres.Evaluations, cres.Evaluations, tt.maxEvals)
			}
		})
	}
}

// A cold fit of many customers starts from an even sample's fit and ends
// where BFGS from the generic start ends, in fewer full-data evaluations.
func TestLargeColdFitFromASampleMatchesBFGS(t *testing.T) {
	cs := Simulate(Model{BG: cdnowBG, GG: cdnowGG}, subsampleMin, 52, 5)
	ref, rres, err := FitBGNBD(cs, FitOptions{noSample: true})
	if err != nil {
		t.Fatal(err)
	}
	got, res, err := FitBGNBD(cs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]float64{{got.R, ref.R}, {got.Alpha, ref.Alpha}, {got.A, ref.A}, {got.B, ref.B}} {
		if math.Abs(p[0]-p[1]) > 1e-4*math.Max(1, p[1]) {
			t.Fatalf("from a sample %+v, BFGS %+v", got, ref)
		}
	}
	if res.LogLik < rres.LogLik-1e-9*math.Abs(rres.LogLik) || res.Evaluations >= rres.Evaluations {
		t.Errorf("from a sample: LL %v in %d evaluations; BFGS: LL %v in %d", res.LogLik, res.Evaluations, rres.LogLik, rres.Evaluations)
	}
}
