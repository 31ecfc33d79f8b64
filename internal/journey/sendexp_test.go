package journey

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// subjectTest is a journey whose one email is a subject-line test of the
// fakeAssigner's experiment (variants control and short).
func subjectTest(templates map[string]string, fallback string) Journey {
	return Journey{ID: "subj", Name: "Subject test", Trigger: Trigger{Type: TriggerEvent, Event: "Go"},
		Entry: Entry{Rule: EntryEveryTime}, Start: "mail",
		Steps: []*Step{{ID: "mail", Type: StepSend, Channel: "email", Template: fallback,
			Experiment: "subject-test", Templates: templates}}}
}

func experimentVariants(id string) ([]string, bool, error) {
	if id != "subject-test" {
		return nil, false, errors.New("not found")
	}
	return []string{"control", "short"}, true, nil
}

func TestSendStepSendsTheVariantsTemplateAndLogsOneExposurePerProfile(t *testing.T) {
	cases := []struct {
		name      string
		running   bool
		exposures int
	}{
		{"running: the variant's template", true, 10},
		{"not running: control's template, no exposure", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{Experiments: fakeAssigner{tc.running}, ExperimentVariants: experimentVariants})
			h.save(subjectTest(map[string]string{"control": "long-subject", "short": "short-subject"}, ""))
			for range 2 { // every profile enters twice: two sends, one exposure
				for i := range 10 {
					h.track(fmt.Sprint("p_", i), "Go", nil)
				}
			}
			h.sent()
			byTemplate := map[string]int{}
			for _, m := range h.out.msgs {
				want := "long-subject"
				if v, _ := (fakeAssigner{tc.running}).Assign("subject-test", m.Profile); v == "short" {
					want = "short-subject"
				}
				if m.Template != want {
					t.Errorf("%s got %s, want %s", m.Profile, m.Template, want)
				}
				byTemplate[m.Template]++
			}
			if tc.running && (byTemplate["short-subject"] != 10 || byTemplate["long-subject"] != 10) {
				t.Errorf("templates sent %v, want 10 of each", byTemplate)
			}
			ids := map[string]bool{}
			for _, r := range h.log { // flushed by sent
				if r.Event != EventExposure {
					continue
				}
				if r.Properties["experiment_id"] != "subject-test" || r.Properties["step"] != "mail" {
					t.Errorf("exposure %v", r.Properties)
				}
				ids[r.MessageID] = true
			}
			// The log de-duplicates by message id: one exposure per profile.
			if len(ids) != tc.exposures {
				t.Errorf("%d distinct exposures, want %d", len(ids), tc.exposures)
			}
		})
	}
}

func TestSendStepExperimentIsCheckedWhenSaved(t *testing.T) {
	cases := []struct {
		name      string
		templates map[string]string
		exp       string
		fallback  string
		path      string
		mention   string
	}{
		{"unknown experiment", map[string]string{"control": "a", "short": "b"}, "nope", "", "/steps/0/experiment", `no experiment "nope"`},
		{"a variant without template", map[string]string{"control": "a"}, "subject-test", "", "/steps/0/templates/short", `variant "short"`},
		{"a template of no variant", map[string]string{"control": "a", "short": "b", "long": "c"}, "subject-test", "", "/steps/0/templates/long", "not a variant"},
		{"an empty template", map[string]string{"control": "a", "short": ""}, "subject-test", "", "/steps/0/templates/short", "needs a template id"},
		{"templates without experiment", map[string]string{"control": "a"}, "", "x", "/steps/0/experiment", "need the experiment"},
		{"experiment without templates", nil, "subject-test", "x", "/steps/0/templates", "a template per variant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{ExperimentVariants: experimentVariants})
			j := subjectTest(tc.templates, tc.fallback)
			j.Steps[0].Experiment = tc.exp
			_, err := h.e.Create(j)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Path != tc.path || !strings.Contains(ve.Msg, tc.mention) {
				t.Errorf("err %v, want a validation error at %s naming %q", err, tc.path, tc.mention)
			}
		})
	}
	h := newHarness(t, Options{ExperimentVariants: experimentVariants})
	inf, err := h.e.Create(subjectTest(map[string]string{"control": "a", "short": "b"}, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got := inf.Journey.Steps[0].Template; got != "a" {
		t.Errorf("fallback template %q, want control's %q", got, "a")
	}
}

// A webhook step naming an experiment (a field of ab steps) is a plain
// webhook: it neither picks a template nor fails.
func TestWebhookStepIgnoresAnExperimentField(t *testing.T) {
	h := newHarness(t, Options{Experiments: fakeAssigner{true}})
	h.save(Journey{ID: "hook", Name: "Hook", Trigger: Trigger{Type: TriggerEvent, Event: "Go"}, Start: "call",
		Steps: []*Step{{ID: "call", Type: StepWebhook, URL: "https://example.com/hook", Experiment: "subject-test"}}})
	h.track("p_1", "Go", nil)
	if keys := h.sent(); len(keys) != 1 || h.out.msgs[0].Channel != "webhook" {
		t.Fatalf("sent %v", h.out.msgs)
	}
	for _, r := range h.log {
		if r.Event == EventExposure {
			t.Errorf("a webhook step logged an exposure: %v", r.Properties)
		}
	}
}
