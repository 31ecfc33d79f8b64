package main

import (
	"fmt"
	"log/slog"

	"tailor/internal/journey"
	"tailor/internal/server"
)

// saveDemoJourneys saves the ready-made journeys of the demo store, after
// its segments (some journeys start on entering one). Saved after the
// demo's history is loaded, they act on new events only.
func saveDemoJourneys(srv *server.Server) {
	n := 0
	for _, j := range journey.DemoJourneys() {
		demoSubjectTestJourney(srv, &j)
		if _, err := srv.Journeys.Create(j); err != nil {
			slog.Error("saving demo journey", "journey", j.ID, "err", err)
			continue
		}
		n++
	}
	fmt.Printf("tailor: %d demo journeys saved (GET /api/journeys)\n", n)
}
