package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The predictions API: a refit asked for on too few customers is a 409 that
// says so; with enough, the fit serves the report and the profile's
// computed fields, and a restart serves the same fit without refitting.
func TestPredictionsAPIFitsServesAndSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	refresh := func() (int, map[string]any) {
		req, _ := http.NewRequest("POST", n.url+"/api/predictions/refresh", nil)
		req.Header.Set("Authorization", "Bearer tok")
		return n.do(req)
	}
	if code, m := refresh(); code != 409 || m["code"] != "not_enough_data" || !strings.Contains(m["error"].(string), "customers") {
		t.Fatalf("refresh without customers: %d %v", code, m)
	}
	now := time.Now().UTC()
	var batch []map[string]any
	for i := range 80 {
		orders := 1 + i%4
		for k := range orders {
			at := now.Add(-time.Duration(200-i-k*30) * 24 * time.Hour)
			batch = append(batch, map[string]any{"type": "track", "userId": fmt.Sprintf("u%d", i), "event": "Order Completed",
				"timestamp": at.Format(time.RFC3339), "messageId": fmt.Sprintf("o%d-%d", i, k),
				"properties": map[string]any{"revenue": 20 + i%7*5 + k}})
		}
	}
	b, _ := json.Marshal(map[string]any{"batch": batch})
	if code, m := n.post("/v1/batch", string(b)); code != 200 {
		t.Fatalf("batch: %d %v", code, m)
	}
	n.profile("user_id:u79", 4)
	code, m := refresh()
	if code != 200 || m["fit"] == nil {
		t.Fatalf("refresh: %d %v", code, m)
	}
	fit := m["fit"].(map[string]any)
	code, rep := n.get("/api/predictions")
	if code != 200 || rep["customers"] != 80.0 || len(rep["top"].([]any)) != 20 {
		t.Fatalf("report: %d customers %v, %d top", code, rep["customers"], len(rep["top"].([]any)))
	}
	code, view := n.get("/api/profiles/user_id:u79/segments")
	comp, _ := view["computed"].(map[string]any)
	if code != 200 || comp["predicted_clv"] == nil || comp["p_alive"] == nil || comp["next_order_date"] == nil {
		t.Fatalf("profile view: %d %v", code, view)
	}
	// Templates read the same fields.
	req, _ := http.NewRequest("POST", n.url+"/api/templates/preview", strings.NewReader(
		`{"template":{"channel":"sms","body":"clv={{ profile.computed.predicted_clv | round: 2 }} pct={{ profile.computed.clv_percentile }}"},"profile":"user_id:u79"}`))
	req.Header.Set("Authorization", "Bearer tok")
	code, pv := n.do(req)
	var clv, pct float64
	body, _ := pv["body"].(string)
	if _, err := fmt.Sscanf(body, "clv=%g pct=%g", &clv, &pct); code != 200 || err != nil ||
		math.Abs(clv-comp["predicted_clv"].(float64)) > 0.005 || pct != comp["clv_percentile"] {
		t.Errorf("template preview: %d %v; the profile's fields: clv %v, percentile %v", code, pv, comp["predicted_clv"], comp["clv_percentile"])
	}
	n.stop()
	n2 := startNode(t, dir)
	_, rep2 := n2.get("/api/predictions")
	fit2, _ := rep2["fit"].(map[string]any)
	if fit2 == nil || fit2["fitted_at"] != fit["fitted_at"] || fmt.Sprint(fit2["bgnbd"]) != fmt.Sprint(fit["bgnbd"]) {
		t.Errorf("after a restart the fit is %v, want the saved %v", fit2, fit)
	}
	if code, m := n2.get("/api/predictions/refresh"); code != 405 || m["code"] != "method_not_allowed" {
		t.Errorf("GET refresh: %d %v", code, m)
	}
}
