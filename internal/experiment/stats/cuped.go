package stats

import "math"

// Paired is the sufficient statistics of a metric Y and its pre-period
// covariate X (the same metric over a window before the unit's exposure)
// for one variant, for CUPED.
type Paired struct {
	N     float64 `json:"n"`
	SumY  float64 `json:"sum_y"`
	SumY2 float64 `json:"sum_y2"`
	SumX  float64 `json:"sum_x"`
	SumX2 float64 `json:"sum_x2"`
	SumXY float64 `json:"sum_xy"`
}

// Add folds one unit's metric y and covariate x into p.
func (p *Paired) Add(y, x float64) {
	p.N++
	p.SumY += y
	p.SumY2 += y * y
	p.SumX += x
	p.SumX2 += x * x
	p.SumXY += x * y
}

// Y is the metric's own sample, without the covariate.
func (p Paired) Y() Sample { return Sample{N: p.N, Sum: p.SumY, SumSq: p.SumY2} }

// CUPEDTheta is θ = Cov(X, Y)/Var(X) pooled over every variant, the
// coefficient of CUPED (Deng, Xu, Kohavi & Walker 2013, "Improving the
// sensitivity of online controlled experiments by utilizing pre-experiment
// data", eq. 3). Pooling keeps θ the same for every variant, which keeps the
// adjusted difference unbiased because X is independent of assignment. It
// also returns the pooled mean of X. θ is 0 when X does not vary.
func CUPEDTheta(variants ...Paired) (theta, meanX float64) {
	var all Paired
	for _, v := range variants {
		all.N += v.N
		all.SumY += v.SumY
		all.SumX += v.SumX
		all.SumX2 += v.SumX2
		all.SumXY += v.SumXY
	}
	if all.N < 2 {
		return 0, 0
	}
	meanX = all.SumX / all.N
	varX := all.SumX2 - all.N*meanX*meanX
	if varX <= 0 {
		return 0, meanX
	}
	cov := all.SumXY - all.N*meanX*(all.SumY/all.N)
	return cov / varX, meanX
}

// Adjusted is the sample of Y' = Y − θ(X − meanX), from sums alone, so the
// usual tests (Welch, NormalMeans, Sequential) run on it unchanged. Its mean
// is unbiased for Y's mean difference between variants, and its variance is
// Var(Y)(1 − ρ²) at the optimal θ, ρ being the correlation of X and Y (Deng
// et al. 2013, eq. 4).
func (p Paired) Adjusted(theta, meanX float64) Sample {
	// Σ(Y − θX + θm)² = Σ(Y−θX)² + 2θm·Σ(Y−θX) + N(θm)²
	sumD := p.SumY - theta*p.SumX
	sumD2 := p.SumY2 - 2*theta*p.SumXY + theta*theta*p.SumX2
	tm := theta * meanX
	return Sample{
		N:     p.N,
		Sum:   sumD + p.N*tm,
		SumSq: math.Max(sumD2+2*tm*sumD+p.N*tm*tm, 0),
	}
}
