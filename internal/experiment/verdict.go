package experiment

import (
	"fmt"
	"math"
	"strings"
	"time"

	"tailor/internal/experiment/stats"
)

// Thresholds of the verdict: a treatment "is better" when its chance to
// beat control reaches decideChance (and "is worse" below 1 − decideChance).
const decideChance = 0.95

func srmWarning(vs []VariantCount, weights []float64, p float64) string {
	var total float64
	for _, w := range weights {
		total += w
	}
	var got, want []string
	for i, v := range vs {
		got = append(got, fmt.Sprintf("%s %.1f %%", v.Name, 100*v.Share))
		want = append(want, fmt.Sprintf("%.1f %%", 100*weights[i]/total))
	}
	return fmt.Sprintf("Sample ratio mismatch: units split %s, but the weights plan %s (χ² p = %.2g). "+
		"Assignment or exposure logging is likely broken; do not trust these results until it is fixed.",
		strings.Join(got, ", "), strings.Join(want, " / "), p)
}

// verdict says in plain words what the primary metric shows and how long
// to keep running; it also returns the days to go to the planned power.
func verdict(def *Experiment, res *Results, a *aggregated, now time.Time) (string, *int) {
	if len(res.Metrics) == 0 || res.SRM.Expected == nil {
		return "No results yet.", nil
	}
	var total int
	for _, v := range res.Variants {
		total += v.Units
	}
	if total == 0 {
		if def.Status == StatusRunning {
			return "No exposures yet: the experiment is running, but no unit has seen a variant.", nil
		}
		return "No exposures: start the experiment and show its variants.", nil
	}
	pm := res.Metrics[0]
	ctrl := pm.Variants[0]
	// The best treatment by chance to beat control.
	best := -1
	for i, row := range pm.Variants[1:] {
		if row.Bayes != nil && (best < 0 || row.Bayes.ChanceToBeat > pm.Variants[best].Bayes.ChanceToBeat) {
			best = i + 1
		}
	}
	var b strings.Builder
	if def.Bandit {
		var shares []string
		for i, v := range def.Variants {
			shares = append(shares, fmt.Sprintf("%s %s", v.Name, pct(res.Allocation[i])))
		}
		fmt.Fprintf(&b, "Bandit: new traffic follows each variant's chance of being best (now %s). ", strings.Join(shares, ", "))
	}
	if res.SRMWarning != "" {
		b.WriteString("Warning: sample ratio mismatch, see above. ")
	}
	if best < 0 {
		b.WriteString("Not enough data yet: every variant needs at least two units with the metric.")
		return b.String(), nil
	}
	row := pm.Variants[best]
	name := func(id string) string {
		for _, v := range def.Variants {
			if v.ID == id {
				return v.Name
			}
		}
		return id
	}
	tname, cname := name(row.ID), name(ctrl.ID)
	chance := row.Bayes.ChanceToBeat
	lift := ""
	if row.Effect != nil && row.Effect.RelDefined {
		lift = fmt.Sprintf(" (%+.1f %% on %s)", 100*row.Effect.Rel, pm.ID)
	}
	switch {
	case chance >= decideChance:
		fmt.Fprintf(&b, "%s is better than %s with %s probability%s", tname, cname, pct(chance), lift)
	case chance <= 1-decideChance:
		fmt.Fprintf(&b, "%s is worse than %s with %s probability%s", tname, cname, pct(1-chance), lift)
	default:
		fmt.Fprintf(&b, "No clear winner yet: %s beats %s with %s probability%s", tname, cname, pct(chance), lift)
	}
	seqP := 1.0
	if row.Sequential != nil {
		seqP = row.Sequential.PValue
	}
	// Days to go: units per variant per day so far, towards the plan.
	need := plannedUnits(def, def.Metrics[0].Kind, a.total(0, 0).Y())
	have := math.Inf(1)
	for _, v := range res.Variants {
		if v.Weight > 0 {
			have = math.Min(have, float64(v.Units))
		}
	}
	start := now
	if def.Started != nil {
		start = *def.Started
	}
	end := now
	if def.Stopped != nil {
		end = *def.Stopped
	}
	ran := math.Max(end.Sub(start).Hours()/24, 1)
	var togo *int
	if need > 0 {
		if d := stats.DaysToGo(need, have, have/ran); !math.IsInf(d, 1) {
			n := int(d)
			togo = &n
		}
	}
	switch {
	case seqP < def.Alpha:
		fmt.Fprintf(&b, "; the always-valid test is significant (p = %.2g), so it is safe to decide now.", seqP)
	case def.Status == StatusStopped:
		b.WriteString("; the experiment is stopped.")
	case togo == nil:
		b.WriteString("; keep running: there is not enough data to plan the sample size yet.")
	case *togo > 0:
		fmt.Fprintf(&b, "; keep running %d more %s to reach the planned power (%s per variant for a %s change).",
			*togo, plural(*togo, "day", "days"), fmtCount(need), pct(def.MDE))
	default:
		fmt.Fprintf(&b, "; the planned sample size (%s per variant) is reached: any real difference is likely smaller than %s.",
			fmtCount(need), pct(def.MDE))
	}
	return b.String(), togo
}

func pct(x float64) string {
	p := 100 * x
	switch {
	case p > 99.9:
		return "more than 99.9 %"
	case p >= 99.5:
		return fmt.Sprintf("%.1f %%", math.Floor(p*10)/10)
	case p < 0.1:
		return "less than 0.1 %"
	}
	return fmt.Sprintf("%.0f %%", p)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func fmtCount(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
