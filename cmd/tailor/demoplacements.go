package main

import (
	"fmt"
	"log/slog"

	"tailor/internal/decide"
	"tailor/internal/server"
)

// saveDemoPlacements saves the demo store's placements and geo table,
// after its segments (rules refer to them).
func saveDemoPlacements(srv *server.Server) {
	if err := srv.Placements.SetGeo(decide.DemoGeo()); err != nil {
		slog.Error("saving demo geo table", "err", err)
	}
	n := 0
	for _, p := range decide.DemoPlacements() {
		if _, err := srv.Placements.Put(p, false); err != nil {
			slog.Error("saving demo placement", "placement", p.ID, "err", err)
			continue
		}
		n++
	}
	fmt.Printf("tailor: %d demo placements saved (GET /api/placements)\n", n)
}
