package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDashboardExp2Demo opens the demo's experiment on a fresh `tailor
// serve --demo` store in headless Chromium (test/sdk/dashboard-exp2.mjs):
// with no setup, its page shows the API's verdict, both variants' units,
// the metric tables and the chart. Screenshot exp2-demo-experiment.
func TestDashboardExp2Demo(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	const password = "exp2-dashboard-e2e-pw"
	s := startServer(t, t.TempDir(), "--demo", "--admin-password", password)
	waitExampleCustomer(t, s)
	t.Setenv("CHROMIUM", chrome)
	out, err := runNode(t, node, 60*time.Second, filepath.Join(sdkDir(), "dashboard-exp2.mjs"),
		"--url", s.URL, "--email", "admin@tailor.local", "--password", password, "--token", s.AdminToken)
	if err != nil {
		s.fatalf(t, "dashboard scenario failed (%v):\n%s", err, out)
	}
	t.Logf("dashboard scenario: %s", out)
}
