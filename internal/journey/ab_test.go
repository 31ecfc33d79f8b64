package journey

import (
	"fmt"
	"strings"
	"testing"
)

// fakeAssigner stands in for the experiment engine: a running experiment
// assigns by the last digit of the profile id (even: control).
type fakeAssigner struct{ running bool }

func (f fakeAssigner) Assign(exp, unit string) (string, bool) {
	if !f.running || exp != "subject-test" {
		return "", false
	}
	if (unit[len(unit)-1]-'0')%2 == 0 {
		return "control", true
	}
	return "short", true
}

func abJourney() Journey {
	return Journey{ID: "welcome", Name: "Welcome", Trigger: Trigger{Type: TriggerEvent, Event: "Go"}, Start: "ab",
		Steps: []*Step{
			{ID: "ab", Type: StepAB, Experiment: "subject-test", Variants: map[string]string{"control": "long", "short": "short"}, Else: "long"},
			{ID: "long", Type: StepSend, Channel: "email", Template: "long"},
			{ID: "short", Type: StepSend, Channel: "email", Template: "short"},
		}}
}

func TestABStepFollowsTheExperimentAndLogsExposure(t *testing.T) {
	cases := []struct {
		name      string
		running   bool
		wantShort uint64 // of 10 profiles
		exposures int
	}{
		{"running experiment", true, 5, 10},
		{"experiment not running: everyone takes else", false, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{Experiments: fakeAssigner{tc.running}})
			h.save(abJourney())
			for i := range 10 {
				h.track(fmt.Sprint("p_", i), "Go", nil)
			}
			st, _ := h.e.Stats("welcome")
			if got := st.Steps["short"].Sent; got != tc.wantShort {
				t.Errorf("short path sent %d, want %d", got, tc.wantShort)
			}
			if got := st.Steps["long"].Sent; got != 10-tc.wantShort {
				t.Errorf("long path sent %d, want %d", got, 10-tc.wantShort)
			}
			exp := h.recorded(EventExposure)
			if len(exp) != tc.exposures {
				t.Fatalf("%d exposures logged, want %d", len(exp), tc.exposures)
			}
			for _, r := range exp {
				want := "control"
				if strings.HasSuffix(r.Profile, "1") || strings.HasSuffix(r.Profile, "3") || strings.HasSuffix(r.Profile, "5") ||
					strings.HasSuffix(r.Profile, "7") || strings.HasSuffix(r.Profile, "9") {
					want = "short"
				}
				if r.Properties["experiment_id"] != "subject-test" || r.Properties["variant"] != want {
					t.Errorf("exposure of %s: %v, want experiment subject-test variant %s", r.Profile, r.Properties, want)
				}
			}
		})
	}
}

func TestABStepValidation(t *testing.T) {
	cases := []struct {
		name string
		step Step
		path string
	}{
		{"no experiment", Step{ID: "ab", Type: StepAB, Variants: map[string]string{"a": "long"}}, "/experiment"},
		{"no variants", Step{ID: "ab", Type: StepAB, Experiment: "x"}, "/variants"},
		{"variant to no step", Step{ID: "ab", Type: StepAB, Experiment: "x", Variants: map[string]string{"a": "nowhere"}}, "/variants/a"},
	}
	for _, tc := range cases {
		j := abJourney()
		s := tc.step
		j.Steps[0] = &s
		err := j.Validate(nil)
		ve, ok := err.(*ValidationError)
		if !ok || !strings.HasSuffix(ve.Path, tc.path) {
			t.Errorf("%s: err %v, want a validation error at …%s", tc.name, err, tc.path)
		}
	}
}
