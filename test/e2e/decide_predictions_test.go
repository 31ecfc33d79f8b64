package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDecideReadsPredictions runs `tailor serve --demo` and previews the
// demo's account_offer placement, whose rules read the model's
// predictions, for customers of the predictions report: one with a churn
// risk over 0.7 gets the win-back offer, one in the top 10 % by CLV with a
// low risk the top-value offer, a visitor the default.
func TestDecideReadsPredictions(t *testing.T) {
	s := startServer(t, t.TempDir(), "--demo")
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(s.stdout.String(), "demo placements saved") {
		if time.Now().After(deadline) {
			t.Fatalf("serve --demo printed no `demo placements saved` line:\n%s", s.stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	type customer struct {
		Profile       string  `json:"profile"`
		PAlive        float64 `json:"p_alive"`
		CLVPercentile int     `json:"clv_percentile"`
	}
	var rep struct {
		Top    []customer `json:"top"`
		AtRisk []customer `json:"at_risk"`
	}
	code, body := s.adminGet(t, "/api/predictions", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /api/predictions: %d %s", code, body)
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("predictions report: %v\n%s", err, body)
	}
	preview := func(profile string) string {
		t.Helper()
		code, out := s.adminSend(t, http.MethodPost, "/api/placements/account_offer/preview", map[string]any{"profile": profile})
		if code != http.StatusOK {
			t.Fatalf("preview for %q: %d %s", profile, code, out)
		}
		var a struct {
			Placements []struct {
				Variant struct {
					ID string `json:"id"`
				} `json:"variant"`
			} `json:"placements"`
		}
		if err := json.Unmarshal(out, &a); err != nil || len(a.Placements) != 1 {
			t.Fatalf("preview answer: %s", out)
		}
		return a.Placements[0].Variant.ID
	}
	checked := 0
	for _, c := range rep.AtRisk {
		if 1-c.PAlive > 0.71 {
			if v := preview(c.Profile); v != "win_back" {
				t.Errorf("%s with churn risk %.2f: %s, want win_back", c.Profile, 1-c.PAlive, v)
			}
			checked++
			break
		}
	}
	for _, c := range rep.Top {
		if c.CLVPercentile >= 90 && 1-c.PAlive < 0.69 {
			if v := preview(c.Profile); v != "top_value" {
				t.Errorf("%s with CLV percentile %d and churn risk %.2f: %s, want top_value", c.Profile, c.CLVPercentile, 1-c.PAlive, v)
			}
			checked++
			break
		}
	}
	if checked != 2 {
		t.Fatalf("the demo's report has no customer for one of the rules: %s", body)
	}
	if v := preview(""); v != "standard" {
		t.Errorf("a new visitor: %s, want standard", v)
	}
}
