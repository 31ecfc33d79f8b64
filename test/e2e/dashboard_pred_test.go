package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDashboardPred drives the predictions in a headless Chromium against
// `tailor serve --demo`: the /predictions page against GET /api/predictions,
// a top customer's predictions card against its computed fields, and a
// clv_percentile rule (test/sdk/dashboard-pred.mjs).
func TestDashboardPred(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	const password = "pred-dashboard-e2e-pw"
	s := startServer(t, t.TempDir(), "--demo", "--admin-password", password)
	// The models are refreshed (and the predictions fitted) before the demo
	// segments are saved.
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(s.stdout.String(), "demo journeys saved") {
		if time.Now().After(deadline) {
			t.Fatalf("serve --demo printed no `demo journeys saved` line:\n%s", s.stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Setenv("CHROMIUM", chrome)
	out, err := runNode(t, node, 90*time.Second, filepath.Join(sdkDir(), "dashboard-pred.mjs"),
		"--url", s.URL, "--email", "admin@tailor.local", "--password", password, "--token", s.AdminToken)
	if err != nil {
		s.fatalf(t, "dashboard scenario failed (%v):\n%s", err, out)
	}
	t.Logf("dashboard scenario: %s", out)
}
