package experiment

import (
	"encoding/json"
	"testing"
)

// FuzzNormalize: any JSON body either fails validation with a field named,
// or yields a definition the engine can run (weights summing above zero,
// metrics with events, defaults filled).
func FuzzNormalize(f *testing.F) {
	f.Add(`{"id":"hero","variants":[{"id":"a","weight":1},{"id":"b","weight":1}],"metrics":[{"kind":"conversion","event":"Order Completed"}]}`)
	f.Add(`{"id":"x","variants":[{"id":"a","weight":0},{"id":"b","weight":0}],"metrics":[{"kind":"revenue"}],"pre_days":-1}`)
	f.Add(`{"id":"x","kind":"holdout","variants":[{"id":"a"},{"id":"a"}],"metrics":[{"kind":"value","event":"e"}],"alpha":2}`)
	f.Fuzz(func(t *testing.T, body string) {
		var x Experiment
		if json.Unmarshal([]byte(body), &x) != nil {
			return
		}
		err := x.Normalize()
		if err != nil {
			if ve, ok := err.(*ValidationError); !ok || ve.Field == "" {
				t.Fatalf("error %v does not name a field", err)
			}
			return
		}
		var total uint64
		for _, v := range x.Variants {
			total += uint64(v.Weight)
		}
		if total == 0 || len(x.Variants) < 2 || x.Salt == "" || x.PreDays == nil || x.WindowHours <= 0 {
			t.Fatalf("accepted a definition the engine cannot run: %+v", x)
		}
		for _, m := range x.Metrics {
			if m.Event == "" || m.ID == "" || (m.Kind != MetricConversion && m.Property == "") {
				t.Fatalf("accepted metric %+v", m)
			}
		}
		if Assign(x.Salt, "u", x.weights()) < 0 {
			t.Fatal("accepted weights Assign cannot use")
		}
	})
}
