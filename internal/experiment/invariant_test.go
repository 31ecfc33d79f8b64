package experiment

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/experiment/stats"
	"tailor/internal/profile"
)

// TestInvariantAgainstNaiveScan feeds random event streams (exposures,
// conflicting and unknown exposures, goal events before, inside and after
// the window, other experiments' exposures) to the engine, and compares
// its per-variant sums with a naive evaluator written separately: keep
// every event, then for each profile find its first valid exposure and scan
// all its events. Timestamps increase with log order here; the engine's
// documented rule is "goal events applied after the exposure, within the
// window; covariate from events applied before it, within the pre-period".
func TestInvariantAgainstNaiveScan(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 99))
		pre := 3
		x := def("x", pre,
			Metric{ID: "buy", Kind: MetricConversion, Event: "Order Completed"},
			Metric{ID: "rev", Kind: MetricRevenue},
			Metric{ID: "pro", Kind: MetricValue, Event: "Signed Up", Property: "seats", Where: map[string]string{"plan": "pro"}})
		x.WindowHours = 24 + rng.IntN(72)
		e := New(Options{})
		running(t, e, x)
		type logged struct {
			ev   *event.Event
			prof string
		}
		var log []logged
		at := t0
		for range 2000 {
			at = at.Add(time.Duration(rng.IntN(600)) * time.Second)
			prof := "p" + strconv.Itoa(rng.IntN(60))
			var ev *event.Event
			switch r := rng.IntN(10); {
			case r < 2:
				exp, v := "x", []string{"a", "b", "zzz"}[rng.IntN(3)]
				if rng.IntN(10) == 0 {
					exp = "other"
				}
				ev = track(ExposureEvent, at, map[string]any{"experiment_id": exp, "variant": v})
			case r < 7:
				ev = track("Order Completed", at, map[string]any{"revenue": float64(rng.IntN(100))})
			default:
				ev = track("Signed Up", at, map[string]any{"plan": []string{"pro", "free"}[rng.IntN(2)], "seats": float64(1 + rng.IntN(5))})
			}
			e.Apply(ev, profile.Resolution{Profile: prof})
			log = append(log, logged{ev, prof})
		}

		// The naive evaluator.
		want := make([][]stats.Paired, len(x.Metrics)) // [metric][variant]
		for m := range want {
			want[m] = make([]stats.Paired, 2)
		}
		byProf := map[string][]int{}
		for i, l := range log {
			byProf[l.prof] = append(byProf[l.prof], i)
		}
		for _, idx := range byProf {
			first := -1
			for _, i := range idx {
				ev := log[i].ev
				if ev.Event == ExposureEvent && ev.Properties["experiment_id"] == "x" && ev.Properties["variant"] != "zzz" {
					first = i
					break
				}
			}
			if first < 0 {
				continue
			}
			exp := log[first].ev
			v := 0
			if exp.Properties["variant"] == "b" {
				v = 1
			}
			for m, metric := range x.Metrics {
				var y, cov float64
				for _, i := range idx {
					ev := log[i].ev
					if ev.Event != metric.Event || (metric.Where != nil && ev.Properties["plan"] != "pro") {
						continue
					}
					val := 1.0
					if metric.Property != "" {
						val = ev.Properties[metric.Property].(float64)
					}
					switch {
					case i < first && !ev.Timestamp.Before(exp.Timestamp.Add(-time.Duration(pre)*24*time.Hour)) && ev.Timestamp.Before(exp.Timestamp):
						cov += val
					case i > first && !ev.Timestamp.After(exp.Timestamp.Add(time.Duration(x.WindowHours)*time.Hour)):
						if metric.Kind == MetricConversion {
							y = 1
						} else {
							y += val
						}
					}
				}
				want[m][v].Add(y, cov)
			}
		}
		agg := e.exps["x"].aggregate()
		for m := range x.Metrics {
			for v := range 2 {
				got := agg.total(m, v)
				if !pairedNear(got, want[m][v]) {
					t.Fatalf("seed %d metric %s variant %d:\n engine %+v\n naive  %+v", seed, x.Metrics[m].ID, v, got, want[m][v])
				}
			}
		}
	}
}

func pairedNear(a, b stats.Paired) bool {
	for _, p := range [][2]float64{{a.N, b.N}, {a.SumY, b.SumY}, {a.SumY2, b.SumY2}, {a.SumX, b.SumX}, {a.SumX2, b.SumX2}, {a.SumXY, b.SumXY}} {
		if math.Abs(p[0]-p[1]) > 1e-9*math.Max(1, math.Abs(p[1])) {
			return false
		}
	}
	return true
}
