package predict

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/optimize"
)

// GammaGamma are the Gamma-Gamma spend parameters (Fader & Hardie 2013): a
// customer's transaction values are Gamma(p, ν) around their mean p/ν, and
// ν ~ Gamma(q, γ) across customers.
type GammaGamma struct {
	P     float64 `json:"p"`
	Q     float64 `json:"q"`
	Gamma float64 `json:"gamma"`
}

// Valid reports whether the parameters are finite and positive and q > 1 (a
// finite population mean spend).
func (g GammaGamma) Valid() bool {
	for _, v := range []float64{g.P, g.Q, g.Gamma} {
		if !(v > 0) || math.IsInf(v, 0) {
			return false
		}
	}
	return g.Q > 1
}

// LogLik is one repeat customer's log-likelihood of their mean spend m over x
// transactions (Fader & Hardie 2013 eq. 4):
//
//	f(m | x) = Γ(px+q)/(Γ(px)Γ(q)) · γ^q m^(px−1) x^(px) / (γ+mx)^(px+q)
func (g GammaGamma) LogLik(x, m float64) float64 {
	lg := func(v float64) float64 { l, _ := math.Lgamma(v); return l }
	px := g.P * x
	return lg(px+g.Q) - lg(px) - lg(g.Q) + g.Q*math.Log(g.Gamma) + (px-1)*math.Log(m) +
		px*math.Log(x) - (px+g.Q)*math.Log(g.Gamma+m*x)
}

// ExpectedValue is the expected value of the customer's next transaction
// given x repeat purchases with mean value m (Fader & Hardie 2013 eq. 5), a
// weighted mean of the population mean pγ/(q−1) and the customer's own m:
//
//	E[M | x, m] = (pγ + p·x·m) / (px + q − 1)
//
// With x = 0 it is the population mean.
func (g GammaGamma) ExpectedValue(x, m float64) float64 {
	if x == 0 {
		m = 0
	}
	return g.P * (g.Gamma + x*m) / (g.P*x + g.Q - 1)
}

// PopulationMean is the mean transaction value across customers, pγ/(q−1).
func (g GammaGamma) PopulationMean() float64 { return g.P * g.Gamma / (g.Q - 1) }

// FitGammaGamma fits Gamma-Gamma by maximum likelihood on the repeat
// customers (X > 0) with a positive mean value; the others carry no
// information about spend variation and are skipped. It returns how many
// customers entered the fit in FitResult.N.
func FitGammaGamma(cs []Customer, opt FitOptions) (GammaGamma, FitResult, error) {
	// Group by x: Γ(px+q), Γ(px), ln x only depend on x.
	type grp struct {
		x      float64
		m, lnm []float64
	}
	byX := map[float64]*grp{}
	var order []float64
	n := 0
	sumM := 0.0
	for i, c := range cs {
		if err := c.Validate(); err != nil {
			return GammaGamma{}, FitResult{}, fmt.Errorf("fit Gamma-Gamma: customer %d: %w", i, err)
		}
		if c.X == 0 || !(c.M > 0) || math.IsInf(c.M, 0) {
			continue
		}
		gr := byX[c.X]
		if gr == nil {
			gr = &grp{x: c.X}
			byX[c.X] = gr
			order = append(order, c.X)
		}
		gr.m = append(gr.m, c.M)
		gr.lnm = append(gr.lnm, math.Log(c.M))
		n++
		sumM += c.M
	}
	if n < 2 {
		return GammaGamma{}, FitResult{}, errors.New("fit Gamma-Gamma: fewer than two repeat customers with a positive spend")
	}
	groups := make([]bgGroup, 0, len(order)) // reuse the chunking: t = m, tx = ln m
	for _, x := range order {
		gr := byX[x]
		groups = append(groups, bgGroup{x: x, t: gr.m, tx: gr.lnm})
	}
	d := &bgData{groups: groups, n: n, workers: opt.Workers}
	if d.workers <= 0 {
		d.workers = runtime.GOMAXPROCS(0)
	}
	cks := d.chunks()
	eval := func(gg GammaGamma, grad []float64) float64 {
		p, q, gm := gg.P, gg.Q, gg.Gamma
		lg := func(v float64) float64 { l, _ := math.Lgamma(v); return l }
		width := 1
		if grad != nil {
			width = 4
		}
		lnG := math.Log(gm)
		tot := parallelSum(cks, d.workers, width, func(c chunk, s []float64) {
			g := &d.groups[c.g]
			x := g.x
			px := p * x
			k := float64(c.hi - c.lo)
			lnx := math.Log(x)
			s[0] += k * (lg(px+q) - lg(px) - lg(q) + q*lnG + px*lnx)
			if grad != nil {
				dpq := mathext.Digamma(px + q)
				s[1] += k * x * (dpq - mathext.Digamma(px) + lnx)
				s[2] += k * (dpq - mathext.Digamma(q) + lnG)
				s[3] += k * q / gm
			}
			for i := c.lo; i < c.hi; i++ {
				m, lnm := g.t[i], g.tx[i]
				l := math.Log(gm + m*x)
				s[0] += (px-1)*lnm - (px+q)*l
				if grad != nil {
					s[1] += x * (lnm - l)
					s[2] -= l
					s[3] -= (px + q) / (gm + m*x)
				}
			}
		})
		if grad != nil {
			grad[0], grad[1], grad[2] = p*tot[1], q*tot[2], gm*tot[3]
		}
		return tot[0]
	}
	from := func(v []float64) GammaGamma { return GammaGamma{math.Exp(v[0]), math.Exp(v[1]), math.Exp(v[2])} }
	scale := 1 / float64(n)
	prob := optimize.Problem{
		Func: func(v []float64) float64 {
			if bad(v) {
				return math.Inf(1)
			}
			return -eval(from(v), nil) * scale
		},
	}
	method := optimize.Method(&optimize.NelderMead{})
	if !opt.NoGradient {
		prob.Grad = func(g, v []float64) {
			if bad(v) {
				for i := range g {
					g[i] = math.NaN()
				}
				return
			}
			eval(from(v), g)
			for i := range g {
				g[i] *= -scale
			}
		}
		method = &optimize.BFGS{}
	}
	// Start at p = 1, q = 2 and γ at the mean spend, so the population mean
	// pγ/(q−1) starts at the sample mean whatever the currency.
	x0 := []float64{0, math.Log(2), math.Log(sumM / float64(n))}
	if s := opt.StartGG; s.Valid() && !bad([]float64{math.Log(s.P), math.Log(s.Q), math.Log(s.Gamma)}) {
		x0 = []float64{math.Log(s.P), math.Log(s.Q), math.Log(s.Gamma)}
		if !opt.NoGradient {
			x, evals, ok := warmNewton(func(v, g []float64) float64 {
				ll := eval(from(v), g)
				for i := range g {
					g[i] *= -scale
				}
				return -ll * scale
			}, x0, opt.threshold())
			if gg := from(x); ok && gg.Valid() {
				return gg, FitResult{LogLik: eval(gg, nil), N: n, Evaluations: evals}, nil
			}
			if !bad(x) {
				x0 = x
			}
			slog.Debug("predict: warm Gamma-Gamma refit did not converge; full search", "start", s)
		}
	}
	settings := &optimize.Settings{GradientThreshold: opt.threshold(), MajorIterations: 2000}
	if opt.NoGradient {
		settings = &optimize.Settings{MajorIterations: 20000,
			Converger: &optimize.FunctionConverge{Absolute: 1e-13, Iterations: 200}}
	}
	res, err := optimize.Minimize(prob, x0, settings, method)
	if err != nil && res == nil {
		return GammaGamma{}, FitResult{}, fmt.Errorf("fit Gamma-Gamma: %w", err)
	}
	gg := from(res.X)
	if !gg.Valid() {
		return GammaGamma{}, FitResult{}, fmt.Errorf("fit Gamma-Gamma: optimizer ended at %+v (%v); q ≤ 1 means spend has no finite mean", gg, res.Status)
	}
	return gg, FitResult{LogLik: eval(gg, nil), N: n,
		Evaluations: res.Stats.FuncEvaluations + res.Stats.GradEvaluations, Iterations: res.Stats.MajorIterations}, nil
}
