package main

import (
	"encoding/json"
	"testing"
	"time"

	"tailor/internal/experiment"
)

func TestDemoExposureFollowsRecentCartAdds(t *testing.T) {
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	recent := end.Add(-3 * 24 * time.Hour).Format(time.RFC3339Nano)
	old := end.Add(-60 * 24 * time.Hour).Format(time.RFC3339Nano)
	cases := []struct {
		name string
		msg  string
		want bool
	}{
		{"recent cart add, signed in", `{"type":"track","event":"Product Added","userId":"u1","anonymousId":"d1","timestamp":"` + recent + `"}`, true},
		{"cart add before the eight weeks", `{"type":"track","event":"Product Added","userId":"u1","timestamp":"` + old + `"}`, false},
		{"anonymous cart add", `{"type":"track","event":"Product Added","anonymousId":"u1","timestamp":"` + recent + `"}`, true},
		{"a cart add of nobody", `{"type":"track","event":"Product Added","timestamp":"` + recent + `"}`, false},
		{"another event", `{"type":"track","event":"Product Viewed","userId":"u1","timestamp":"` + recent + `"}`, false},
		{"a property named like it", `{"type":"track","event":"Order Completed","userId":"u1","properties":{"note":"Product Added"},"timestamp":"` + recent + `"}`, false},
	}
	x := demoCartSubjectTest()
	if err := x.Normalize(); err != nil {
		t.Fatalf("demo experiment invalid: %v", err)
	}
	for _, tc := range cases {
		b := demoExposure([]byte(tc.msg), end)
		if (b != nil) != tc.want {
			t.Errorf("%s: exposure %s, want one: %v", tc.name, b, tc.want)
			continue
		}
		if b == nil {
			continue
		}
		var m struct {
			Event, UserID, AnonymousID, Timestamp, MessageID string
			Properties                                       map[string]any
		}
		json.Unmarshal(b, &m)
		at, _ := time.Parse(time.RFC3339Nano, m.Timestamp)
		want := x.Variants[experiment.Assign(x.ID, "u1", []uint32{50, 50})].ID
		ids := m.UserID + "/" + m.AnonymousID
		if m.Event != experiment.ExposureEvent || (ids != "u1/d1" && ids != "/u1") || m.Properties["experiment_id"] != demoExperiment ||
			m.Properties["variant"] != want || at.Sub(end) != -3*24*time.Hour+time.Hour || m.MessageID != "demo-exp-"+demoExperiment+"-u1" {
			t.Errorf("%s: exposure %s", tc.name, b)
		}
	}
}
