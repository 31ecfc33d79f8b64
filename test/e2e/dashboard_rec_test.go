package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestDashboardRec drives the recommendations page in a headless Chromium
// against `tailor serve --demo`: also bought and for you (with filters) as
// the API answers them, a purchase that removes the product from the next
// preview, a bundle with its saving and the evaluation table
// (test/sdk/dashboard-rec.mjs).
func TestDashboardRec(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	const password = "rec-dashboard-e2e-pw"
	s := startServer(t, t.TempDir(), "--demo", "--admin-password", password)
	// The example customer is printed once its orders are applied.
	example := regexp.MustCompile(`example customer: (\S+) `)
	deadline := time.Now().Add(120 * time.Second)
	var user string
	for user == "" {
		if m := example.FindStringSubmatch(s.stdout.String()); m != nil {
			user = m[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve --demo printed no example customer:\n%s", s.stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Setenv("CHROMIUM", chrome)
	out, err := runNode(t, node, 120*time.Second, filepath.Join(sdkDir(), "dashboard-rec.mjs"),
		"--url", s.URL, "--email", "admin@tailor.local", "--password", password, "--token", s.AdminToken,
		"--write-key", s.WriteKey, "--user", user)
	if err != nil {
		s.fatalf(t, "dashboard scenario failed (%v):\n%s", err, out)
	}
	t.Logf("dashboard scenario: %s", out)
}
