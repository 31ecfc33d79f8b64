package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDashboardLayout opens every dashboard page in headless Chromium at
// 1280 and 390 px (test/sdk/dashboard-layout.mjs): none shows an error or
// is wider than the window, the nav column's background reaches the bottom
// of every page and the nav stays in view while scrolling, the phone's menu
// opens from the top bar; Tab shows where the focus is; a missing profile,
// segment or product is said in words.
func TestDashboardLayout(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	s := startServer(t, t.TempDir(), "--demo")
	deadline := time.Now().Add(30 * time.Second)
	var m, ex []string
	for {
		m, ex = dashboardLine.FindStringSubmatch(s.stdout.String()), exampleLine.FindStringSubmatch(s.stdout.String())
		if m != nil && ex != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dashboard and example customer lines on the first start's stdout:\n%s", s.stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Setenv("CHROMIUM", chrome)
	out, err := runNode(t, node, 120*time.Second, filepath.Join(sdkDir(), "dashboard-layout.mjs"),
		"--url", s.URL, "--email", m[2], "--password", m[3], "--token", s.AdminToken, "--customer", ex[1])
	if err != nil {
		s.fatalf(t, "dashboard layout scenario failed (%v):\n%s", err, out)
	}
	t.Logf("dashboard layout scenario: %s", out)
}
