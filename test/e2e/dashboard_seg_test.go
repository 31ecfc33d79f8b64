package e2e

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// segScenario is what dashboard-seg.mjs prints.
type segScenario struct {
	OK        bool     `json:"ok"`
	Steps     []string `json:"steps"`
	Count     int      `json:"count"`
	SettledMs int      `json:"settledMs"`
	Error     string   `json:"error"`
	Problems  []string `json:"problems"`
	URL       string   `json:"url"`
	Body      string   `json:"body"`
	Seconds   float64  `json:"seconds"`
}

// TestDashboardSeg drives the segment pages in a headless Chromium against
// `tailor serve --demo`: it builds a rule with clicks (spend tier, an event
// with a property filter, count and window, a negated event), checks the
// live count against POST /api/segments/preview, goes from text to builder
// and back, saves the segment, checks its page against the API and opens a
// member's "why" tree. Screenshots go to docs/screenshots.
func TestDashboardSeg(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	const password = "seg-e2e-password-1"
	args := []string{"--demo", "--demo-customers", "1000"}
	// Dashboard accounts come with the auth work; a server without them is
	// driven with the admin token instead of a login.
	help, _ := runTailorErr(t, 30*time.Second, "serve", "--help")
	login := strings.Contains(help, "admin-password")
	if login {
		args = append(args, "--admin-password", password)
	}
	s := startServer(t, t.TempDir(), args...)
	waitDemo(t, s)

	scriptArgs := []string{"--base", s.URL, "--token", s.AdminToken}
	if login {
		scriptArgs = append(scriptArgs, "--email", "admin@tailor.local", "--password", password)
	} else {
		t.Logf("this tailor has no --admin-password: the browser uses the admin token instead of logging in")
	}
	t.Setenv("CHROMIUM", chrome) // dashboard-lib.mjs reads it
	out, runErr := runNode(t, node, 90*time.Second, "dashboard-seg.mjs", scriptArgs...)
	var sum segScenario
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("dashboard-seg.mjs (%v) printed no JSON summary: %v\n%s", runErr, err, out)
	}
	for _, st := range sum.Steps {
		t.Logf("step: %s", st)
	}
	if runErr != nil || !sum.OK {
		t.Fatalf("dashboard-seg.mjs failed (%v) at %s: %s\nbrowser problems: %q\npage text:\n%s", runErr, sum.URL, sum.Error, sum.Problems, sum.Body)
	}
	if sum.Count < 1 {
		t.Errorf("the scenario's segment has %d members; want at least one to explain", sum.Count)
	}
	t.Logf("live count settled %d ms after the last click; scenario took %.1f s", sum.SettledMs, sum.Seconds)
}

// waitDemo waits for the line saying the demo segments are saved.
func waitDemo(t *testing.T, s *server) {
	t.Helper()
	waitStdoutWithin(t, s, demoSegmentsLine, demoLoadWait)
}

var demoSegmentsLine = regexp.MustCompile(`demo segments saved`)
