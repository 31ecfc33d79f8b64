package experiment

import (
	"math"

	"tailor/internal/experiment/stats"
)

// banditFloor is the smallest share of new traffic a bandit leaves each
// variant (with a positive weight), so that an arm that started unlucky
// can still recover.
const banditFloor = 0.02

// banditScale is the total of a bandit's allocation weights.
const banditScale = 10000

// rebalance recomputes a bandit's allocation from the primary metric:
// each variant's share is its chance of being best (Beta posteriors for
// conversions, normal for means), floored at banditFloor. Variants with
// weight 0 stay at 0. The caller holds mu for writing.
func (s *expState) rebalance() {
	if !s.def.Bandit {
		s.alloc = nil
		return
	}
	agg := s.aggregate()
	var arms []stats.Sample
	var idx []int
	for v, vr := range s.def.Variants {
		if vr.Weight > 0 {
			arms = append(arms, agg.total(0, v).Y())
			idx = append(idx, v)
		}
	}
	if len(arms) < 2 {
		s.alloc = nil
		return
	}
	var best []float64
	if s.def.Metrics[0].Kind == MetricConversion {
		best = stats.ChanceBestBeta(arms, stats.BetaPrior{})
	} else {
		best = stats.ChanceBestNormal(arms)
	}
	alloc := make([]uint32, len(s.def.Variants))
	spare := 1 - banditFloor*float64(len(arms))
	for k, v := range idx {
		alloc[v] = uint32(math.Round(banditScale * (banditFloor + spare*best[k])))
	}
	s.alloc = alloc
}

// allocation is the current share of new traffic per variant.
func (s *expState) allocation() []float64 {
	w := s.alloc
	if w == nil {
		w = s.def.weights()
	}
	var total float64
	for _, x := range w {
		total += float64(x)
	}
	out := make([]float64, len(w))
	for i, x := range w {
		if total > 0 {
			out[i] = float64(x) / total
		}
	}
	return out
}
