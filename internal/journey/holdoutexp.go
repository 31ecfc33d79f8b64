package journey

import (
	"fmt"
	"time"
)

// HeldOutVariant is the global holdout experiment's held-out variant.
const HeldOutVariant = "held_out"

// inGlobalHoldout decides the global holdout: through its experiment
// while that runs (logging the profile's exposure once), else by
// InGlobalHoldout. Caller holds mu.
func (e *Engine) inGlobalHoldout(prof string, now time.Time) bool {
	id := e.opts.GlobalHoldoutExperiment
	if id == "" || e.opts.Experiments == nil {
		return InGlobalHoldout(prof, e.opts.GlobalHoldout)
	}
	v, ok := e.opts.Experiments.Assign(id, prof)
	if !ok {
		return InGlobalHoldout(prof, e.opts.GlobalHoldout)
	}
	e.recordExposure(id, v, prof, now, nil)
	return v == HeldOutVariant
}

// inHoldoutExperiment decides a journey's holdout by its holdout
// experiment: ok is false when it has none, or it is not running (then
// the percentage decides); held is true for the experiment's control.
// Caller holds mu.
func (e *Engine) inHoldoutExperiment(js *jstate, prof string, now time.Time) (held, ok bool) {
	id := js.cur.def.HoldoutExperiment
	if id == "" || e.opts.Experiments == nil || e.opts.ExperimentVariants == nil {
		return false, false
	}
	vs, running, err := e.opts.ExperimentVariants(id)
	if err != nil || !running || len(vs) == 0 {
		return false, false
	}
	v, ok := e.opts.Experiments.Assign(id, prof)
	if !ok {
		return false, false
	}
	e.recordExposure(id, v, prof, now, map[string]any{"journey": js.id})
	return v == vs[0], true
}

// recordExposure logs prof's exposure to an experiment; the message id
// names only the experiment and the profile, so the log keeps one.
func (e *Engine) recordExposure(id, variant, prof string, now time.Time, extra map[string]any) {
	props := map[string]any{"experiment_id": id, "variant": variant}
	for k, v := range extra {
		props[k] = v
	}
	e.record(Record{Profile: prof, Type: "track", Event: EventExposure, At: now, Properties: props,
		MessageID: "jx-" + id + "-" + prof})
}

// checkHoldoutExperiment checks that j's holdout experiment exists.
func (e *Engine) checkHoldoutExperiment(j *Journey) error {
	if j.HoldoutExperiment == "" || e.opts.ExperimentVariants == nil {
		return nil
	}
	if _, _, err := e.opts.ExperimentVariants(j.HoldoutExperiment); err != nil {
		return &ValidationError{Path: "/holdout_experiment", Msg: fmt.Sprintf("no experiment %q", j.HoldoutExperiment)}
	}
	return nil
}
