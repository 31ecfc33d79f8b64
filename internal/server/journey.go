package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"tailor/internal/event"
	"tailor/internal/journey"
	"tailor/internal/profile"
)

// openJourneys makes the journey engine, loads its state and registers it
// after the segment engine (it reads memberships and evaluates rules).
func (s *Server) openJourneys() error {
	s.Journeys = journey.New(s.journeyOptions())
	if err := s.Journeys.Load(); err != nil {
		return err
	}
	s.Proc.Register(s.Journeys)
	return nil
}

func (s *Server) journeyOptions() journey.Options {
	var out journey.Enqueuer = s.Enqueuer()
	if s.cfg.JourneyOutbox != nil {
		out = s.cfg.JourneyOutbox
	}
	holdout := s.globalHoldoutPercent()
	holdoutExp := ""
	if holdout > 0 {
		holdoutExp = globalHoldoutID(holdout)
	}
	return journey.Options{
		DB: s.db, Outbox: out, Record: s.recordJourney, Segments: s.Segments,
		SegmentExists: func(id string) bool { _, ok := s.Segments.Get(id); return ok },
		Profiles:      s.Store, Event: s.Log.Get, GlobalHoldout: holdout,
		Experiments: s.Experiments, ExperimentVariants: s.Experiments.Variants, GlobalHoldoutExperiment: holdoutExp,
		TimeScale: s.cfg.JourneyTimeScale,
	}
}

func (s *Server) journeysHandler() http.Handler {
	return (&journey.HTTP{Engine: s.Journeys, Lookup: s.lookupProfile,
		DryRun: func(ctx context.Context, j *journey.Journey, days int) (*journey.DryRunResult, error) {
			return journey.DryRun(ctx, j, days, s.Log, s.Store, s.journeyOptions())
		}}).Handler()
}

// recordJourney appends the journey engine's events to the log as the
// profile's own (its userId, else an anonymousId), like segment changes.
func (s *Server) recordJourney(ctx context.Context, rs []journey.Record) error {
	msgs := make([][]byte, 0, len(rs))
	for _, r := range rs {
		m := map[string]any{"type": r.Type, "messageId": r.MessageID, "timestamp": r.At.UTC().Format(time.RFC3339Nano)}
		if r.Type == "track" {
			m["event"], m["properties"] = r.Event, r.Properties
		} else {
			m["traits"] = r.Traits
		}
		if r.Profile == "" {
			m["anonymousId"] = r.AnonymousID
		} else {
			var who event.Identifier
			s.Store.View(r.Profile, func(_ *profile.State, ids []event.Identifier) {
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
			switch {
			case who.Value == "":
				continue // merged away meanwhile
			case who.Kind == event.KindUserID:
				m["userId"] = who.Value
			default:
				m["anonymousId"] = who.Value
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		msgs = append(msgs, b)
	}
	if len(msgs) == 0 {
		return nil
	}
	return s.Ingest.AppendInternal(ctx, msgs)
}
