package server

import (
	"context"
	"log/slog"
	"time"

	"tailor/internal/event"
)

// backfill brings the engines that found no state of their own (a store
// made by a version without them) up to the checkpoint at seq from, before
// the server goes live: a warming-up state would make every reader of
// those engines (decide, templates, the admin API) say so, and the
// processor would have to hold live events back until the history is
// folded in anyway, since an applier sees events in log order. It runs once
// per engine and store, at about the speed of a replay.
//
// Events reach the engines with the profile their primary identifier
// belongs to now, looked up read-only: the profiles already reflect them.
func (s *Server) backfill(ctx context.Context, from uint64) error {
	names := s.Proc.Backfilling()
	if len(names) == 0 {
		return nil
	}
	if from > 0 {
		slog.Info("building engines the store has no state of from the log", "engines", names, "events", from)
	}
	start := time.Now()
	bs, err := s.Proc.Backfill(ctx, s.Log, s.db, func(e *event.Event) (string, bool) {
		id, _, _, ok := s.Store.IdentityKeys(e.PrimaryID().Key(), 0)
		return id, ok
	}, func(done, total uint64) {
		slog.Info("building engines from the log", "events", done, "of", total)
	})
	if err != nil {
		return err
	}
	if bs.Events > 0 {
		slog.Info("engines built from the log", "engines", bs.Appliers, "events", bs.Events, "skipped", bs.Skipped,
			"to_seq", from, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}
