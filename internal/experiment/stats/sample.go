package stats

import (
	"errors"
	"math"
)

// ErrTooFewUnits is returned when a variant has fewer than two units, so no
// variance can be estimated.
var ErrTooFewUnits = errors.New("stats: too few units in a variant (need at least 2)")

// Sample is the sufficient statistics of one variant's metric: N units, the
// sum of the metric over units and the sum of its squares. For a conversion
// metric each unit's value is 0 or 1, so Sum = SumSq = conversions.
type Sample struct {
	N     float64 `json:"n"`
	Sum   float64 `json:"sum"`
	SumSq float64 `json:"sum_sq"`
}

// Add folds one unit's value into s.
func (s *Sample) Add(v float64) {
	s.N++
	s.Sum += v
	s.SumSq += v * v
}

// Mean is the mean per unit (0 for no units).
func (s Sample) Mean() float64 {
	if s.N == 0 {
		return 0
	}
	return s.Sum / s.N
}

// Variance is the unbiased sample variance per unit (0 below two units).
// Computed from sums, it can come out a hair below zero by rounding when
// every value is equal; that is clamped to zero.
func (s Sample) Variance() float64 {
	if s.N < 2 {
		return 0
	}
	m := s.Sum / s.N
	v := (s.SumSq - s.N*m*m) / (s.N - 1)
	return math.Max(v, 0)
}

// Interval is a two-sided interval [Lo, Hi].
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Contains reports whether x lies in the interval.
func (i Interval) Contains(x float64) bool { return i.Lo <= x && x <= i.Hi }
