package predict

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// Simulate draws n customers' summaries from BG/NBD and Gamma-Gamma with
// ages spread uniformly over (0, maxT] weeks: λ ~ Gamma(r, α), p ~ Beta(a,
// b), exponential gaps between purchases and a coin with probability p after
// each repeat purchase to drop out (not after the first: BG/NBD's P(alive
// at T) is (1−p)^x); each transaction's value ~ Gamma(p, ν) with ν ~
// Gamma(q, γ). It feeds the fit-recovery tests and the benchmarks, where a
// known truth is the point.
func Simulate(md Model, n int, maxT float64, seed uint64) []Customer {
	src := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	lam := distuv.Gamma{Alpha: md.BG.R, Beta: md.BG.Alpha, Src: src}
	drop := distuv.Beta{Alpha: md.BG.A, Beta: md.BG.B, Src: src}
	nu := distuv.Gamma{Alpha: md.GG.Q, Beta: md.GG.Gamma, Src: src}
	out := make([]Customer, n)
	for i := range out {
		T := maxT * (1 - src.Float64()) // (0, maxT]
		l, p := lam.Rand(), drop.Rand()
		c := Customer{T: T}
		t := 0.0
		for { // alive: the next purchase, then a coin to drop out after it
			t += src.ExpFloat64() / l
			if t > T {
				break
			}
			c.X++
			c.Tx = t
			if src.Float64() < p {
				break
			}
		}
		if c.X > 0 {
			// The mean of x Gamma(p, ν) values is Gamma(px, νx).
			v := distuv.Gamma{Alpha: md.GG.P * c.X, Beta: nu.Rand() * c.X, Src: src}
			c.M = v.Rand()
		}
		if math.IsInf(c.M, 0) || math.IsNaN(c.M) {
			c.M = 0
		}
		out[i] = c
	}
	return out
}
