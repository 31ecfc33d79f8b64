package journey

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// checkExperiments checks the message experiments of j's send steps
// against the experiment engine: the experiment exists and every variant
// has a template, no template names another. A send without a fallback
// Template gets control's. Caller holds mu.
func (e *Engine) checkExperiments(j *Journey) error {
	if e.opts.ExperimentVariants == nil {
		return nil
	}
	if err := e.checkHoldoutExperiment(j); err != nil {
		return err
	}
	for i, s := range j.Steps {
		if s.Type != StepSend || s.Experiment == "" {
			continue
		}
		p := fmt.Sprintf("/steps/%d", i)
		vs, _, err := e.opts.ExperimentVariants(s.Experiment)
		if err != nil {
			return &ValidationError{Path: p + "/experiment", Msg: fmt.Sprintf("no experiment %q", s.Experiment)}
		}
		for _, v := range vs {
			if s.Templates[v] == "" {
				return &ValidationError{Path: p + "/templates/" + v,
					Msg: fmt.Sprintf("variant %q of experiment %q has no template", v, s.Experiment)}
			}
		}
		for _, v := range slices.Sorted(maps.Keys(s.Templates)) {
			if !slices.Contains(vs, v) {
				return &ValidationError{Path: p + "/templates/" + v,
					Msg: fmt.Sprintf("%q is not a variant of experiment %q (%v)", v, s.Experiment, vs)}
			}
		}
		if s.Template == "" {
			s.Template = s.Templates[vs[0]]
		}
	}
	return nil
}

// sendVariant is the template a send step with a message experiment sends
// to prof: its variant's while the experiment runs, logging the exposure,
// else the step's Template. The exposure's message id names only the
// experiment and the profile, so the log's de-duplication keeps one per
// profile however many times it passes the step. Caller holds mu.
func (e *Engine) sendVariant(js *jstate, s *Step, prof string, now time.Time) string {
	fallback := s.Template
	if fallback == "" { // saved without the experiment engine to name control's
		fallback = s.Templates[slices.Min(slices.Collect(maps.Keys(s.Templates)))]
	}
	if e.opts.Experiments == nil || s.Experiment == "" {
		return fallback
	}
	v, ok := e.opts.Experiments.Assign(s.Experiment, prof)
	t := s.Templates[v]
	if !ok || t == "" {
		return fallback
	}
	e.recordExposure(s.Experiment, v, prof, now, map[string]any{"journey": js.id, "step": s.ID})
	return t
}
