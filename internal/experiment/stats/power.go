package stats

import (
	"fmt"
	"math"
)

// SampleSizeProportion is the number of units needed per variant to detect
// an absolute change mde from a baseline conversion rate p with a two-sided
// test at level alpha and the given power, by the formula of Evan Miller's
// sample size calculator: the null variance uses the baseline on both arms,
// the alternative variance the baseline and baseline+mde,
//
//	n = ( z₁₋α/₂·sqrt(2p(1−p)) + z_power·sqrt(p(1−p) + q(1−q)) )² / mde²,  q = p + mde.
func SampleSizeProportion(p, mde, alpha, power float64) (float64, error) {
	if err := checkPlan(alpha, power); err != nil {
		return 0, err
	}
	q := p + mde
	if !(p > 0 && p < 1) || !(q > 0 && q < 1) || mde == 0 {
		return 0, fmt.Errorf("stats: baseline %v and baseline+mde %v must lie in (0, 1) and differ", p, q)
	}
	za, zb := quantileZ(1-alpha/2), quantileZ(power)
	s := za*math.Sqrt(2*p*(1-p)) + zb*math.Sqrt(p*(1-p)+q*(1-q))
	return s * s / (mde * mde), nil
}

// SampleSizeMeans is the number of units needed per variant to detect an
// absolute change mde in a mean whose per-unit standard deviation is sd,
// with a two-sided z test at level alpha and the given power:
// n = 2(z₁₋α/₂ + z_power)²·sd²/mde².
func SampleSizeMeans(sd, mde, alpha, power float64) (float64, error) {
	if err := checkPlan(alpha, power); err != nil {
		return 0, err
	}
	if !(sd > 0) || mde == 0 {
		return 0, fmt.Errorf("stats: standard deviation %v must be positive and mde %v non-zero", sd, mde)
	}
	z := quantileZ(1-alpha/2) + quantileZ(power)
	return 2 * z * z * sd * sd / (mde * mde), nil
}

// DaysToGo is how many more days at perDay new units per variant it takes
// to go from have to need units per variant: 0 when already there, +Inf
// when no units arrive.
func DaysToGo(need, have, perDay float64) float64 {
	if have >= need {
		return 0
	}
	if perDay <= 0 {
		return math.Inf(1)
	}
	return math.Ceil((need - have) / perDay)
}

func checkPlan(alpha, power float64) error {
	if err := checkAlpha(alpha); err != nil {
		return err
	}
	if !(power > 0 && power < 1) {
		return fmt.Errorf("stats: power %v outside (0, 1)", power)
	}
	return nil
}
