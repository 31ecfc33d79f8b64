package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// shotCall is a screenshot a dashboard scenario takes: shot(page, 'name'...), on any page object.
var shotCall = regexp.MustCompile(`\bshot\(\s*\w+\s*,\s*([^,)]*)`)

// readmeShot is a screenshot the README shows.
var readmeShot = regexp.MustCompile(`\]\(docs/screenshots/([^)]+)\.png\)`)

// The dashboard scenarios name their screenshots with fixed names, each
// once, so that a run replaces the committed pictures instead of adding new
// files; each has its committed file; and the README shows only pictures
// that exist and that a scenario keeps up to date, among them every page
// family's.
func TestDashboardScreenshotsAreNamedAndShown(t *testing.T) {
	scripts, err := filepath.Glob(filepath.Join(sdkDir(), "dashboard-*.mjs"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no dashboard scenarios in %s (%v)", sdkDir(), err)
	}
	literal := regexp.MustCompile(`^'([a-z0-9-]+)'$`)
	made := map[string]string{} // name -> script
	for _, script := range scripts {
		src, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range shotCall.FindAllStringSubmatch(string(src), -1) {
			arg := strings.TrimSpace(m[1])
			if filepath.Base(script) == "dashboard-lib.mjs" {
				continue // the helper itself
			}
			n := literal.FindStringSubmatch(arg)
			if n == nil {
				t.Errorf("%s: shot(page, %s): name it with a fixed lower-case string", filepath.Base(script), arg)
				continue
			}
			if other, dup := made[n[1]]; dup {
				t.Errorf("screenshot %q is taken by %s and %s", n[1], other, filepath.Base(script))
			}
			made[n[1]] = filepath.Base(script)
		}
	}
	if len(made) < 10 {
		t.Fatalf("the scenarios take %d screenshots (%v); the pattern no longer finds their shot calls", len(made), made)
	}
	dir := filepath.Join(repoRoot, "docs", "screenshots")
	for name, script := range made {
		if _, err := os.Stat(filepath.Join(dir, name+".png")); err != nil {
			t.Errorf("%s takes %q, which has no committed docs/screenshots/%s.png", script, name, name)
		}
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	for _, m := range readmeShot.FindAllStringSubmatch(string(readme), -1) {
		shown = append(shown, m[1])
		if _, ok := made[m[1]]; !ok {
			t.Errorf("the README shows docs/screenshots/%s.png, which no dashboard scenario takes", m[1])
		}
	}
	for _, main := range []string{"login", "overview", "profile", "segment-builder", "segment-page", "events", "sources", "catalog"} {
		if !slices.Contains(shown, main) {
			t.Errorf("the README does not show the %s screenshot", main)
		}
	}
}
