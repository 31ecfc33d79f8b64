package e2e

import (
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeDashboardAccounts runs the account life cycle with the real
// binary: the first start makes the admin account and prints its login once,
// `tailor users` refuses a data dir the server holds and manages it once the
// server stops, and logins work with a cookie and the CSRF header.
func TestServeDashboardAccounts(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "--admin-email", "Ops@Example.com", "--admin-password", "e2e-admin-pass")
	line := waitStdout(t, s, regexp.MustCompile(`(?m)^tailor: dashboard: (\S+)  login: (\S+)  password: (\S+)$`))
	if line[1] != s.URL+"/" || line[2] != "ops@example.com" || line[3] != "e2e-admin-pass" {
		t.Errorf("dashboard line names %q %q %q, want %s/ ops@example.com e2e-admin-pass", line[1], line[2], line[3], s.URL)
	}

	out, err := runTailorErr(t, 30*time.Second, "users", "list", "--data-dir", dir)
	if err == nil || !strings.Contains(out, "tailor is running on this data dir; use the dashboard or POST /api/users") {
		t.Errorf("users list while serving: %v\n%s\nwant a failure saying the server runs", err, out)
	}

	b := newCookieClient(t, s.URL)
	if code := b.send(t, "POST", "/api/auth/login", `{"email":"ops@example.com","password":"e2e-admin-pass"}`, ""); code != http.StatusOK {
		t.Fatalf("login with the printed password: %d", code)
	}
	if code := b.send(t, "POST", "/api/users", `{"email":"ed@example.com","password":"editor-pass-1","role":"editor"}`, ""); code != http.StatusForbidden {
		t.Errorf("POST /api/users without the CSRF header: %d, want 403", code)
	}
	if code := b.send(t, "POST", "/api/users", `{"email":"ed@example.com","password":"editor-pass-1","role":"editor"}`, b.cookie("tailor_csrf")); code != http.StatusCreated {
		t.Errorf("POST /api/users with the CSRF header: %d, want 201", code)
	}
	s.stopClean(t)

	cmd := exec.Command(tailorBin, "users", "add", "vi@example.com", "--data-dir", dir)
	cmd.Env, cmd.Stdin = serverEnv(), strings.NewReader("viewer-pass-1\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "account vi@example.com (viewer) added") {
		t.Fatalf("users add with the password on stdin: %v\n%s", err, out)
	}
	out = runTailor(t, 30*time.Second, "users", "list", "--data-dir", dir)
	for _, want := range []string{"ops@example.com  admin", "ed@example.com   editor", "vi@example.com   viewer"} {
		if !strings.Contains(out, want) {
			t.Errorf("users list lacks %q:\n%s", want, out)
		}
	}

	s2 := startServer(t, dir, "--admin-password", "ignored-password")
	line = waitStdout(t, s2, regexp.MustCompile(`(?m)^tailor: dashboard: .*$`))
	if line[0] != "tailor: dashboard: "+s2.URL+"/" {
		t.Errorf("second start printed %q, want the URL only", line[0])
	}
	v := newCookieClient(t, s2.URL)
	if code := v.send(t, "POST", "/api/auth/login", `{"email":"vi@example.com","password":"viewer-pass-1"}`, ""); code != http.StatusOK {
		t.Fatalf("login of the account users add made: %d", code)
	}
	if code := v.send(t, "GET", "/api/segments", "", ""); code != http.StatusOK {
		t.Errorf("viewer GET /api/segments: %d", code)
	}
	if code := v.send(t, "DELETE", "/api/sources/default", "", v.cookie("tailor_csrf")); code != http.StatusForbidden {
		t.Errorf("viewer DELETE /api/sources/default: %d, want 403", code)
	}
	if code, body, err := s2.do("GET", "/api/users", nil, http.Header{"Authorization": {"Bearer " + s2.AdminToken}}); err != nil || code != http.StatusOK || strings.Count(string(body), `"email"`) != 3 {
		t.Errorf("GET /api/users with the admin token: %d %s %v, want the 3 accounts", code, body, err)
	}
}

func waitStdout(t *testing.T, s *server, re *regexp.Regexp) []string {
	t.Helper()
	return waitStdoutWithin(t, s, re, 10*time.Second)
}

// demoLoadWait bounds the wait for the demo store's example customer line,
// which comes once the demo is applied: seconds alone, longer beside a
// full parallel test run.
const demoLoadWait = 60 * time.Second

// waitExampleCustomer waits for `serve --demo`'s example customer line and returns its
// submatches (the customer id first).
func waitExampleCustomer(t *testing.T, s *server) []string {
	t.Helper()
	return waitStdoutWithin(t, s, exampleLine, demoLoadWait)
}

// waitStdoutWithin is waitStdout with its own bound.
func waitStdoutWithin(t *testing.T, s *server, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if m := re.FindStringSubmatch(s.stdout.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line matching %s on stdout:\n%s", re, s.stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type cookieClient struct {
	base string
	c    *http.Client
}

func newCookieClient(t *testing.T, base string) *cookieClient {
	jar, _ := cookiejar.New(nil)
	return &cookieClient{base, &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (b *cookieClient) cookie(name string) string {
	req, _ := http.NewRequest("GET", b.base, nil)
	for _, c := range b.c.Jar.Cookies(req.URL) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *cookieClient) send(t *testing.T, method, path, body, csrf string) int {
	t.Helper()
	req, _ := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
