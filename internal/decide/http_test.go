package decide

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
)

// recorded stands in for the log: it keeps the messages and, as the
// processor would, applies each new messageId to the figures.
type recorded struct {
	msgs  []map[string]any
	stats *Stats
	seen  map[string]bool
}

func (r *recorded) record(_ context.Context, msgs [][]byte) error {
	for _, m := range msgs {
		var v map[string]any
		if err := json.Unmarshal(m, &v); err != nil {
			return err
		}
		r.msgs = append(r.msgs, v)
		e, err := event.Decode(m, event.Meta{ReceivedAt: time.Now()})
		if err != nil {
			return err
		}
		if !r.seen[e.MessageID] {
			r.seen[e.MessageID] = true
			r.stats.Apply(&e, profile.Resolution{Profile: "p_" + e.UserID + e.AnonymousID})
		}
	}
	return nil
}

func testHTTP(t *testing.T) (*httptest.Server, *Engine, *recorded) {
	srv, e, rec, _ := testHTTPHandler(t)
	return srv, e, rec
}

func testHTTPHandler(t *testing.T) (*httptest.Server, *Engine, *recorded, *HTTP) {
	t.Helper()
	e, _, _ := testEngine(t)
	st, err := OpenStats(e.Placements.db)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorded{stats: st, seen: map[string]bool{}}
	h := &HTTP{Engine: e, Stats: st, WriteKey: func(k string) bool { return k == "wk" }, Record: rec.record,
		Lookup: func(id string) (string, bool) { return "user_id:" + id, id == "whale" }}
	mux := http.NewServeMux()
	mux.Handle("/v1/", h.Public())
	mux.Handle("/api/", h.Admin())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, e, rec, h
}

func do(t *testing.T, method, url, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func TestDecideHTTPAuthCORSAndErrors(t *testing.T) {
	srv, _, _, h := testHTTPHandler(t)
	u := srv.URL + "/v1/decide"
	cases := []struct {
		name   string
		method string
		body   string
		hdr    map[string]string
		status int
		want   string
	}{
		{"key in body, text/plain", "POST", `{"writeKey":"wk","anonymousId":"a","placements":["exit"]}`, map[string]string{"Content-Type": "text/plain"}, 200, `"free_shipping"`},
		{"key as basic user", "POST", `{"userId":"whale","placements":["exit"]}`, map[string]string{"Authorization": "Basic d2s6"}, 200, `"twenty"`},
		{"no key", "POST", `{"anonymousId":"a","placements":["exit"]}`, nil, 401, "no_write_key"},
		{"wrong header key, right body key", "POST", `{"writeKey":"wk","anonymousId":"a","placements":["exit"]}`, map[string]string{"Authorization": "Basic bm9wZTo="}, 401, "bad_write_key"},
		{"wrong key", "POST", `{"writeKey":"nope","anonymousId":"a","placements":["exit"]}`, nil, 401, "bad_write_key"},
		{"not json", "POST", `{"writeKey":`, nil, 400, "invalid_json"},
		{"unknown placement", "POST", `{"writeKey":"wk","anonymousId":"a","placements":["nope"]}`, nil, 404, `no placement \"nope\"`},
		{"placements not a list", "POST", `{"writeKey":"wk","anonymousId":"a","placements":"exit"}`, nil, 400, "want a list"},
		{"bad country", "POST", `{"writeKey":"wk","anonymousId":"a","placements":["exit"],"context":{"country":"Germany"}}`, nil, 400, "context.country"},
		{"lat without lon", "POST", `{"writeKey":"wk","anonymousId":"a","placements":["exit"],"context":{"lat":1}}`, nil, 400, "send both"},
		{"too large", "POST", `{"writeKey":"wk","x":"` + strings.Repeat("a", MaxDecideBody) + `"}`, nil, 413, "too_large"},
		{"GET", "GET", ``, nil, 405, "method_not_allowed"},
		{"gzip", "POST", `{}`, map[string]string{"Content-Encoding": "gzip"}, 415, "bad_encoding"},
		{"country header", "POST", `{"writeKey":"wk","anonymousId":"a","placements":["recs"]}`, map[string]string{"CF-IPCountry": "DE"}, 200, `"currency":"EUR"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, body := do(t, c.method, u, c.body, c.hdr)
			if status != c.status || !strings.Contains(body, c.want) {
				t.Fatalf("got %d %s, want %d containing %s", status, body, c.status, c.want)
			}
			if hdr.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("no CORS header on %d", status)
			}
		})
	}
	// Bodies read before their key is known are bounded; a header key is not.
	h.bodyKeyed.Store(DefaultBodyKeyedLimit)
	status, hdr, body := do(t, "POST", u, `{"writeKey":"wk","anonymousId":"a","placements":["exit"]}`, nil)
	if status != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(body, "busy") {
		t.Errorf("body-keyed over the limit: %d %s", status, body)
	}
	if status, _, body := do(t, "POST", u, `{"anonymousId":"a","placements":["exit"]}`, map[string]string{"Authorization": "Basic d2s6"}); status != 200 {
		t.Errorf("header-keyed over the body-keyed limit: %d %s", status, body)
	}
	h.bodyKeyed.Store(0)
	status, hdr, _ = do(t, "OPTIONS", u, "", map[string]string{"Origin": "https://shop.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"})
	if status != 204 || hdr.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Authorization") || hdr.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: %d %v", status, hdr)
	}
}

func TestEventsOnTokensReachTheLog(t *testing.T) {
	srv, _, rec := testHTTP(t)
	_, _, body := do(t, "POST", srv.URL+"/v1/decide", `{"writeKey":"wk","userId":"whale","placements":["exit","recs"]}`, nil)
	var a answer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	exitTok, itemTok := a.Placements[0].Token, a.Placements[1].Items[1].Token
	events := `{"writeKey":"wk","events":[{"token":"` + exitTok + `","type":"impression"},{"token":"` + exitTok + `","type":"click"},` +
		`{"token":"` + itemTok + `","type":"click"},{"token":"forged","type":"click"},{"token":"` + exitTok + `","type":"like"}]}`
	status, _, body := do(t, "POST", srv.URL+"/v1/decide/events", events, nil)
	if status != 200 || !strings.Contains(body, `"accepted":3`) || !strings.Contains(body, `"index":3`) || !strings.Contains(body, `"index":4`) {
		t.Fatalf("events: %d %s", status, body)
	}
	if len(rec.msgs) != 3 {
		t.Fatalf("recorded %d messages, want 3", len(rec.msgs))
	}
	m := rec.msgs[2]
	props := m["properties"].(map[string]any)
	if m["userId"] != "whale" || m["event"] != EventClicked || props["placement_id"] != "recs" || props["product_id"] != a.Placements[1].Items[1].ID || props["position"] != 2.0 {
		t.Errorf("item click: %v", m)
	}
	if rec.msgs[0]["event"] != EventViewed || rec.msgs[0]["messageId"] == rec.msgs[1]["messageId"] {
		t.Errorf("impression and click: %v / %v", rec.msgs[0], rec.msgs[1])
	}
	// The same impression sent again has the same messageId: the log's
	// de-duplication keeps one.
	do(t, "POST", srv.URL+"/v1/decide/events", `{"writeKey":"wk","events":[{"token":"`+exitTok+`","type":"impression"}]}`, nil)
	if rec.msgs[3]["messageId"] != rec.msgs[0]["messageId"] {
		t.Errorf("repeated impression has a new messageId")
	}
	_, _, body = do(t, "GET", srv.URL+"/api/placements/exit/stats?days=2", "", nil)
	// The repeated impression is one event in the log, so counted once.
	if !strings.Contains(body, `"impressions":1,"clicks":1`) {
		t.Errorf("stats: %s", body)
	}
	status, _, body = do(t, "POST", srv.URL+"/v1/decide/events", `{"writeKey":"wk","events":[{"token":"x","type":"click"}]}`, nil)
	if status != 400 || !strings.Contains(body, "bad_token") {
		t.Errorf("all invalid: %d %s", status, body)
	}
	status, _, _ = do(t, "POST", srv.URL+"/v1/decide/events", `{"events":[{"token":"`+exitTok+`","type":"click"}]}`, nil)
	if status != 401 {
		t.Errorf("events without a write key: %d", status)
	}
}

func TestPlacementsAdminAPI(t *testing.T) {
	srv, _, _ := testHTTP(t)
	u := srv.URL + "/api/placements"
	p := `{"id":"banner","name":"Banner","default":"a","variants":[{"id":"a","content":{"text":"Hi"}},{"id":"b"}],"rules":[{"computed":"orders","value":1,"variant":"b"}]}`
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "", p, 201, `"id":"banner"`},
		{"POST", "", p, 409, "placement_exists"},
		{"GET", "/banner", "", 200, `"text":"Hi"`},
		{"PUT", "/banner", strings.Replace(p, `"Banner"`, `"Banner 2"`, 1), 200, `"Banner 2"`},
		{"PUT", "/other", p, 400, "differs"},
		{"POST", "", `{"id":"x","name":"X","default":"a","variants":[{"id":"a"}],"rulez":[]}`, 400, `unknown field \"rulez\"`},
		{"POST", "", `{"id":"x","name":"X","default":"b","variants":[{"id":"a"}]}`, 400, `default \"b\"`},
		{"POST", "", ``, 400, "body is empty"},
		// Past the limit the answer says so (it once read a cut body and
		// called it empty or invalid JSON).
		{"POST", "", strings.Repeat(" ", maxAdminBody+1) + `{}`, 413, "too_large"},
		{"GET", "/nope", "", 404, "placement_not_found"},
		{"POST", "/banner/preview", `{"profile":"whale"}`, 200, `"variant":{"id":"b"`},
		{"POST", "/banner/preview", `{"profile":""}`, 200, `"variant":{"id":"a"`},
		{"POST", "/banner/preview", `{"profile":"ghost"}`, 404, "profile_not_found"},
		{"GET", "/banner/stats?days=0", "", 400, "days"},
		{"DELETE", "/banner", "", 204, ""},
		{"DELETE", "/banner", "", 404, "placement_not_found"},
	}
	for _, c := range cases {
		status, _, body := do(t, c.method, u+c.path, c.body, nil)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: got %d %s, want %d with %s", c.method, c.path, status, body, c.status, c.want)
		}
	}
	status, _, body := do(t, "PUT", srv.URL+"/api/decide/geo", `{"base_currency":"USD","regions":[{"name":"UK","countries":["GB"],"currency":"GBP","rate":0}]}`, nil)
	if status != 400 || !strings.Contains(body, "regions[0].rate") {
		t.Errorf("bad geo: %d %s", status, body)
	}
	status, _, body = do(t, "PUT", srv.URL+"/api/decide/geo", `{"base_currency":"USD","regions":[{"name":"UK","countries":["GB"],"currency":"GBP","rate":0.8}],"stores":[]}`, nil)
	if status != 200 || !strings.Contains(body, `"GBP"`) {
		t.Errorf("geo: %d %s", status, body)
	}
}

func TestSnippetServedPlainAndGzipped(t *testing.T) {
	srv, _, _ := testHTTP(t)
	req, _ := http.NewRequest("GET", srv.URL+"/v1/snippet.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
	if err != nil {
		t.Fatal(err)
	}
	zipped, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" || len(zipped) >= len(snippetJS) {
		t.Fatalf("gzip answer: %v, %d bytes of %d", res.Header, len(zipped), len(snippetJS))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, snippetJS) {
		t.Error("the gzip answer does not decompress to the snippet")
	}
	status, hdr, body := do(t, "GET", srv.URL+"/v1/snippet.js", "", map[string]string{"Accept-Encoding": "identity"})
	if status != 200 || body != string(snippetJS) || !strings.HasPrefix(hdr.Get("Content-Type"), "text/javascript") || hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("plain answer: %d %v", status, hdr)
	}
	t.Logf("snippet: %d bytes, %d gzipped", len(snippetJS), len(zipped))
}
