package predict

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"sync"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/optimize"
)

// Customer is one customer's purchase summary, in weeks (see the package doc).
type Customer struct {
	X  float64 // repeat purchases
	Tx float64 // time of the last purchase since the first (0 when X == 0)
	T  float64 // age: time since the first purchase
	M  float64 // mean value of the repeat purchases (Gamma-Gamma only)
}

// Validate reports why c cannot enter a fit or a prediction.
func (c Customer) Validate() error {
	switch {
	case math.IsNaN(c.X) || math.IsNaN(c.Tx) || math.IsNaN(c.T) || math.IsNaN(c.M):
		return errors.New("NaN in customer summary")
	case c.X < 0 || c.X != math.Trunc(c.X):
		return fmt.Errorf("x = %v: must be a whole number ≥ 0", c.X)
	case c.Tx < 0 || c.T < c.Tx:
		return fmt.Errorf("t_x = %v, T = %v: need 0 ≤ t_x ≤ T", c.Tx, c.T)
	case c.X > 0 && c.Tx == 0:
		return fmt.Errorf("x = %v repeat purchases but t_x = 0", c.X)
	}
	return nil
}

// BGNBD are the BG/NBD parameters: purchase rates λ ~ Gamma(r, α) across
// customers, and dropout probabilities after each purchase p ~ Beta(a, b).
type BGNBD struct {
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
}

// Valid reports whether all parameters are finite and positive.
func (m BGNBD) Valid() bool {
	for _, v := range []float64{m.R, m.Alpha, m.A, m.B} {
		if !(v > 0) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// LogLik is one customer's BG/NBD log-likelihood (FHL 2005 eq. 6):
//
//	L = B(a,b+x)/B(a,b) · Γ(r+x)α^r / (Γ(r)(α+T)^(r+x))
//	  + δ(x>0) · B(a+1,b+x−1)/B(a,b) · Γ(r+x)α^r / (Γ(r)(α+t_x)^(r+x))
func (m BGNBD) LogLik(c Customer) float64 {
	r, al, a, b, x := m.R, m.Alpha, m.A, m.B, c.X
	lg := func(v float64) float64 { l, _ := math.Lgamma(v); return l }
	a1 := lg(r+x) - lg(r) + r*math.Log(al)
	a2 := lg(a+b) + lg(b+x) - lg(b) - lg(a+b+x)
	a3 := -(r + x) * math.Log(al+c.T)
	if x == 0 {
		return a1 + a2 + a3
	}
	a4 := math.Log(a) - math.Log(b+x-1) - (r+x)*math.Log(al+c.Tx)
	return a1 + a2 + logAddExp(a3, a4)
}

func logAddExp(u, v float64) float64 {
	if u < v {
		u, v = v, u
	}
	return u + math.Log1p(math.Exp(v-u))
}

// PAlive is the probability that the customer has not dropped out by T
// (FHL 2005 note "Computing P(alive)"):
//
//	P(alive) = 1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))
//
// A property of BG/NBD worth knowing: dropout can only happen right after a
// purchase, so a customer with no repeat purchase has P(alive) = 1 whatever
// their age. Their expected future orders still decay with T (through the
// posterior of λ), which is the figure to use for them.
func (m BGNBD) PAlive(c Customer) float64 {
	if c.X == 0 {
		return 1
	}
	lr := (m.R + c.X) * (math.Log(m.Alpha+c.T) - math.Log(m.Alpha+c.Tx))
	return 1 / (1 + m.A/(m.B+c.X-1)*math.Exp(lr))
}

// ExpectedRepeat is the expected number of purchases in the next t weeks of a
// customer with summary c (FHL 2005 eq. 10):
//
//	E[Y(t)] = (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]
//	          / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))
func (m BGNBD) ExpectedRepeat(c Customer, t float64) float64 {
	return m.expectedAlive(c, t) * m.PAlive(c)
}

// expectedAlive is ExpectedRepeat without the P(alive) factor: the
// expected purchases in t of a customer known to be alive.
func (m BGNBD) expectedAlive(c Customer, t float64) float64 {
	if t <= 0 {
		return 0
	}
	r, al, a, b, x := m.R, m.Alpha, nudge(m.A), m.B, c.X
	z := t / (al + c.T + t)
	h := mathext.Hypergeo(r+x, b+x, a+b+x-1, z)
	return (a + b + x - 1) / (a - 1) * (1 - math.Pow((al+c.T)/(al+c.T+t), r+x)*h)
}

// ExpectedPopulation is the expected number of repeat purchases in the first
// t weeks of a new customer (FHL 2005 eq. 9):
//
//	E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))]
func (m BGNBD) ExpectedPopulation(t float64) float64 {
	return m.ExpectedRepeat(Customer{}, t)
}

// nudge keeps a away from 1, where eq. 9/10 have a removable singularity.
func nudge(a float64) float64 {
	if math.Abs(a-1) < 1e-7 {
		return 1 + 1e-7
	}
	return a
}

// NextOrderIn is the median time (weeks from now) to the customer's next
// purchase given that they are still active. Given alive, BG/NBD has no
// dropout before the next purchase and the posterior rate is
// λ ~ Gamma(r+x, α+T), so the waiting time τ has the Lomax survival
// P(τ > t) = ((α+T)/(α+T+t))^(r+x), whose median is
//
//	t½ = (α+T) · (2^(1/(r+x)) − 1).
//
// Pair it with PAlive: the date only means something for a live customer.
func (m BGNBD) NextOrderIn(c Customer) float64 {
	return (m.Alpha + c.T) * (math.Exp(math.Ln2/(m.R+c.X)) - 1)
}

// POrderWithin is the probability of at least one purchase in the next t weeks:
// P(alive) · (1 − ((α+T)/(α+T+t))^(r+x)).
func (m BGNBD) POrderWithin(c Customer, t float64) float64 {
	if t <= 0 {
		return 0
	}
	surv := math.Exp((m.R + c.X) * (math.Log(m.Alpha+c.T) - math.Log(m.Alpha+c.T+t)))
	return m.PAlive(c) * (1 - surv)
}

// FitResult describes a maximum-likelihood fit.
type FitResult struct {
	LogLik      float64 // total log-likelihood at the optimum
	N           int     // customers in the fit
	Evaluations int     // likelihood (+gradient) evaluations
	Iterations  int
}

// FitOptions tune a fit; the zero value is the default.
type FitOptions struct {
	// NoGradient fits with Nelder-Mead on the likelihood alone instead of
	// BFGS with the analytic gradient: the slow baseline of the benchmarks.
	NoGradient bool
	// Workers evaluates the likelihood on this many goroutines (default
	// GOMAXPROCS; the sums are split in fixed chunks so the result does not
	// depend on scheduling).
	Workers int
	// StartBG and StartGG, when valid, are where the searches begin instead
	// of the generic start: the previous fit, for a refit on mostly the
	// same customers, which then takes a fraction of the evaluations.
	StartBG BGNBD
	StartGG GammaGamma
	// Tolerance is the norm of the mean log-likelihood's gradient (in log
	// parameters) at which BFGS stops; 0 means 1e-10, which the literature
	// checks use. A warm refit can stop earlier (WarmTolerance).
	Tolerance float64
	// noSample turns off the sample start of large cold fits (tests).
	noSample bool
}

// A cold BG/NBD fit of at least subsampleMin customers starts from the fit
// of an even sample of about subsampleSize of them (FitResult.Evaluations
// counts those evaluations in full-data equivalents).
const (
	subsampleMin  = 200_000
	subsampleSize = 50_000
)

// WarmTolerance is the gradient norm a warm-started refit stops at: near
// the optimum the parameters' error is about the gradient over the
// curvature, which leaves them stable to well beyond three decimals.
const WarmTolerance = 1e-7

func (o FitOptions) threshold() float64 {
	if o.Tolerance > 0 {
		return o.Tolerance
	}
	return 1e-10
}

// bgGroup holds the customers with the same x, so that the Γ terms that only
// depend on x are evaluated once per distinct x rather than per customer.
type bgGroup struct {
	x      float64
	t, tx  []float64
	others int
}

type bgData struct {
	groups  []bgGroup
	n       int
	workers int
}

func newBGData(cs []Customer, workers int) (*bgData, error) {
	byX := map[float64]*bgGroup{}
	for i, c := range cs {
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("customer %d: %w", i, err)
		}
		g := byX[c.X]
		if g == nil {
			g = &bgGroup{x: c.X}
			byX[c.X] = g
		}
		g.t = append(g.t, c.T)
		g.tx = append(g.tx, c.Tx)
	}
	d := &bgData{n: len(cs), workers: workers}
	for _, g := range byX {
		d.groups = append(d.groups, *g)
	}
	sort.Slice(d.groups, func(i, j int) bool { return d.groups[i].x < d.groups[j].x })
	if d.workers <= 0 {
		d.workers = runtime.GOMAXPROCS(0)
	}
	return d, nil
}

// chunk is the unit of parallel work: a slice of one x-group.
type chunk struct{ g, lo, hi int }

const chunkSize = 1 << 14

func (d *bgData) chunks() []chunk {
	var cs []chunk
	for gi, g := range d.groups {
		for lo := 0; lo < len(g.t); lo += chunkSize {
			cs = append(cs, chunk{gi, lo, min(lo+chunkSize, len(g.t))})
		}
	}
	return cs
}

// parallelSum runs f over the chunks on d.workers goroutines and adds the
// per-chunk results in chunk order, so the total is deterministic.
func parallelSum(cs []chunk, workers, width int, f func(chunk, []float64)) []float64 {
	out := make([][]float64, len(cs))
	for i := range out {
		out[i] = make([]float64, width)
	}
	if workers <= 1 || len(cs) == 1 {
		for i, c := range cs {
			f(c, out[i])
		}
	} else {
		var wg sync.WaitGroup
		next := make(chan int, len(cs))
		for i := range cs {
			next <- i
		}
		close(next)
		for range workers {
			wg.Go(func() {
				for i := range next {
					f(cs[i], out[i])
				}
			})
		}
		wg.Wait()
	}
	tot := make([]float64, width)
	for _, o := range out {
		for k, v := range o {
			tot[k] += v
		}
	}
	return tot
}

// eval returns the total log-likelihood and, if grad != nil, its gradient with
// respect to (log r, log α, log a, log b).
func (d *bgData) eval(m BGNBD, cs []chunk, grad []float64) float64 {
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	lg := func(v float64) float64 { l, _ := math.Lgamma(v); return l }
	withGrad := grad != nil
	width := 1
	if withGrad {
		width = 5
	}
	lnA, lnAl := math.Log(a), math.Log(al)
	tot := parallelSum(cs, d.workers, width, func(c chunk, s []float64) {
		g := &d.groups[c.g]
		x := g.x
		n := float64(c.hi - c.lo)
		// Terms of A1 + A2 that depend on x only.
		s[0] += n * (lg(r+x) - lg(r) + r*lnAl + lg(a+b) + lg(b+x) - lg(b) - lg(a+b+x))
		if withGrad {
			s[1] += n * (mathext.Digamma(r+x) - mathext.Digamma(r) + lnAl)
			s[2] += n * r / al
			s[3] += n * (mathext.Digamma(a+b) - mathext.Digamma(a+b+x))
			s[4] += n * (mathext.Digamma(a+b) + mathext.Digamma(b+x) - mathext.Digamma(b) - mathext.Digamma(a+b+x))
		}
		rx := r + x
		if x == 0 {
			for _, T := range g.t[c.lo:c.hi] {
				l := math.Log(al + T)
				s[0] -= rx * l
				if withGrad {
					s[1] -= l
					s[2] -= rx / (al + T)
				}
			}
			return
		}
		c4 := lnA - math.Log(b+x-1)
		for i := c.lo; i < c.hi; i++ {
			T, tx := g.t[i], g.tx[i]
			l3, l4 := math.Log(al+T), math.Log(al+tx)
			a3 := -rx * l3
			a4 := c4 - rx*l4
			// w is the share of the "dropped out right after t_x" term.
			var ll, w float64
			if a3 >= a4 {
				e := math.Exp(a4 - a3)
				ll = a3 + math.Log1p(e)
				w = e / (1 + e)
			} else {
				e := math.Exp(a3 - a4)
				ll = a4 + math.Log1p(e)
				w = 1 / (1 + e)
			}
			s[0] += ll
			if withGrad {
				s[1] -= (1-w)*l3 + w*l4
				s[2] -= rx * ((1-w)/(al+T) + w/(al+tx))
				s[3] += w / a
				s[4] -= w / (b + x - 1)
			}
		}
	})
	if withGrad {
		// Chain rule to log parameters: ∂/∂log θ = θ ∂/∂θ.
		grad[0], grad[1], grad[2], grad[3] = r*tot[1], al*tot[2], a*tot[3], b*tot[4]
	}
	return tot[0]
}

// FitBGNBD fits BG/NBD by maximum likelihood over the log parameters (so the
// search is unconstrained), with BFGS and the analytic gradient.
func FitBGNBD(cs []Customer, opt FitOptions) (BGNBD, FitResult, error) {
	if len(cs) == 0 {
		return BGNBD{}, FitResult{}, errors.New("fit BG/NBD: no customers")
	}
	d, err := newBGData(cs, opt.Workers)
	if err != nil {
		return BGNBD{}, FitResult{}, fmt.Errorf("fit BG/NBD: %w", err)
	}
	repeaters := 0
	meanT := 0.0
	for _, g := range d.groups {
		if g.x > 0 {
			repeaters += len(g.t)
		}
		for _, T := range g.t {
			meanT += T
		}
	}
	if repeaters == 0 {
		return BGNBD{}, FitResult{}, errors.New("fit BG/NBD: no customer has a repeat purchase")
	}
	meanT /= float64(d.n)
	cks := d.chunks()
	scale := 1 / float64(d.n) // the objective is the mean, so tolerances do not depend on n
	from := func(v []float64) BGNBD {
		return BGNBD{math.Exp(v[0]), math.Exp(v[1]), math.Exp(v[2]), math.Exp(v[3])}
	}
	p := optimize.Problem{
		Func: func(v []float64) float64 {
			if bad(v) {
				return math.Inf(1)
			}
			return -d.eval(from(v), cks, nil) * scale
		},
	}
	method := optimize.Method(&optimize.NelderMead{})
	if !opt.NoGradient {
		p.Grad = func(g, v []float64) {
			if bad(v) {
				for i := range g {
					g[i] = math.NaN()
				}
				return
			}
			d.eval(from(v), cks, g)
			for i := range g {
				g[i] *= -scale
			}
		}
		method = &optimize.BFGS{}
	}
	// Start from r = a = b = 1 and α at the mean age, which puts λ's prior
	// mean at one purchase per customer lifetime whatever the time unit.
	x0 := []float64{0, math.Log(max(meanT, 1e-3)), 0, 0}
	start := opt.StartBG
	subEvals := 0
	if !start.Valid() && !opt.NoGradient && !opt.noSample && d.n >= subsampleMin {
		// A cold fit of many customers: find the optimum's neighbourhood
		// on an even sample, then finish on everyone from there.
		k := d.n / subsampleSize
		sub := make([]Customer, 0, d.n/k+1)
		for i := 0; i < len(cs); i += k {
			sub = append(sub, cs[i])
		}
		if m, r, err := FitBGNBD(sub, FitOptions{Workers: opt.Workers}); err == nil {
			start = m
			subEvals = r.Evaluations * len(sub) / d.n
		}
	}
	if s := start; s.Valid() && !bad([]float64{math.Log(s.R), math.Log(s.Alpha), math.Log(s.A), math.Log(s.B)}) {
		x0 = []float64{math.Log(s.R), math.Log(s.Alpha), math.Log(s.A), math.Log(s.B)}
		if !opt.NoGradient {
			x, evals, ok := warmNewton(func(v, g []float64) float64 {
				ll := d.eval(from(v), cks, g)
				for i := range g {
					g[i] *= -scale
				}
				return -ll * scale
			}, x0, opt.threshold())
			if m := from(x); ok && m.Valid() {
				return m, FitResult{LogLik: d.eval(m, cks, nil), N: d.n, Evaluations: evals + subEvals}, nil
			}
			if !bad(x) {
				x0 = x
			}
			slog.Debug("predict: warm BG/NBD refit did not converge; full search", "start", s)
		}
	}
	settings := &optimize.Settings{GradientThreshold: opt.threshold(), MajorIterations: 2000}
	if opt.NoGradient {
		settings = &optimize.Settings{MajorIterations: 20000,
			Converger: &optimize.FunctionConverge{Absolute: 1e-13, Iterations: 200}}
	}
	res, err := optimize.Minimize(p, x0, settings, method)
	if err != nil && res == nil {
		return BGNBD{}, FitResult{}, fmt.Errorf("fit BG/NBD: %w", err)
	}
	m := from(res.X)
	if !m.Valid() {
		return BGNBD{}, FitResult{}, fmt.Errorf("fit BG/NBD: optimizer ended at %+v (%v)", m, res.Status)
	}
	return m, FitResult{
		LogLik: d.eval(m, cks, nil), N: d.n,
		Evaluations: res.Stats.FuncEvaluations + res.Stats.GradEvaluations, Iterations: res.Stats.MajorIterations,
	}, nil
}

// bad reports whether the log parameters are out of a sane range, where the
// Γ functions would overflow: the optimizer then sees +Inf and backs off.
func bad(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || x < -30 || x > 30 {
			return true
		}
	}
	return false
}
