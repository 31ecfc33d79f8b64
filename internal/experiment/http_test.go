package experiment

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"tailor/internal/store/storetest"
	"testing"
	"time"
)

func TestHTTPAnswersBadInputWithNamedErrors(t *testing.T) {
	var recorded []map[string]any
	e := New(Options{DB: storetest.MemDB(t), Now: func() time.Time { return t0 }, Record: func(_ context.Context, prof string, p map[string]any) error {
		recorded = append(recorded, p)
		return nil
	}})
	srv := httptest.NewServer((&HTTP{Engine: e, Lookup: func(id string) (string, bool) { return strings.TrimPrefix(id, "user_id:"), id != "user_id:nobody" }}).Handler())
	defer srv.Close()
	valid := `{"id":"hero","variants":[{"id":"a","weight":1},{"id":"b","weight":1}],"metrics":[{"kind":"conversion","event":"Order Completed"}]}`
	steps := []struct {
		method, path, body string
		status             int
		code, mentions     string
	}{
		{"POST", "/api/experiments", `{"id":"x"`, 400, "invalid_json", "ends in the middle"},
		{"POST", "/api/experiments", `{"id":"x","variants":[{"id":"a","weigth":1}]}`, 400, "invalid_experiment", "weigth"},
		{"POST", "/api/experiments", `{"id":"x","variants":[{"id":"a","weight":1}],"metrics":[]}`, 400, "invalid_experiment", "variants"},
		{"POST", "/api/experiments", `{"id":"x","variants":[{"id":"a","weight":1},{"id":"b","weight":1}],"metrics":[{"kind":"clicks"}]}`, 400, "invalid_experiment", "metrics[0].kind"},
		{"POST", "/api/experiments", `{"id":"x","variants":[{"id":"a","weight":"1"},{"id":"b","weight":1}],"metrics":[]}`, 400, "invalid_experiment", "weight"},
		{"POST", "/api/experiments", `{"id":"bad id","variants":[],"metrics":[]}`, 400, "invalid_experiment", "id"},
		{"POST", "/api/experiments", valid, 201, "", ""},
		{"POST", "/api/experiments", valid, 409, "experiment_exists", "hero"},
		{"POST", "/api/experiments/hero/stop", "", 409, "experiment_state", "draft"},
		{"POST", "/api/experiments/hero/expose", `{"identifier":"user_id:42"}`, 409, "experiment_state", "not running"},
		{"POST", "/api/experiments/hero/start", "", 200, "", ""},
		{"POST", "/api/experiments/hero/expose", `{"identifier":"user_id:nobody"}`, 404, "profile_not_found", "nobody"},
		{"POST", "/api/experiments/hero/expose", `{}`, 400, "invalid_experiment", "identifier"},
		{"POST", "/api/experiments/hero/expose", `{"identifier":"user_id:42"}`, 200, "", ""},
		{"DELETE", "/api/experiments/hero", "", 409, "experiment_state", "stop it"},
		{"GET", "/api/experiments/nope/results", "", 404, "experiment_not_found", "nope"},
		{"GET", "/api/experiments/hero/results", "", 200, "", ""},
		{"PUT", "/api/experiments/hero", `{"id":"other"}`, 400, "invalid_experiment", "differs"},
		{"POST", "/api/experiments/hero/stop", "", 200, "", ""},
		{"DELETE", "/api/experiments/hero", "", 200, "", ""},
		{"GET", "/api/experiments/hero", "", 404, "experiment_not_found", ""},
	}
	for _, st := range steps {
		req, _ := http.NewRequest(st.method, srv.URL+st.path, strings.NewReader(st.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error, Code string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != st.status || body.Code != st.code || !strings.Contains(body.Error, st.mentions) {
			t.Errorf("%s %s %s: %d %q %q, want %d %q mentioning %q", st.method, st.path, st.body, resp.StatusCode, body.Code, body.Error, st.status, st.code, st.mentions)
		}
	}
	if len(recorded) != 1 || recorded[0]["experiment_id"] != "hero" {
		t.Errorf("recorded exposures %v, want one for hero", recorded)
	}
}
