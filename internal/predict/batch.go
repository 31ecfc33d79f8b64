package predict

import (
	"math"
	"runtime"
	"sync"
)

// Values and Batch are CLV and expected orders as the refresh computes them
// for every customer: both depend on the age T only through the BG/NBD
// horizon terms E[Y(t) | alive, x, T] (13 hypergeometric functions: 12
// months of CLV and the orders horizon), while P(alive) and the expected
// order value carry t_x and m. With T rounded to the day those terms are
// shared by every customer with the same x and age in days — a few
// thousand pairs among a million customers — and computed once per pair.
// Half a day moves α+T by at most 0.07 weeks (α is weeks to months), far
// below the model's own uncertainty.

// DayWeeks is one day in weeks, the unit of the age rounding.
const DayWeeks = 1.0 / 7

// ageDays is T rounded to the nearest whole day.
func ageDays(T float64) float64 { return math.Round(T * 7) }

// horizonTerms are the alive-customer figures of x and age d days: the
// discounted CLV sum and the expected purchases in horizon weeks.
func (md Model) horizonTerms(x, d float64, o CLVOptions, horizon float64) (sum, orders float64) {
	c := Customer{X: x, T: d * DayWeeks}
	prev, disc := 0.0, 1.0
	for k := 1; k <= o.Months; k++ {
		cur := md.BG.expectedAlive(c, float64(k)*WeeksPerMonth)
		disc /= 1 + o.MonthlyDiscount
		sum += (cur - prev) * disc
		prev = cur
	}
	return sum, md.BG.expectedAlive(c, horizon)
}

// combine is a customer's CLV and expected orders from its horizon terms.
func (md Model) combine(c Customer, sum, orders float64) (clv, exp float64) {
	pa := md.BG.PAlive(c)
	return md.GG.ExpectedValue(c.X, c.M) * pa * sum, pa * orders
}

// Values is one customer's CLV (as Model.CLV) and expected purchases in
// the next horizon weeks (as BGNBD.ExpectedRepeat), with the age rounded to
// the day; Batch gives the same figures, bit for bit.
func (md Model) Values(c Customer, o CLVOptions, horizon float64) (clv, orders float64) {
	o = o.withDefaults()
	s, e := md.horizonTerms(c.X, ageDays(c.T), o, horizon)
	return md.combine(c, s, e)
}

type ageKey struct{ x, d float64 }

// Batch computes Values for every customer in cs into clv and orders
// (each of len(cs)) on workers goroutines (GOMAXPROCS when ≤ 0), sharing
// the horizon terms between customers of the same x and age in days. It
// returns the number of distinct pairs.
func (md Model) Batch(cs []Customer, o CLVOptions, horizon float64, workers int, clv, orders []float64) int {
	o = o.withDefaults()
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	idx := make(map[ageKey]int32, 1024)
	var keys []ageKey
	slot := make([]int32, len(cs))
	for i, c := range cs {
		k := ageKey{c.X, ageDays(c.T)}
		j, ok := idx[k]
		if !ok {
			j = int32(len(keys))
			idx[k] = j
			keys = append(keys, k)
		}
		slot[i] = j
	}
	terms := make([][2]float64, len(keys))
	parallel(len(keys), workers, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			terms[j][0], terms[j][1] = md.horizonTerms(keys[j].x, keys[j].d, o, horizon)
		}
	})
	parallel(len(cs), workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t := &terms[slot[i]]
			clv[i], orders[i] = md.combine(cs[i], t[0], t[1])
		}
	})
	return len(keys)
}

// parallel runs f over [0, n) cut in interleaved blocks on workers
// goroutines: the horizon terms of small x cost less than those of large
// x, and blocks keep the halves even.
func parallel(n, workers int, f func(lo, hi int)) {
	const block = 256
	if workers <= 1 || n <= block {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for lo := w * block; lo < n; lo += workers * block {
				f(lo, min(lo+block, n))
			}
		})
	}
	wg.Wait()
}
