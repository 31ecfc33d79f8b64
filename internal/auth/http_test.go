package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// apiFixture is the guard in front of the account routes and a stand-in for
// the rest of the admin API, which echoes who it was called as.
type apiFixture struct {
	s   *Service
	h   http.Handler
	ids map[Role]string // a live session per role
}

const testToken = "admin-token"

func newFixture(t testing.TB) *apiFixture {
	s := newService(t, newClock())
	mux := http.NewServeMux()
	accounts := s.Handler()
	mux.Handle("/api/auth/", accounts)
	mux.Handle("/api/users", accounts)
	mux.Handle("/api/users/", accounts)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		p, _ := FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"email": p.Email, "role": p.Role})
	})
	f := &apiFixture{s: s, h: (&Guard{Token: testToken, Accounts: s}).Wrap(mux), ids: map[Role]string{}}
	for _, r := range Roles {
		email := string(r) + "@example.com"
		mustCreate(t, s, email, "pw-"+string(r)+"-0123", r)
		f.ids[r] = login(t, s, email, "pw-"+string(r)+"-0123")
	}
	return f
}

// request describes how a test request authenticates.
type request struct {
	method, path, body string
	token              string // Authorization: Bearer
	as                 Role   // session cookie of this role's account
	csrf               string // "ok" for the session's token, else this value
}

func (f *apiFixture) do(rq request) *httptest.ResponseRecorder {
	r := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
	r.RemoteAddr = "192.0.2.7:5555"
	if rq.token != "" {
		r.Header.Set("Authorization", "Bearer "+rq.token)
	}
	if rq.as != "" {
		id := f.ids[rq.as]
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: id})
		switch rq.csrf {
		case "ok":
			r.Header.Set(CSRFHeader, f.s.CSRFToken(id))
		case "":
		default:
			r.Header.Set(CSRFHeader, rq.csrf)
		}
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func errCode(w *httptest.ResponseRecorder) string {
	var b struct {
		Code string `json:"code"`
	}
	json.Unmarshal(w.Body.Bytes(), &b)
	return b.Code
}

func TestGuardAndRoutes(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		req    request
		status int
		code   string // error code, or "" for success
		body   string // a substring of the answer
	}{
		{"no credentials", request{method: "GET", path: "/api/profiles/u1"}, 401, "unauthorized", "sign in"},
		{"wrong token", request{method: "GET", path: "/api/profiles/u1", token: "nope"}, 401, "unauthorized", "Bearer <admin token>"},
		{"admin token reads", request{method: "GET", path: "/api/profiles/u1", token: testToken}, 200, "", `"role":"admin"`},
		{"admin token writes without CSRF", request{method: "POST", path: "/api/sources", token: testToken}, 200, "", `"role":"admin"`},
		{"admin token and a session cookie: the token decides", request{method: "GET", path: "/api/users", token: "nope", as: Admin}, 401, "unauthorized", ""},
		{"unknown session", request{method: "GET", path: "/api/profiles/u1", as: "ghost"}, 401, "unauthorized", "sign in again"},
		{"viewer reads", request{method: "GET", path: "/api/segments", as: Viewer}, 200, "", `"email":"viewer@example.com"`},
		{"viewer previews", request{method: "POST", path: "/api/segments/preview", as: Viewer, csrf: "ok"}, 200, "", ""},
		{"viewer writes a segment", request{method: "POST", path: "/api/segments", as: Viewer, csrf: "ok"}, 403, "forbidden", "needs the role editor"},
		{"write without CSRF header", request{method: "POST", path: "/api/segments", as: Editor}, 403, "csrf", "X-CSRF-Token"},
		{"write with a wrong CSRF header", request{method: "PUT", path: "/api/segments/x", as: Editor, csrf: "forged"}, 403, "csrf", ""},
		{"write with another session's CSRF token", request{method: "DELETE", path: "/api/segments/x", as: Editor, csrf: "__admin__"}, 403, "csrf", ""},
		{"editor writes a segment", request{method: "POST", path: "/api/segments", as: Editor, csrf: "ok"}, 200, "", `"role":"editor"`},
		{"editor writes the catalog", request{method: "PUT", path: "/api/catalog/products/p1", as: Editor, csrf: "ok"}, 200, "", ""},
		{"editor reads sources", request{method: "GET", path: "/api/sources", as: Editor}, 403, "forbidden", "needs the role admin"},
		{"editor lists users", request{method: "GET", path: "/api/users", as: Editor}, 403, "forbidden", ""},
		{"admin creates a source", request{method: "POST", path: "/api/sources", as: Admin, csrf: "ok"}, 200, "", ""},
		{"me as viewer", request{method: "GET", path: "/api/auth/me", as: Viewer}, 200, "", `"email":"viewer@example.com","role":"viewer"`},
		{"me with the token", request{method: "GET", path: "/api/auth/me", token: testToken}, 200, "", `"role":"admin","token":true`},
		{"me without credentials", request{method: "GET", path: "/api/auth/me"}, 401, "unauthorized", ""},
		{"list users", request{method: "GET", path: "/api/users", as: Admin}, 200, "", `"email":"admin@example.com","role":"admin"`},
		{"create user", request{method: "POST", path: "/api/users", as: Admin, csrf: "ok", body: `{"email":"New@Example.com","password":"0123456789","role":"editor"}`}, 201, "", `"email":"new@example.com","role":"editor"`},
		{"create user taken", request{method: "POST", path: "/api/users", token: testToken, body: `{"email":"viewer@example.com","password":"0123456789","role":"viewer"}`}, 409, "user_exists", ""},
		{"create user short password", request{method: "POST", path: "/api/users", token: testToken, body: `{"email":"x@example.com","password":"short","role":"viewer"}`}, 400, "bad_request", "at least 10 characters"},
		{"create user bad role", request{method: "POST", path: "/api/users", token: testToken, body: `{"email":"x@example.com","password":"0123456789","role":"root"}`}, 400, "bad_request", "role must be one of"},
		{"create user bad JSON", request{method: "POST", path: "/api/users", token: testToken, body: `{"email":`}, 400, "invalid_json", "role"},
		{"create user huge body", request{method: "POST", path: "/api/users", token: testToken, body: `{"email":"` + strings.Repeat("a", 5000) + `"}`}, 413, "too_large", ""},
		{"delete unknown user", request{method: "DELETE", path: "/api/users/nobody@example.com", token: testToken}, 404, "not_found", "nobody@example.com"},
		{"delete the last admin", request{method: "DELETE", path: "/api/users/admin@example.com", as: Admin, csrf: "ok"}, 409, "last_admin", ""},
		{"delete a user", request{method: "DELETE", path: "/api/users/new%40example.com", as: Admin, csrf: "ok"}, 204, "", ""},
		{"users wrong method", request{method: "PUT", path: "/api/users", token: testToken}, 405, "method_not_allowed", "GET, HEAD, POST"},
		{"unknown auth route", request{method: "GET", path: "/api/auth/nothing", token: testToken}, 404, "not_found", ""},
	}
	f.ids["__admin__"] = f.ids[Admin]
	f.ids["ghost"] = "made-up-session-id"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rq := tt.req
			if rq.csrf == "__admin__" {
				rq.csrf = f.s.CSRFToken(f.ids[Admin])
			}
			w := f.do(rq)
			if w.Code != tt.status || errCode(w) != tt.code || !strings.Contains(w.Body.String(), tt.body) {
				t.Errorf("%s %s = %d %s\nwant %d, code %q, containing %q", rq.method, rq.path, w.Code, w.Body, tt.status, tt.code, tt.body)
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestLoginSetsCookiesAndLogoutClearsThem(t *testing.T) {
	f := newFixture(t)
	post := func(path, body string, cookies []*http.Cookie, csrf string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, strings.NewReader(body))
		r.RemoteAddr = "192.0.2.9:1"
		for _, c := range cookies {
			r.AddCookie(c)
		}
		if csrf != "" {
			r.Header.Set(CSRFHeader, csrf)
		}
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w
	}
	w := post(LoginPath, `{"email":" Editor@Example.com","password":"pw-editor-0123"}`, nil, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `{"user":{"email":"editor@example.com","role":"editor"`) {
		t.Fatalf("login = %d %s", w.Code, w.Body)
	}
	cookies := map[string]*http.Cookie{}
	for _, c := range w.Result().Cookies() {
		cookies[c.Name] = c
	}
	sess, csrf := cookies[SessionCookie], cookies[CSRFCookie]
	if sess == nil || csrf == nil {
		t.Fatalf("login set cookies %v, want %s and %s", w.Result().Cookies(), SessionCookie, CSRFCookie)
	}
	if !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" || sess.MaxAge <= 0 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, a Max-Age", sess)
	}
	if csrf.HttpOnly || csrf.SameSite != http.SameSiteStrictMode || csrf.Value != f.s.CSRFToken(sess.Value) {
		t.Errorf("csrf cookie %+v: want readable, SameSite=Strict, the session's token", csrf)
	}
	jar := []*http.Cookie{sess, csrf}
	if w := post("/api/auth/logout", "", jar, ""); w.Code != 403 || errCode(w) != "csrf" {
		t.Errorf("logout without CSRF = %d %s, want 403 csrf", w.Code, w.Body)
	}
	w = post("/api/auth/logout", "", jar, csrf.Value)
	if w.Code != 204 {
		t.Fatalf("logout = %d %s", w.Code, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.MaxAge >= 0 || c.Value != "" {
			t.Errorf("logout left cookie %+v", c)
		}
	}
	if n := len(w.Result().Cookies()); n != 2 {
		t.Errorf("logout cleared %d cookies, want 2", n)
	}
	if _, err := f.s.Session(sess.Value); err == nil {
		t.Error("the session outlived logout")
	}
}

func TestLoginFailuresAnswer401ThenRateLimited(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		body   string
		status int
		code   string
	}{
		{`{"email":"viewer@example.com","password":"wrong-password"}`, 401, "invalid_credentials"},
		{`{"email":"nobody@example.com","password":"pw-viewer-0123"}`, 401, "invalid_credentials"},
		{`{"email":"not an email","password":"x"}`, 401, "invalid_credentials"},
		{`{"email":`, 400, "invalid_json"},
	}
	for _, tt := range tests {
		w := f.do(request{method: "POST", path: LoginPath, body: tt.body})
		if w.Code != tt.status || errCode(w) != tt.code {
			t.Errorf("login %s = %d %s, want %d %s", tt.body, w.Code, w.Body, tt.status, tt.code)
		}
		if w.Code == 401 && strings.Contains(w.Body.String(), "nobody") {
			t.Errorf("the answer tells whether the account exists: %s", w.Body)
		}
	}
	for i := 0; i < DefaultFailuresEmail; i++ {
		f.do(request{method: "POST", path: LoginPath, body: `{"email":"admin@example.com","password":"guess-guess"}`})
	}
	w := f.do(request{method: "POST", path: LoginPath, body: `{"email":"admin@example.com","password":"pw-admin-0123"}`})
	if w.Code != 429 || errCode(w) != "rate_limited" || w.Header().Get("Retry-After") != "900" {
		t.Errorf("login after %d failures = %d %s Retry-After %q; want 429 rate_limited, Retry-After 900",
			DefaultFailuresEmail, w.Code, w.Body, w.Header().Get("Retry-After"))
	}
}

// BenchmarkGuard is what the guard adds to each /api request: the admin
// token (a comparison) against a session cookie (two store reads).
func BenchmarkGuard(b *testing.B) {
	f := newFixture(b)
	for _, bc := range []struct {
		name string
		req  request
	}{
		{"token", request{method: "GET", path: "/api/segments", token: testToken}},
		{"session", request{method: "GET", path: "/api/segments", as: Viewer}},
		{"session-write", request{method: "POST", path: "/api/segments", as: Editor, csrf: "ok"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if w := f.do(bc.req); w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
