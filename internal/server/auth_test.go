package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"tailor/internal/auth"
)

// browser is a dashboard user: a cookie jar and the CSRF header lib.js adds.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t, base, &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// do sends a request; csrf adds the X-CSRF-Token header from the cookie.
func (b *browser) do(method, path, body string, csrf bool) (int, map[string]any) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if csrf {
		req.Header.Set(auth.CSRFHeader, b.cookie(auth.CSRFCookie))
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func (b *browser) login(email, pw string) {
	b.t.Helper()
	code, m := b.do("POST", "/api/auth/login", `{"email":"`+email+`","password":"`+pw+`"}`, false)
	if code != 200 {
		b.t.Fatalf("login %s: %d %v", email, code, m)
	}
}

func TestDashboardSessionsCSRFAndRoles(t *testing.T) {
	dir := t.TempDir()
	n := startNodeWith(t, dir, func(c *Config) {
		c.AdminEmail, c.AdminPassword = "Root@Example.com", "root-password-1"
	}, nil)
	if n.srv.AdminPassword != "root-password-1" || n.srv.AdminEmail != "root@example.com" {
		t.Fatalf("first start: admin %q / %q, want the configured account", n.srv.AdminEmail, n.srv.AdminPassword)
	}

	admin := newBrowser(t, n.url)
	if code, m := admin.do("GET", "/api/segments", "", false); code != 401 || m["code"] != "unauthorized" {
		t.Fatalf("GET before login: %d %v, want 401", code, m)
	}
	admin.login("root@example.com", "root-password-1")
	if code, m := admin.do("GET", "/api/segments", "", false); code != 200 {
		t.Fatalf("GET with the session: %d %v", code, m)
	}
	if code, m := admin.do("GET", "/api/auth/me", "", false); code != 200 || m["email"] != "root@example.com" || m["role"] != "admin" {
		t.Errorf("me: %d %v", code, m)
	}
	src := `{"name":"web","trust":"client"}`
	if code, m := admin.do("POST", "/api/sources", src, false); code != 403 || m["code"] != "csrf" {
		t.Fatalf("POST without X-CSRF-Token: %d %v, want 403 csrf", code, m)
	}
	if code, m := admin.do("POST", "/api/sources", src, true); code != 201 {
		t.Fatalf("POST with X-CSRF-Token: %d %v, want 201", code, m)
	}
	if code, m := admin.do("POST", "/api/users", `{"email":"vera@example.com","password":"vera-password","role":"viewer"}`, true); code != 201 {
		t.Fatalf("create viewer: %d %v", code, m)
	}

	viewer := newBrowser(t, n.url)
	viewer.login("vera@example.com", "vera-password")
	if code, m := viewer.do("GET", "/api/segments", "", false); code != 200 {
		t.Errorf("viewer GET: %d %v", code, m)
	}
	seg := `{"id":"big","name":"Big","rule":{"trait":"plan","op":"eq","value":"pro"}}`
	if code, m := viewer.do("POST", "/api/segments", seg, true); code != 403 || m["code"] != "forbidden" || !strings.Contains(m["error"].(string), "editor") {
		t.Errorf("viewer POST /api/segments: %d %v, want 403 forbidden naming editor", code, m)
	}
	if code, m := viewer.do("GET", "/api/users", "", false); code != 403 || m["code"] != "forbidden" {
		t.Errorf("viewer GET /api/users: %d %v, want 403", code, m)
	}

	// The admin token works as before: no cookie, no CSRF header.
	if code, m := n.get("/api/sources"); code != 200 || len(m["sources"].([]any)) != 2 {
		t.Errorf("GET /api/sources with the token: %d %v", code, m)
	}
	req, _ := http.NewRequest("POST", n.url+"/api/sources", strings.NewReader(`{"name":"app","trust":"server"}`))
	req.Header.Set("Authorization", "Bearer tok")
	if code, m := n.do(req); code != 201 {
		t.Errorf("POST /api/sources with the token: %d %v", code, m)
	}

	// Logout ends the session, and the cookie with it.
	if code, _ := viewer.do("POST", "/api/auth/logout", "", true); code != 204 {
		t.Errorf("logout: %d", code)
	}
	if code, _ := viewer.do("GET", "/api/segments", "", false); code != 401 {
		t.Errorf("GET after logout: %d, want 401", code)
	}

	// A restart keeps accounts and sessions and makes no new admin.
	n.stop()
	n = startNodeWith(t, dir, func(c *Config) { c.AdminPassword = "another-password" }, nil)
	admin.base = n.url
	if n.srv.AdminPassword != "" {
		t.Errorf("second start made an admin account again (password %q)", n.srv.AdminPassword)
	}
	if code, m := admin.do("GET", "/api/users", "", false); code != 200 || len(m["users"].([]any)) != 2 {
		t.Errorf("users after restart with the old session: %d %v", code, m)
	}
}
