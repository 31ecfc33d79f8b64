package server

import (
	"testing"

	"tailor/internal/experiment"
)

// TestGlobalHoldoutIsAnExperiment: --holdout starts a holdout experiment
// with the policy's buckets; a new percentage stops it and starts
// another (the old results stay); no holdout stops it; a restart with the
// same flag keeps the one running.
func TestGlobalHoldoutIsAnExperiment(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		pct     float64
		running []string
		stopped []string
	}{
		{5, []string{"global-holdout-5pct"}, nil},
		{5, []string{"global-holdout-5pct"}, nil},
		{12.5, []string{"global-holdout-12.5pct"}, []string{"global-holdout-5pct"}},
		{0, nil, []string{"global-holdout-5pct", "global-holdout-12.5pct"}},
	}
	for i, st := range steps {
		n := startNodeWith(t, dir, func(c *Config) { c.Delivery.HoldoutPercent = st.pct }, nil) // what --holdout sets
		status := map[string]experiment.Status{}
		for _, inf := range n.srv.Experiments.List() {
			status[inf.ID] = inf.Status
		}
		for _, id := range st.running {
			if status[id] != experiment.StatusRunning {
				t.Errorf("step %d (--holdout %v): %s is %q, want running", i, st.pct, id, status[id])
			}
		}
		for _, id := range st.stopped {
			if status[id] != experiment.StatusStopped {
				t.Errorf("step %d (--holdout %v): %s is %q, want stopped", i, st.pct, id, status[id])
			}
		}
		if len(status) != len(st.running)+len(st.stopped) {
			t.Errorf("step %d: experiments %v", i, status)
		}
		if st.pct == 5 {
			inf, _ := n.srv.Experiments.Get("global-holdout-5pct")
			if inf.Kind != experiment.KindHoldout || inf.Bucketing != experiment.BucketProfile || inf.Variants[0].Weight != 500 {
				t.Errorf("global holdout experiment %+v", inf.Experiment)
			}
			held := 0
			for p := range 2000 {
				id := "p_" + string(rune('a'+p%26)) + string(rune('a'+p/26%26)) + string(rune('a'+p/676))
				v, _ := n.srv.Experiments.Assign("global-holdout-5pct", id)
				if (v == "held_out") != n.srv.deliverPolicy.Holdout(id) {
					t.Fatalf("%s: experiment says %s, the delivery policy %v", id, v, n.srv.deliverPolicy.Holdout(id))
				}
				if v == "held_out" {
					held++
				}
			}
			if held == 0 {
				t.Error("nobody held out at 5 %")
			}
		}
		n.stop()
	}
}
