package predict

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// A refit starts where the last fit ended, near the optimum, where BFGS
// still spends tens of evaluations learning the curvature from scratch.
// warmNewton instead measures the curvature once (forward differences of
// the analytic gradient: one gradient per parameter) and takes Newton
// steps from it, updating it with each step's change of gradient (BFGS's
// secant update, on the Hessian rather than its inverse): a refit on the
// next day's data takes about n+3 gradients instead of 40 to 130.

// warmSteps bounds the chord steps before the caller falls back on BFGS.
const warmSteps = 20

// warmNewton minimizes f (which fills the gradient g at x and returns the
// value) from x0 until the gradient's norm is below tol. ok is false when
// the curvature is not positive definite or the steps do not converge;
// the caller then runs its general search from x, the best point found.
// evals counts f's calls.
func warmNewton(f func(x, g []float64) float64, x0 []float64, tol float64) (x []float64, evals int, ok bool) {
	n := len(x0)
	x = append([]float64(nil), x0...)
	g := make([]float64, n)
	fx := f(x, g)
	evals++
	if bad(x) || math.IsInf(fx, 0) || math.IsNaN(fx) {
		return x0, evals, false
	}
	if floats2norm(g) < tol {
		return x, evals, true
	}
	// Hessian by forward differences of the gradient, symmetrised.
	const h = 1e-5
	hs := mat.NewSymDense(n, nil)
	cols := make([][]float64, n)
	xp := make([]float64, n)
	for j := range n {
		copy(xp, x)
		xp[j] += h
		gj := make([]float64, n)
		f(xp, gj)
		evals++
		for i := range n {
			gj[i] = (gj[i] - g[i]) / h
		}
		cols[j] = gj
	}
	for i := range n {
		for j := i; j < n; j++ {
			hs.SetSym(i, j, (cols[i][j]+cols[j][i])/2)
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(hs) {
		return x0, evals, false
	}
	step := mat.NewVecDense(n, nil)
	for range warmSteps {
		if err := chol.SolveVecTo(step, mat.NewVecDense(n, append([]float64(nil), g...))); err != nil {
			return x, evals, false
		}
		next := make([]float64, n)
		for i := range n {
			next[i] = x[i] - step.AtVec(i)
		}
		gn := make([]float64, n)
		fn := f(next, gn)
		evals++
		if bad(next) || math.IsNaN(fn) || fn > fx+1e-12*math.Max(1, math.Abs(fx)) {
			return x, evals, false // not a descent: leave it to the general search
		}
		if floats2norm(gn) < tol {
			return next, evals, true
		}
		// BFGS's secant update of the Hessian itself: the steps become
		// superlinear where the curvature moved since it was measured.
		sv, yv := make([]float64, n), make([]float64, n)
		for i := range n {
			sv[i], yv[i] = next[i]-x[i], gn[i]-g[i]
		}
		if ys := dot(yv, sv); ys > 0 {
			hsv := mat.NewVecDense(n, nil)
			hsv.MulVec(hs, mat.NewVecDense(n, sv))
			if shs := dot(sv, hsv.RawVector().Data); shs > 0 {
				for i := range n {
					for j := i; j < n; j++ {
						hs.SetSym(i, j, hs.At(i, j)+yv[i]*yv[j]/ys-hsv.AtVec(i)*hsv.AtVec(j)/shs)
					}
				}
				if !chol.Factorize(hs) {
					return next, evals, false
				}
			}
		}
		x, g, fx = next, gn, fn
	}
	return x, evals, false
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func floats2norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}
