package stats

import (
	"fmt"

	"gonum.org/v1/gonum/stat/distuv"
)

// SRMThreshold is the p-value below which a sample-ratio mismatch is
// reported. It is strict on purpose: the check runs on every look at every
// experiment, and a real mismatch (a bug in assignment or logging) gives
// p-values far smaller than this (Fabijan et al. 2019, "Diagnosing sample
// ratio mismatch in online controlled experiments", use 0.0005).
const SRMThreshold = 0.001

// SRMResult is the outcome of the sample-ratio-mismatch check.
type SRMResult struct {
	ChiSquare float64   `json:"chi_square"`
	DF        int       `json:"df"`
	PValue    float64   `json:"p_value"`
	Expected  []float64 `json:"expected"` // units expected per variant from the weights
	Mismatch  bool      `json:"mismatch"` // PValue < SRMThreshold
}

// SRM checks observed units per variant against the planned weights with
// Pearson's χ² goodness-of-fit test (k−1 degrees of freedom). Variants
// with zero weight must have no units; they are left out of the test.
func SRM(observed []float64, weights []float64) (SRMResult, error) {
	if len(observed) != len(weights) {
		return SRMResult{}, fmt.Errorf("stats: srm: %d counts for %d weights", len(observed), len(weights))
	}
	var n, w float64
	for i := range observed {
		if observed[i] < 0 || weights[i] < 0 {
			return SRMResult{}, fmt.Errorf("stats: srm: negative count or weight at variant %d", i)
		}
		if weights[i] == 0 && observed[i] > 0 {
			return SRMResult{}, fmt.Errorf("stats: srm: variant %d has weight 0 but %v units", i, observed[i])
		}
		n += observed[i]
		w += weights[i]
	}
	res := SRMResult{Expected: make([]float64, len(observed)), PValue: 1}
	if n == 0 || w == 0 {
		return res, nil
	}
	k := 0
	for i := range observed {
		if weights[i] == 0 {
			continue
		}
		e := n * weights[i] / w
		res.Expected[i] = e
		d := observed[i] - e
		res.ChiSquare += d * d / e
		k++
	}
	if k < 2 {
		return res, nil
	}
	res.DF = k - 1
	res.PValue = distuv.ChiSquared{K: float64(res.DF)}.Survival(res.ChiSquare)
	res.Mismatch = res.PValue < SRMThreshold
	return res, nil
}
