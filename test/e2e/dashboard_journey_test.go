package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDashboardJourney drives the journey pages in a headless Chromium
// against `tailor serve --demo`: the list against the API, a journey's
// graph against its steps and stats after two carts entered, a dry run against the API's, and
// publishing a draft (test/sdk/dashboard-journey.mjs).
func TestDashboardJourney(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	const password = "journey-dashboard-e2e-pw"
	s := startServer(t, t.TempDir(), "--demo", "--admin-password", password)
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(s.stdout.String(), "demo journeys saved") {
		if time.Now().After(deadline) {
			t.Fatalf("serve --demo printed no `demo journeys saved` line:\n%s", s.stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Setenv("CHROMIUM", chrome)
	out, err := runNode(t, node, 90*time.Second, filepath.Join(sdkDir(), "dashboard-journey.mjs"),
		"--url", s.URL, "--email", "admin@tailor.local", "--password", password, "--token", s.AdminToken, "--write-key", s.WriteKey)
	if err != nil {
		s.fatalf(t, "dashboard scenario failed (%v):\n%s", err, out)
	}
	t.Logf("dashboard scenario: %s", out)
}
