package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// offersSummary is what offers-client.mjs prints.
type offersSummary struct {
	Visitors []struct {
		Name        string
		AnonymousID string `json:"anonymousId"`
		Hero, Exit  struct{ Variant, Text string }
		Recs        []string
		ExitBefore  int  `json:"exitBefore"`
		ExitAfter   int  `json:"exitAfterClick"`
		ExitAgain   int  `json:"exitAgain"`
		ClickStatus int  `json:"clickStatus"`
		Converted   bool `json:"converted"`
		Calls       []struct {
			Method, Path string
			Status       int
			AllowOrigin  *string `json:"allowOrigin"`
			Body         string
		}
	}
	Errors, Console []string
}

// TestOffersSnippetBrowser loads the offers snippet from Tailor on a shop
// page of another origin in headless Chromium, for a new visitor and for a
// returning customer: each sees the demo's offer for them, exit intent
// opens it, and the impressions and clicks reach the visitor's profile.
func TestOffersSnippetBrowser(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s", chrome)
	}
	s := startServer(t, t.TempDir(), "--demo", "--demo-customers", "60")
	defer s.stopClean(t)
	var list struct{ Placements []struct{ ID string } }
	deadline := time.Now().Add(60 * time.Second)
	for len(list.Placements) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the demo placements were not saved: %v\n%s", list, tail(s.stdout.String(), 20))
		}
		time.Sleep(200 * time.Millisecond)
		s.adminGet(t, "/api/placements", &list)
	}

	// A returning customer: one small order, so not in the top tier.
	user := "offers-returning-1"
	now := time.Now().UTC().Format(time.RFC3339Nano)
	code, body := s.postEvents(t, "/v1/batch", map[string]any{"batch": []map[string]any{{"type": "track", "userId": user, "event": "Order Completed",
		"properties": map[string]any{"order_id": "o-1", "revenue": 40}, "timestamp": now}}})
	if code != 200 {
		t.Fatalf("order: %d %s", code, body)
	}
	s.waitProfile(t, user, 0, func(p *Profile) error {
		if p.Computed.Orders != 1 {
			return fmt.Errorf("orders %d", p.Computed.Orders)
		}
		return nil
	})

	page := `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<script>var q = new URLSearchParams(location.search); window.tailorOffers = {userId: q.get('userId') || undefined}</script>
<script src="TAILOR/v1/snippet.js" data-write-key="KEY" data-exit-placement="exit_offer"></script>
</head><body><h1>A shop on another origin</h1><div id="hero" data-tailor-placement="home_hero"></div>
<div id="recs" data-tailor-placement="home_recs"></div></body></html>`
	page = strings.NewReplacer("TAILOR", s.URL, "KEY", s.WriteKey).Replace(page)
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}))
	defer shop.Close()

	args := []string{"--shop", shop.URL, "--user", user, "--chromium", chrome}
	if os.Getenv("TAILOR_SHOTS") == "1" {
		args = append(args, "--shots")
	}
	out, runErr := runNode(t, node, 90*time.Second, "offers-client.mjs", args...)
	var sum offersSummary
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("offers-client.mjs (%v) printed no JSON: %v\n%s", runErr, err, out)
	}
	if runErr != nil || len(sum.Errors) > 0 || len(sum.Visitors) != 2 {
		t.Fatalf("browser run failed (%v): %s\nconsole:\n%s", runErr, strings.Join(sum.Errors, "\n"), strings.Join(sum.Console, "\n"))
	}
	want := map[string]struct{ exit, text, hero string }{
		"new":       {"free_shipping", "FREESHIP", "novice"},
		"returning": {"ten_off", "BACK10", "novice"},
	}
	for _, v := range sum.Visitors {
		w := want[v.Name]
		if v.Exit.Variant != w.exit || !strings.Contains(v.Exit.Text, w.text) {
			t.Errorf("%s visitor: exit offer %+v, want %s with %s", v.Name, v.Exit, w.exit, w.text)
		}
		if v.Hero.Variant != w.hero || !strings.Contains(v.Hero.Text, "bestsellers") {
			t.Errorf("%s visitor: hero %+v, want %s", v.Name, v.Hero, w.hero)
		}
		if len(v.Recs) != 4 {
			t.Errorf("%s visitor: %d recommended products, want 4: %q", v.Name, len(v.Recs), v.Recs)
		}
		if v.ExitBefore != 0 || v.ExitAfter != 0 || v.ExitAgain != 0 || v.ClickStatus != 200 {
			t.Errorf("%s visitor: exit offer shown before the exit (%d), after its click (%d) or twice (%d); click status %d",
				v.Name, v.ExitBefore, v.ExitAfter, v.ExitAgain, v.ClickStatus)
		}
		decided := false
		for _, c := range v.Calls {
			if c.Status != 200 || c.AllowOrigin == nil || *c.AllowOrigin != "*" {
				t.Errorf("%s visitor: %s %s answered %d with Access-Control-Allow-Origin %v", v.Name, c.Method, c.Path, c.Status, c.AllowOrigin)
			}
			decided = decided || c.Path == "/v1/decide"
		}
		if !decided {
			t.Errorf("%s visitor: the page never called /v1/decide", v.Name)
		}
	}
	// The impressions (hero, products row, exit offer), the click and the
	// conversion are events of each visitor's profile, and the exit offer's
	// figures count them.
	who := map[string]string{"new": sum.Visitors[0].AnonymousID, "returning": user}
	for name, id := range who {
		s.waitProfile(t, id, 0, func(p *Profile) error {
			c := p.Computed.EventCounts
			if c["Placement Viewed"] != 3 || c["Placement Clicked"] != 1 || c["Placement Converted"] != 1 {
				return fmt.Errorf("%s visitor: event_counts %v, want 3 Placement Viewed, 1 Placement Clicked and 1 Placement Converted", name, c)
			}
			return nil
		})
	}
	var st struct {
		Days []struct{ Impressions, Clicks, Conversions int }
	}
	s.adminGet(t, "/api/placements/exit_offer/stats?days=1", &st)
	if len(st.Days) != 1 || st.Days[0].Impressions != 2 || st.Days[0].Clicks != 2 || st.Days[0].Conversions < 2 {
		t.Errorf("exit_offer figures %+v, want 2 impressions, 2 clicks and at least 2 conversions", st.Days)
	}
}
