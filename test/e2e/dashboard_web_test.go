package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dashboardLine is what `tailor serve` prints on its first start: the
// dashboard's address and the admin account made for it.
var dashboardLine = regexp.MustCompile(`(?m)^tailor: dashboard: (\S+)\s+login: (\S+)\s+password: (\S+)\s*$`)

// TestDashboardWeb drives the dashboard in headless Chromium the way a
// marketer would (test/sdk/dashboard-web.mjs): log in with the password the
// first start printed, find the demo customer, open their profile (orders as
// the API counts them), scroll the timeline until more events load, expand
// one, follow a segment's "why?", add and remove a user, log out. It writes
// the screenshots of docs/screenshots (login, profiles, profile,
// profile-390, users).
func TestDashboardWeb(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	s := startServer(t, t.TempDir(), "--demo")

	var m []string
	deadline := time.Now().Add(30 * time.Second)
	for m = dashboardLine.FindStringSubmatch(s.stdout.String()); m == nil; m = dashboardLine.FindStringSubmatch(s.stdout.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no `tailor: dashboard: URL  login: EMAIL  password: PW` line on the first start's stdout:\n%s", s.stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := strings.TrimRight(m[1], "/"); got != s.URL {
		t.Errorf("dashboard line names %s, the server listens on %s", m[1], s.URL)
	}
	customer := waitExampleCustomer(t, s)[1]

	t.Setenv("CHROMIUM", chrome) // dashboard-lib.mjs's browser
	out, err := runNode(t, node, 90*time.Second, filepath.Join(sdkDir(), "dashboard-web.mjs"),
		"--url", s.URL, "--email", m[2], "--password", m[3], "--token", s.AdminToken, "--customer", customer)
	if err != nil {
		s.fatalf(t, "dashboard scenario failed (%v):\n%s", err, out)
	}
	t.Logf("dashboard scenario: %s", out)
}
