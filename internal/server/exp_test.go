package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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

// TestQueuedExposuresAreFlushedAtShutdown: exposures queued by ExposeAsync
// just before the server closes reach the log before it closes (written
// by the queue's loop or its final flush), so the restarted server counts
// them with the variants they were given; the queue's counters are on
// /metrics. (The final drain itself is unit-tested in package experiment.)
func TestQueuedExposuresAreFlushedAtShutdown(t *testing.T) {
	dir := t.TempDir()
	n := startNodeWith(t, dir, func(c *Config) { c.CheckpointEvery = time.Hour }, nil)
	if code, m := n.post("/v1/batch", `{"batch":[{"type":"identify","userId":"q1"},{"type":"identify","userId":"q2"}]}`); code != 200 {
		t.Fatalf("identify: %d %v", code, m)
	}
	n.profile("user_id:q2", 1)
	x := experiment.Experiment{ID: "hero", Kind: experiment.KindPlacement,
		Variants: []experiment.Variant{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}},
		Metrics:  []experiment.Metric{{Kind: experiment.MetricConversion, Event: "Order Completed"}}}
	if _, err := n.srv.Experiments.Create(x); err != nil {
		t.Fatal(err)
	}
	if _, err := n.srv.Experiments.Start("hero"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, u := range []string{"q1", "q2"} {
		id, _ := n.srv.lookupProfile("user_id:" + u)
		v, ok := n.srv.Experiments.ExposeAsync("hero", id)
		if !ok {
			t.Fatal("hero not running")
		}
		want[id] = v
	}
	req, _ := http.NewRequest("GET", n.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "tailor_experiment_exposures_dropped_total 0") {
		t.Errorf("/metrics lacks the exposure queue's counters")
	}
	n.stop()

	n = startNodeWith(t, dir, func(c *Config) {}, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		inf, _ := n.srv.Experiments.Get("hero")
		if inf.Units[0]+inf.Units[1] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("units %v after restart, want the 2 queued exposures counted", inf.Units)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for id, v := range want {
		if got, _ := n.srv.Experiments.Assign("hero", id); got != v {
			t.Errorf("%s: %s after restart, %s when queued", id, got, v)
		}
	}
}
