package server

import (
	"context"
	"fmt"

	"tailor/internal/live"
	"tailor/internal/stats"
)

// openDashboardData makes the live events hub and the stats sampler (which
// loads its saved history).
func (s *Server) openDashboardData() error {
	s.Live = live.NewHub(live.DefaultMaxSubscribers, live.DefaultBuffer)
	s.Ingest.Live = s.Live
	var err error
	if s.Stats, err = stats.New(stats.Options{Read: s.readStats, DB: s.db}); err != nil {
		return fmt.Errorf("open stats: %w", err)
	}
	return nil
}

// readStats is one reading of the figures the overview charts: each is an
// atomic load or a short lock, cheap enough for every GET /api/stats.
func (s *Server) readStats() stats.Reading {
	c := s.Ingest.Counts()
	entered, exited := s.Segments.Moves()
	return stats.Reading{
		Accepted: c.Accepted, Applied: s.Proc.AppliedEvents(), Rejected: c.Rejected,
		Entered: entered, Exited: exited,
		Profiles: int64(s.Store.Len()), LagEvents: s.Proc.LagEvents(), LagSeconds: s.Proc.LagSeconds(),
	}
}

// startStats samples until bg ends; the sampler saves its history then,
// before Close closes the store (Close waits for bgWG first).
func (s *Server) startStats(bg context.Context) {
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		s.Stats.Run(bg)
	}()
}
