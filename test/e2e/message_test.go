package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMessagePreferences runs the real binary (`tailor serve --demo`) and
// test/sdk/dashboard-msg.mjs in headless Chromium: consent set through the
// API shows in the preference center, a choice changed there (without
// JavaScript, as a customer opening the signed link) is what the API then
// reports, and the profile page shows it; the template editor reports a
// parse error at its line and column and previews the customer's name. It
// writes the screenshots template-editor, templates, preference-center and
// preference-center-390 of docs/screenshots.
func TestMessagePreferences(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	const password = "msg-dashboard-e2e-pw"
	s := startServer(t, t.TempDir(), "--demo", "--demo-customers", "200", "--admin-password", password)
	waitExampleCustomer(t, s)
	customer := exampleLine.FindStringSubmatch(s.stdout.String())[1]

	t.Setenv("CHROMIUM", chrome)
	out, err := runNode(t, node, 90*time.Second, filepath.Join(sdkDir(), "dashboard-msg.mjs"),
		"--url", s.URL, "--email", "admin@tailor.local", "--password", password,
		"--token", s.AdminToken, "--customer", customer)
	if err != nil {
		s.fatalf(t, "message scenario failed (%v):\n%s", err, out)
	}
	t.Logf("message scenario: %s", out)
}
