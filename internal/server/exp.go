package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tailor/internal/event"
	"tailor/internal/experiment"
	"tailor/internal/journey"
	"tailor/internal/profile"
)

// openExperiments makes the experiment engine, loads its state and
// registers it with the processor (it reads only resolutions and events).
func (s *Server) openExperiments() error {
	s.Experiments = experiment.New(experiment.Options{DB: s.db, Record: s.recordExposure,
		RecordBatch: s.recordExposures})
	if err := s.Experiments.Load(); err != nil {
		return err
	}
	s.Proc.Register(s.Experiments)
	return s.ensureGlobalHoldout()
}

// globalHoldoutPercent is the configured global holdout (--holdout).
func (s *Server) globalHoldoutPercent() float64 {
	if s.cfg.GlobalHoldout != 0 {
		return s.cfg.GlobalHoldout
	}
	return s.cfg.Delivery.HoldoutPercent
}

// globalHoldoutPrefix begins the ids of the global holdout's experiments;
// the rest is the percentage, so that a new --holdout starts a new
// experiment (a running one's weights cannot change) and the old one's
// results stay readable.
const globalHoldoutPrefix = "global-holdout-"

// globalHoldoutID is the id of the experiment measuring a global holdout
// of pct percent ("global-holdout-5pct").
func globalHoldoutID(pct float64) string {
	return globalHoldoutPrefix + strconv.FormatFloat(pct, 'f', -1, 64) + "pct"
}

// ensureGlobalHoldout makes --holdout an experiment of kind holdout: the
// same buckets as the delivery policy (profile bucketing), control
// "held_out", goals orders and revenue. It is created and started when
// missing; one the user stopped stays stopped (the flag alone then holds
// out, unmeasured). Running ones of another percentage are stopped.
func (s *Server) ensureGlobalHoldout() error {
	pct := s.globalHoldoutPercent()
	id := ""
	if pct > 0 {
		id = globalHoldoutID(pct)
	}
	for _, inf := range s.Experiments.List() {
		if strings.HasPrefix(inf.ID, globalHoldoutPrefix) && inf.ID != id && inf.Status == experiment.StatusRunning {
			if _, err := s.Experiments.Stop(inf.ID); err != nil {
				return fmt.Errorf("stop the old global holdout experiment: %w", err)
			}
			slog.Info("global holdout changed: its old experiment stopped", "experiment", inf.ID)
		}
	}
	if id == "" {
		return nil
	}
	inf, err := s.Experiments.Get(id)
	if errors.Is(err, experiment.ErrNotFound) {
		bp := uint32(math.Ceil(pct * 100)) // bucket b is held out when b < pct*100
		pre := 0
		inf, err = s.Experiments.Create(experiment.Experiment{ID: id, Kind: experiment.KindHoldout,
			Name:        fmt.Sprintf("Global holdout (%v %%)", pct),
			Description: "The profiles --holdout keeps out of every journey message (control), against those messaged.",
			Bucketing:   experiment.BucketProfile,
			Variants: []experiment.Variant{{ID: journey.HeldOutVariant, Name: "Held out", Weight: bp},
				{ID: "messaged", Name: "Messaged", Weight: experiment.ProfileBuckets - bp}},
			Metrics: []experiment.Metric{{ID: "purchase", Kind: experiment.MetricConversion, Event: "Order Completed"},
				{ID: "revenue", Kind: experiment.MetricRevenue}},
			WindowHours: 24 * 30, PreDays: &pre})
	}
	if err != nil {
		return fmt.Errorf("global holdout experiment: %w", err)
	}
	if inf.Status == experiment.StatusDraft {
		if _, err := s.Experiments.Start(id); err != nil {
			return fmt.Errorf("start the global holdout experiment: %w", err)
		}
	}
	return nil
}

// experimentRoutes adds /api/experiments to mux behind the admin guard.
func (s *Server) experimentRoutes(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	h := guard((&experiment.HTTP{Engine: s.Experiments, Lookup: s.lookupProfile}).Handler())
	mux.Handle("/api/experiments", h)
	mux.Handle("/api/experiments/", h)
}

// startExperiments logs the exposures queued by ExposeAsync until bg ends,
// then flushes the rest: Close waits for it before closing the log.
func (s *Server) startExperiments(bg context.Context) {
	s.Registry.MustRegister(s.Experiments.Collectors()...)
	s.bgWG.Go(func() { s.Experiments.RunExposures(bg) })
}

// recordExposures appends queued exposures in one batch, each as its
// profile's own event; a profile merged away meanwhile is skipped. The
// engine's in-flight set already keeps one per profile, so message ids
// are unique: one derived from the experiment and profile would make the
// log drop the exposures of an experiment deleted and re-created under
// the same id within its de-duplication window.
func (s *Server) recordExposures(ctx context.Context, xs []experiment.Exposure) error {
	msgs := make([][]byte, 0, len(xs))
	for _, x := range xs {
		who := s.primaryIdentifier(x.Profile)
		if who.Value == "" {
			continue
		}
		m := map[string]any{"type": "track", "event": experiment.ExposureEvent, "properties": x.Properties(),
			"messageId": "exp-" + rand.Text(), "timestamp": x.At.UTC().Format(time.RFC3339Nano)}
		if who.Kind == event.KindUserID {
			m["userId"] = who.Value
		} else {
			m["anonymousId"] = who.Value
		}
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode exposure: %w", err)
		}
		msgs = append(msgs, b)
	}
	if len(msgs) == 0 {
		return nil
	}
	return s.Ingest.AppendInternal(ctx, msgs)
}

// recordExposure appends an "Experiment Viewed" event as the profile's own
// (its userId, else an anonymousId), like the journey engine's records.
func (s *Server) recordExposure(ctx context.Context, profileID string, props map[string]any) error {
	var who event.Identifier
	s.Store.View(profileID, func(_ *profile.State, ids []event.Identifier) {
		for _, id := range ids {
			if id.Kind == event.KindUserID {
				who = id
				return
			}
			if id.Kind == event.KindAnonymousID && who.Value == "" {
				who = id
			}
		}
	})
	m := map[string]any{"type": "track", "event": experiment.ExposureEvent, "properties": props,
		"messageId": "exp-" + rand.Text(), "timestamp": time.Now().UTC().Format(time.RFC3339Nano)}
	switch {
	case who.Kind == event.KindUserID:
		m["userId"] = who.Value
	case who.Value != "":
		m["anonymousId"] = who.Value
	default:
		return fmt.Errorf("profile %q has no userId or anonymousId to file the exposure under", profileID)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.Ingest.AppendInternal(ctx, [][]byte{b})
}
