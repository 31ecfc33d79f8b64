package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDashboardLive drives the live helper's dashboard pages in headless
// Chromium (test/sdk/dashboard-live.mjs) against `tailor serve --demo`: the
// overview's profile count equals the API's; an event sent with
// @segment/analytics-node appears in the live events debugger with its
// JSON, type and source filters and pause work, and a refused message shows
// with its reason live and in the stored view; a source created in the UI
// has its key copied and accepted by the SDK, then, revoked in the UI, the
// SDK's next request is refused (401); the catalog's category tree and
// search list what the API lists, and a product page opens. It writes the
// screenshots overview, events, sources, catalog and overview-390 of
// docs/screenshots.
func TestDashboardLive(t *testing.T) {
	node := requireNode(t, "playwright-core", "@segment/analytics-node")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	const password = "live-dashboard-e2e-pw"
	s := startServer(t, t.TempDir(), "--demo", "--admin-password", password)
	// The figures settle once the demo store is applied: its example
	// customer line comes then.
	waitExampleCustomer(t, s)

	t.Setenv("CHROMIUM", chrome) // dashboard-lib.mjs's browser
	out, err := runNode(t, node, 90*time.Second, filepath.Join(sdkDir(), "dashboard-live.mjs"),
		"--url", s.URL, "--email", "admin@tailor.local", "--password", password,
		"--token", s.AdminToken, "--write-key", s.WriteKey)
	if err != nil {
		s.fatalf(t, "dashboard scenario failed (%v):\n%s", err, out)
	}
	t.Logf("dashboard scenario: %s", out)
}
