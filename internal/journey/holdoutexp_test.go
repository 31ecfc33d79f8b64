package journey

import (
	"errors"
	"fmt"
	"testing"
)

// holdoutAssigner stands in for the experiment engine with two holdouts:
// "global-holdout" buckets as InGlobalHoldout does at 30 %, "j-holdout"
// holds out profiles whose id ends in an even digit.
type holdoutAssigner struct{ running bool }

func (h holdoutAssigner) Assign(exp, unit string) (string, bool) {
	if !h.running {
		return "", false
	}
	switch exp {
	case "global-holdout":
		if InGlobalHoldout(unit, 30) {
			return HeldOutVariant, true
		}
		return "messaged", true
	case "j-holdout":
		if (unit[len(unit)-1]-'0')%2 == 0 {
			return "held", true
		}
		return "treated", true
	}
	return "", false
}

func (h holdoutAssigner) variants(id string) ([]string, bool, error) {
	switch id {
	case "global-holdout":
		return []string{HeldOutVariant, "messaged"}, h.running, nil
	case "j-holdout":
		return []string{"held", "treated"}, h.running, nil
	}
	return nil, false, errors.New("not found")
}

func oneSend(id string) Journey {
	return Journey{ID: id, Name: id, Trigger: Trigger{Type: TriggerEvent, Event: "Go"}, Start: "mail",
		Steps: []*Step{{ID: "mail", Type: StepSend, Channel: "email", Template: "t"}}}
}

func exposuresOf(h *harness, exp string) map[string]string {
	out := map[string]string{}
	for _, r := range append(h.log, h.e.records...) {
		if r.Event == EventExposure && r.Properties["experiment_id"] == exp {
			out[r.Profile] = r.Properties["variant"].(string)
		}
	}
	return out
}

func TestGlobalHoldoutThroughItsExperimentHoldsOutTheSameProfiles(t *testing.T) {
	const n = 200
	cases := []struct {
		name    string
		running bool
		exposed int
	}{
		{"experiment running: decides and logs", true, n},
		{"experiment not running: the percentage decides", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := holdoutAssigner{tc.running}
			h := newHarness(t, Options{GlobalHoldout: 30, GlobalHoldoutExperiment: "global-holdout", Experiments: a, ExperimentVariants: a.variants})
			h.save(oneSend("j"))
			want := uint64(0)
			for i := range n {
				p := fmt.Sprint("p_", i)
				h.track(p, "Go", nil)
				if InGlobalHoldout(p, 30) {
					want++
				}
			}
			st, _ := h.e.Stats("j")
			if st.HeldOut != want || want == 0 {
				t.Errorf("held out %d, want %d (the --holdout buckets)", st.HeldOut, want)
			}
			exp := exposuresOf(h, "global-holdout")
			if len(exp) != tc.exposed {
				t.Errorf("%d profiles exposed, want %d", len(exp), tc.exposed)
			}
			for p, v := range exp {
				if (v == HeldOutVariant) != InGlobalHoldout(p, 30) {
					t.Errorf("%s exposed as %s", p, v)
				}
			}
		})
	}
}

func TestJourneyHoldoutExperimentHoldsOutItsControl(t *testing.T) {
	a := holdoutAssigner{true}
	h := newHarness(t, Options{Experiments: a, ExperimentVariants: a.variants})
	j := oneSend("j")
	j.Holdout = 50 // ignored while the experiment runs
	j.HoldoutExperiment = "j-holdout"
	h.save(j)
	for i := range 10 {
		h.track(fmt.Sprint("p_", i), "Go", nil)
	}
	st, _ := h.e.Stats("j")
	if st.HeldOut != 5 || st.Steps["mail"].Sent != 5 {
		t.Errorf("held out %d, sent %d; want 5 and 5 (even ids are the control)", st.HeldOut, st.Steps["mail"].Sent)
	}
	if exp := exposuresOf(h, "j-holdout"); len(exp) != 10 || exp["p_2"] != "held" || exp["p_3"] != "treated" {
		t.Errorf("exposures %v, want all 10 with their variants", exp)
	}

	j = oneSend("k")
	j.HoldoutExperiment = "nope"
	_, err := h.e.Create(j)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Path != "/holdout_experiment" {
		t.Errorf("unknown holdout experiment: %v, want a validation error at /holdout_experiment", err)
	}
}
