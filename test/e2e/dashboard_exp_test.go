package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDashboardExp drives the experiment pages in headless Chromium
// (test/sdk/dashboard-exp.mjs) against `tailor serve --demo`: two
// experiments created and started through the API get exposures and
// conversions as events through the Tracking API (and one exposure through
// POST /api/experiments/{id}/expose, which the engine logs itself); the
// list shows the API's exposure counts, the experiment page shows the
// API's verdict, variants, metric rows and the effect chart, the
// unbalanced one shows its sample-ratio warning and the balanced one none,
// and Stop on the page stops it. Screenshots exp-list, exp-detail,
// exp-srm and exp-detail-390 in docs/screenshots.
func TestDashboardExp(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	const password = "exp-dashboard-e2e-pw"
	s := startServer(t, t.TempDir(), "--demo", "--admin-password", password)
	waitExampleCustomer(t, s)
	t.Setenv("CHROMIUM", chrome)
	out, err := runNode(t, node, 90*time.Second, filepath.Join(sdkDir(), "dashboard-exp.mjs"),
		"--url", s.URL, "--email", "admin@tailor.local", "--password", password,
		"--token", s.AdminToken, "--write-key", s.WriteKey)
	if err != nil {
		s.fatalf(t, "dashboard scenario failed (%v):\n%s", err, out)
	}
	t.Logf("dashboard scenario: %s", out)
}
