package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"tailor/internal/event"
	"tailor/internal/experiment"
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
// profile's own event; a profile merged away meanwhile is skipped.
func (s *Server) recordExposures(ctx context.Context, xs []experiment.Exposure) error {
	msgs := make([][]byte, 0, len(xs))
	for _, x := range xs {
		who := s.primaryIdentifier(x.Profile)
		if who.Value == "" {
			continue
		}
		m := map[string]any{"type": "track", "event": experiment.ExposureEvent, "properties": x.Properties(),
			"messageId": "exp-" + x.Experiment + "-" + x.Profile, "timestamp": x.At.UTC().Format(time.RFC3339Nano)}
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
