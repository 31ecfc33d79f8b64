package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDashboardDecide drives the placement pages in a headless Chromium
// against `tailor serve --demo`: the list and a placement's figures against
// the API, adding and reordering a rule, the preview of a new and a
// returning visitor, creating a placement (test/sdk/dashboard-decide.mjs).
func TestDashboardDecide(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	const password = "decide-dashboard-e2e-pw"
	s := startServer(t, t.TempDir(), "--demo", "--admin-password", password)
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(s.stdout.String(), "demo placements saved") {
		if time.Now().After(deadline) {
			t.Fatalf("serve --demo printed no `demo placements saved` line:\n%s", s.stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Setenv("CHROMIUM", chrome)
	out, err := runNode(t, node, 90*time.Second, filepath.Join(sdkDir(), "dashboard-decide.mjs"),
		"--url", s.URL, "--email", "admin@tailor.local", "--password", password, "--token", s.AdminToken, "--write-key", s.WriteKey)
	if err != nil {
		s.fatalf(t, "dashboard scenario failed (%v):\n%s", err, out)
	}
	t.Logf("dashboard scenario: %s", out)
}
