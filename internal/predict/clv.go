package predict

import "math"

// WeeksPerMonth is an average calendar month (365.25/12 days) in weeks.
const WeeksPerMonth = 365.25 / 12 / 7

// CLVOptions set the horizon and discounting of CLV; the zero value means the
// defaults: 12 months at 1 % a month (≈ 12.7 % a year).
type CLVOptions struct {
	Months          int     // horizon in months (default 12)
	MonthlyDiscount float64 // discount rate per month (default 0.01); negative means 0
}

func (o CLVOptions) withDefaults() CLVOptions {
	if o.Months <= 0 {
		o.Months = 12
	}
	if o.MonthlyDiscount == 0 {
		o.MonthlyDiscount = 0.01
	}
	if o.MonthlyDiscount < 0 {
		o.MonthlyDiscount = 0
	}
	return o
}

// Model is a fitted BG/NBD + Gamma-Gamma pair.
type Model struct {
	BG BGNBD
	GG GammaGamma
}

// CLV is the customer's expected discounted value over the horizon:
//
//	CLV = E[M | x, m] · Σ_{k=1..K} (E[Y(k·w)] − E[Y((k−1)·w)]) / (1+d)^k
//
// with w one month (WeeksPerMonth), K months and d the monthly discount: the
// purchases BG/NBD expects in month k, valued at Gamma-Gamma's expected order
// value and discounted to today (the construction of Fader, Hardie & Lee 2005,
// "RFM and CLV", in discrete time). It is revenue, not margin.
func (md Model) CLV(c Customer, o CLVOptions) float64 {
	o = o.withDefaults()
	v := md.GG.ExpectedValue(c.X, c.M) * md.BG.PAlive(c)
	prev, sum := 0.0, 0.0
	disc := 1.0
	for k := 1; k <= o.Months; k++ {
		cur := md.BG.expectedAlive(c, float64(k)*WeeksPerMonth)
		disc /= 1 + o.MonthlyDiscount
		sum += (cur - prev) * disc
		prev = cur
	}
	return v * sum
}

// Prediction is everything Tailor shows and segments on for one customer.
type Prediction struct {
	PAlive          float64 // probability of still being a customer
	ExpectedOrders  float64 // expected purchases in the next Horizon weeks
	ExpectedValue   float64 // expected value of one order
	CLV             float64 // discounted expected revenue over the CLV horizon
	NextOrderIn     float64 // median weeks to the next order if alive (+Inf if never expected)
	POrderInHorizon float64 // probability of at least one order in the next Horizon weeks
}

// Predict evaluates the model for one customer; horizon is the window of
// ExpectedOrders and POrderInHorizon in weeks.
func (md Model) Predict(c Customer, horizon float64, o CLVOptions) Prediction {
	p := Prediction{
		PAlive:          md.BG.PAlive(c),
		ExpectedOrders:  md.BG.ExpectedRepeat(c, horizon),
		ExpectedValue:   md.GG.ExpectedValue(c.X, c.M),
		CLV:             md.CLV(c, o),
		NextOrderIn:     md.BG.NextOrderIn(c),
		POrderInHorizon: md.BG.POrderWithin(c, horizon),
	}
	if math.IsNaN(p.NextOrderIn) {
		p.NextOrderIn = math.Inf(1)
	}
	return p
}
