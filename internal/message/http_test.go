package message

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tailor/internal/track"
)

func TestTemplateAPI(t *testing.T) {
	e := newTestEngine(t)
	h := (&HTTP{Engine: e, Record: func(context.Context, [][]byte) error { return nil }}).API()
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"create", "POST", "/api/templates", `{"id":"w","channel":"sms","body":"Hi {{ profile.traits.first_name }}"}`, 201, `"version":1`},
		{"create taken", "POST", "/api/templates", `{"id":"w","channel":"sms","body":"x"}`, 409, "template_exists"},
		{"parse error names field and position", "POST", "/api/templates", `{"id":"x","channel":"sms","body":"a\n {{ a | | }}"}`, 400, `"field":"body","line":2,"column":2`},
		{"shape error", "POST", "/api/templates", `{"id":"x","channel":"fax","body":"a"}`, 400, "channel"},
		{"bad json", "POST", "/api/templates", `{`, 400, "invalid_json"},
		{"replace", "PUT", "/api/templates/w", `{"channel":"sms","body":"Hello {{ profile.traits.first_name }}"}`, 200, `"version":2`},
		{"replace missing", "PUT", "/api/templates/nope", `{"channel":"sms","body":"x"}`, 404, "template_not_found"},
		{"replace id mismatch", "PUT", "/api/templates/w", `{"id":"v","channel":"sms","body":"x"}`, 400, "differs"},
		{"get old version", "GET", "/api/templates/w?version=1", "", 200, `"body":"Hi `},
		{"get bad version", "GET", "/api/templates/w?version=x", "", 400, "version"},
		{"list", "GET", "/api/templates", "", 200, `"id":"w"`},
		{"preview saved", "POST", "/api/templates/preview", `{"id":"w","profile":"p_ann"}`, 200, `"body":"Hello Ann"`},
		{"preview body", "POST", "/api/templates/preview", `{"template":{"channel":"sms","body":"{{ event.n }}"},"profile":"p_ann","data":{"n":7}}`, 200, `"body":"7"`},
		{"preview parse error", "POST", "/api/templates/preview", `{"template":{"channel":"sms","body":"{% if %}"},"profile":"p_ann"}`, 400, `"line":1`},
		{"preview render error", "POST", "/api/templates/preview", `{"template":{"channel":"sms","body":"{% coupon empty %}"},"profile":"p_ann"}`, 422, "render_failed"},
		{"preview no profile", "POST", "/api/templates/preview", `{"id":"w"}`, 400, "profile"},
		{"preview unknown profile", "POST", "/api/templates/preview", `{"id":"w","profile":"p_nobody"}`, 404, "profile_not_found"},
		{"delete", "DELETE", "/api/templates/w", "", 204, ""},
		{"get deleted", "GET", "/api/templates/w", "", 404, "template_not_found"},
	}
	for _, c := range cases {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)))
		if rr.Code != c.status || !strings.Contains(rr.Body.String(), c.want) {
			t.Errorf("%s: got %d %s, want %d with %s", c.name, rr.Code, rr.Body, c.status, c.want)
		}
	}
}

func TestTrackingEndpoints(t *testing.T) {
	e := newTestEngine(t)
	var got []map[string]any
	h := (&HTTP{Engine: e, Record: func(_ context.Context, msgs [][]byte) error {
		for _, m := range msgs {
			var v map[string]any
			_ = json.Unmarshal(m, &v)
			got = append(got, v)
		}
		return nil
	}}).Tracking()
	click := e.Signer.Sign(track.Claims{Kind: track.KindClick, Profile: "p_ann", Key: "k1", Channel: "email", Template: "t", URL: "https://shop.example/x"})
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/t/c/"+click, nil))
	if rr.Code != http.StatusFound || rr.Header().Get("Location") != "https://shop.example/x" {
		t.Fatalf("click: %d %s", rr.Code, rr.Header().Get("Location"))
	}
	if len(got) != 1 || got[0]["event"] != "Message Clicked" || got[0]["userId"] != "ann" || got[0]["properties"].(map[string]any)["url"] != "https://shop.example/x" {
		t.Fatalf("recorded %v", got)
	}
	open := e.Signer.Sign(track.Claims{Kind: track.KindOpen, Profile: "p_ann", Key: "k1"})
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/t/o/"+open, nil))
	if rr.Code != 200 || rr.Header().Get("Content-Type") != "image/gif" || len(got) != 2 || got[1]["event"] != "Message Opened" {
		t.Fatalf("open: %d %v", rr.Code, got)
	}
	// An open token is not a click token, and a preview's links record nothing.
	for _, path := range []string{"/t/c/" + open, "/t/c/" + click[:len(click)-2]} {
		rr = httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("GET", path, nil))
		if rr.Code != http.StatusBadRequest {
			t.Errorf("%s: %d", path, rr.Code)
		}
	}
	pv := e.Signer.Sign(track.Claims{Kind: track.KindClick, Profile: "p_ann", Key: PreviewKey, URL: "https://shop.example/y"})
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/t/c/"+pv, nil))
	if rr.Code != http.StatusFound || len(got) != 2 {
		t.Errorf("preview click: %d, %d events", rr.Code, len(got))
	}
}
