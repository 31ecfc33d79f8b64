package admin

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestResolveKeys(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"user-1", []string{"user_id:user-1", "anonymous_id:user-1"}},
		{"p_0ad4506f9edda2c4b487", []string{"p_0ad4506f9edda2c4b487"}},
		{"Ann@Example.com", []string{"user_id:Ann@Example.com", "anonymous_id:Ann@Example.com", "email:ann@example.com"}},
		{"email:Ann@Example.com", []string{"email:ann@example.com"}},
		{"phone:+33 6 12 34 56 78", []string{"phone:+33612345678"}},
		{"+33612345678", []string{"user_id:+33612345678", "anonymous_id:+33612345678", "phone:+33612345678"}},
		{"user_id:42", []string{"user_id:42"}},
		{"bogus:42", []string{"user_id:bogus:42", "anonymous_id:bogus:42"}},
	}
	for _, tt := range tests {
		if got := resolveKeys(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("resolveKeys(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestErrorsCarryCodes(t *testing.T) {
	api := &API{Token: "tok"}
	tests := []struct {
		name, method, path, token string
		status                    int
		want                      string
	}{
		{"no token", "GET", "/api/profiles/u1", "", 401,
			`{"error":"admin API needs the header Authorization: Bearer <admin token>","code":"unauthorized"}`},
		{"wrong token", "GET", "/api/profiles/u1", "nope", 401,
			`{"error":"admin API needs the header Authorization: Bearer <admin token>","code":"unauthorized"}`},
		{"unknown route", "GET", "/api/nothing", "tok", 404, `{"error":"no admin route GET /api/nothing","code":"not_found"}`},
		{"bad limit", "GET", "/api/rejected?limit=x", "tok", 400, `{"error":"limit must be a positive integer, got \"x\"","code":"bad_request"}`},
		{"search without trait", "GET", "/api/profiles", "tok", 400, `{"error":"search needs ?trait=NAME&value=VALUE","code":"bad_request"}`},
	}
	h := api.Handler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.token != "" {
				r.Header.Set("Authorization", "Bearer "+tt.token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := strings.TrimSpace(w.Body.String()); w.Code != tt.status || got != tt.want {
				t.Errorf("%s %s = %d %s\nwant %d %s", tt.method, tt.path, w.Code, got, tt.status, tt.want)
			}
		})
	}
}
