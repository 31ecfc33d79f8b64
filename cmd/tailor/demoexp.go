package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"tailor/internal/experiment"
	"tailor/internal/journey"
	"tailor/internal/message"
	"tailor/internal/server"
)

// The demo store's running experiment: a subject-line test of the
// abandoned-cart journey's first email. Variant a is the cart reminder as
// it is, b the same email under another subject line.
const (
	demoExperiment     = "cart-subject-line"
	demoCartJourney    = "abandoned-cart"
	demoCartStep       = "cart-email"
	demoCartTemplate   = "cart-reminder"
	demoCartTemplateB  = "cart-reminder-question"
	demoExposureWindow = 56 * 24 * time.Hour
)

// demoCartSubjectTest is the demo experiment's definition.
func demoCartSubjectTest() experiment.Experiment {
	return experiment.Experiment{ID: demoExperiment, Name: "Cart reminder subject line", Kind: experiment.KindMessage,
		Description: "The abandoned-cart email under two subject lines: \"…, your cart is waiting\" (control) against \"Still thinking it over, …?\".",
		Variants: []experiment.Variant{{ID: "a", Name: "Your cart is waiting", Weight: 50},
			{ID: "b", Name: "Still thinking it over", Weight: 50}},
		Metrics: []experiment.Metric{{ID: "purchase", Kind: experiment.MetricConversion, Event: "Order Completed"},
			{ID: "revenue", Kind: experiment.MetricRevenue}},
		WindowHours: 72}
}

// startDemoExperiment creates and starts the demo experiment before the
// demo history is loaded, so that the exposures woven into the history
// (demoExposure) are counted and the orders after them attributed: a
// fresh demo store opens on an experiment page with eight weeks of data.
func startDemoExperiment(srv *server.Server) {
	if _, err := srv.Experiments.Create(demoCartSubjectTest()); err != nil {
		if !errors.Is(err, experiment.ErrExists) {
			slog.Error("demo experiment", "err", err)
		}
		return
	}
	if _, err := srv.Experiments.Start(demoExperiment); err != nil {
		slog.Error("start demo experiment", "err", err)
	}
}

// demoMsg is what demoExposure reads of a demo event.
type demoMsg struct {
	Event       string `json:"event"`
	UserID      string `json:"userId"`
	AnonymousID string `json:"anonymousId"`
	Timestamp   string `json:"timestamp"`
}

// demoExposure returns the exposure to weave into the demo history after
// msg, or nil: a Product Added in the last eight weeks before end is
// followed, an hour later, by the cart email's exposure (the moment the
// journey would send it) to the variant its userId (else anonymousId)
// hashes to. Its message id names that id, so the log keeps the first;
// the engine counts a profile once, whichever of its ids came first.
func demoExposure(msg []byte, end time.Time) []byte {
	if !bytes.Contains(msg, []byte(`"Product Added"`)) {
		return nil
	}
	var m demoMsg
	if json.Unmarshal(msg, &m) != nil || m.Event != "Product Added" {
		return nil
	}
	who := m.UserID
	if who == "" {
		who = m.AnonymousID
	}
	if who == "" {
		return nil
	}
	at, err := time.Parse(time.RFC3339Nano, m.Timestamp)
	if err != nil || at.Before(end.Add(-demoExposureWindow)) {
		return nil
	}
	x := demoCartSubjectTest()
	w := make([]uint32, len(x.Variants))
	for i, v := range x.Variants {
		w[i] = v.Weight
	}
	v := x.Variants[experiment.Assign(x.ID, who, w)].ID
	out := map[string]any{"type": "track", "event": experiment.ExposureEvent,
		"messageId": "demo-exp-" + x.ID + "-" + who, "timestamp": at.Add(time.Hour).Format(time.RFC3339Nano),
		"properties": map[string]any{"experiment_id": x.ID, "variant": v, "journey": demoCartJourney, "step": demoCartStep}}
	if m.UserID != "" {
		out["userId"] = m.UserID
	}
	if m.AnonymousID != "" {
		out["anonymousId"] = m.AnonymousID
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	return b
}

// demoSubjectTestJourney makes the abandoned-cart journey's first email
// the demo experiment's, with variant b's template saved beside a's:
// new carts keep splitting between the subject lines.
func demoSubjectTestJourney(srv *server.Server, j *journey.Journey) {
	if j.ID != demoCartJourney {
		return
	}
	a, err := srv.Messages.Templates.Get(demoCartTemplate, 0)
	if err != nil {
		slog.Error("demo experiment: template a", "err", err)
		return
	}
	b := a
	b.ID, b.Name, b.Version = demoCartTemplateB, "Cart reminder (subject line b)", 0
	b.Subject = "Still thinking it over, {{ profile.traits.first_name }}?"
	b.Locales = maps.Clone(a.Locales)
	if fr, ok := b.Locales["fr"]; ok {
		fr.Subject = "Vous hésitez encore, {{ profile.traits.first_name }} ?"
		b.Locales["fr"] = fr
	}
	if _, err := srv.Messages.Templates.Save(b, true); err != nil && !errors.Is(err, message.ErrExists) {
		slog.Error("demo experiment: template b", "err", err)
		return
	}
	for _, s := range j.Steps {
		if s.ID == demoCartStep {
			s.Experiment = demoExperiment
			s.Templates = map[string]string{"a": demoCartTemplate, "b": demoCartTemplateB}
		}
	}
	fmt.Printf("tailor: demo experiment %q runs on the %s journey (GET /api/experiments/%s/results)\n", demoExperiment, demoCartJourney, demoExperiment)
}
