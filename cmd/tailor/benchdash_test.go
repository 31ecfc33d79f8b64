package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"tailor/internal/web"
)

var testDashIDs = dashIDs{Customer: "user-3", Profile: "p_1", Segment: "vip", Product: "sku-1", SegmentRule: []byte(`{"trait":"plan","op":"eq","value":"pro"}`),
	Complements: []string{"Accessories > Bags", "Shoes"}}

// eachCall calls fn for every call of cs, the waiting ones included.
func eachCall(cs []dashCall, fn func(dashCall)) {
	for _, c := range cs {
		fn(c)
		eachCall(c.Then, fn)
	}
}

// Every page the bench opens is one the dashboard serves index.html for.
func TestDashboardBenchPagesAreDashboardPages(t *testing.T) {
	h := web.Handler()
	for _, p := range dashboardPages(testDashIDs) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p.Path, nil))
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "app.js") {
			t.Errorf("page %s: GET %s = %d, want the dashboard's index.html", p.Name, p.Path, w.Code)
		}
		eachCall(p.Calls, func(c dashCall) {
			if !strings.HasPrefix(c.Path, "/api/") {
				t.Errorf("page %s calls %s, not the admin API", p.Name, c.Path)
			}
		})
	}
}

func TestDashboardBenchRenderSendsThePageAndItsCalls(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		if strings.Contains(r.URL.Path, "missing") {
			http.Error(w, `{"error":"no"}`, http.StatusNotFound)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	b := &dashBench{base: srv.URL, token: "tok", client: srv.Client()}
	page := dashPage{Name: "x", Path: "/x", Calls: []dashCall{
		{Method: "GET", Path: "/api/a", Then: []dashCall{{Method: "POST", Path: "/api/c", Body: map[string]int{"n": 1}}}},
		{Method: "GET", Path: "/api/b"},
	}}
	if _, err := b.render(context.Background(), page); err != nil {
		t.Fatal(err)
	}
	if got[0] != "GET /x " {
		t.Errorf("first request %q, want the page's HTML without the token", got[0])
	}
	if len(got) != 4 {
		t.Fatalf("requests %q, want the page and its 3 calls", got)
	}
	if ia, ic := slices.Index(got, "GET /api/a Bearer tok"), slices.Index(got, "POST /api/c Bearer tok"); ia < 1 || ic < ia {
		t.Errorf("requests %q: want GET /api/a, then the POST that waits for it", got)
	}
	if !slices.Contains(got, "GET /api/b Bearer tok") {
		t.Errorf("requests %q: want GET /api/b", got)
	}
	page.Calls[1].Path = "/api/missing"
	if _, err := b.render(context.Background(), page); err == nil || !strings.Contains(err.Error(), "/api/missing answered 404") {
		t.Errorf("a call answering 404: err = %v, want it named", err)
	}
}

// pageModules maps each benched page to the modules whose calls it makes
// (app.js and lib.js are the shell's: who is logged in).
var pageModules = map[string][]string{
	"login": {"pages/login.js"}, "overview": {"pages/overview.js"}, "profiles": {"pages/profiles.js"},
	"profile": {"pages/profile.js"}, "segments": {"pages/segments.js"}, "segment-new": {"pages/segment-edit.js"},
	"segment": {"pages/segment.js"}, "segment-edit": {"pages/segment-edit.js"}, "why": {"pages/why.js"},
	"events": {"pages/events.js"}, "sources": {"pages/sources.js"}, "catalog": {"pages/catalog.js"},
	"product": {"pages/catalog.js"}, "users": {"pages/users.js"},
}

// notAtLoad are the calls of a module that no page sends at its first
// render, with why.
var notAtLoad = map[string]map[string]string{
	"pages/login.js":    {"/api/auth/login": "on submit"},
	"pages/profiles.js": {"/api/profiles": "the trait search, on submit (the bench opens a search by identifier)"},
	"pages/sources.js":  {"/api/sources/*": "revoke, on click"},
	"pages/users.js":    {"/api/users/*": "remove, on click"},
	"app.js":            {"/api/auth/logout": "on click"},
}

// apiCall finds the paths a module passes to api(...), up to the query.
var apiCall = regexp.MustCompile("api\\(\\s*['\"`](/api/[^'\"`?]*)")

// jsTemplate turns a JS path (`/api/x/${enc}`) into the shape the table's
// paths are compared in (/api/x/*).
func jsTemplate(p string) string { return regexp.MustCompile(`\$\{[^}]*\}`).ReplaceAllString(p, "*") }

// tableTemplate turns a table path into the same shape: its ids become *.
func tableTemplate(p string, id dashIDs) string {
	p, _, _ = strings.Cut(p, "?")
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if u, err := url.PathUnescape(s); err == nil && slices.Contains([]string{id.Customer, id.Profile, id.Segment, id.Product}, u) {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, "/")
}

// The bench's table and the page modules agree: every call in the table is
// one its page's module makes, and every call a module makes is in the
// table or known not to go out at load. A page that starts loading
// something new fails here until the table has it.
func TestDashboardBenchTableMatchesThePages(t *testing.T) {
	const assets = "../../internal/web/assets/"
	calls := map[string][]string{} // module -> its api paths
	read := func(mod string) []string {
		if c, ok := calls[mod]; ok {
			return c
		}
		src, err := os.ReadFile(assets + mod)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range apiCall.FindAllStringSubmatch(string(src), -1) {
			out = append(out, jsTemplate(m[1]))
		}
		calls[mod] = out
		return out
	}
	shell := append(read("app.js"), read("lib.js")...)
	used := map[string]map[string]bool{}
	for _, p := range dashboardPages(testDashIDs) {
		mods, ok := pageModules[p.Name]
		if !ok {
			t.Errorf("page %s: no module in pageModules", p.Name)
			continue
		}
		eachCall(p.Calls, func(c dashCall) {
			tmpl := tableTemplate(c.Path, testDashIDs)
			for _, mod := range append(mods, "app.js", "lib.js") {
				if slices.Contains(read(mod), tmpl) {
					if used[mod] == nil {
						used[mod] = map[string]bool{}
					}
					used[mod][tmpl] = true
					return
				}
			}
			t.Errorf("page %s: the table has %s %s (%s), which %v never calls", p.Name, c.Method, c.Path, tmpl, mods)
		})
	}
	if !slices.Contains(shell, "/api/auth/me") {
		t.Errorf("the shell no longer asks /api/auth/me; the table's shell calls are out of date")
	}
	for mod, paths := range calls {
		for _, p := range paths {
			if !used[mod][p] && notAtLoad[mod][p] == "" {
				t.Errorf("%s calls %s, which no page of the bench's table loads: add it to dashboardPages, or to notAtLoad with why", mod, p)
			}
		}
	}
}

// The bench adds the builder's debounce to the preview: it must be the one
// the page waits.
func TestDashboardBenchDebounceIsTheBuilders(t *testing.T) {
	src, err := os.ReadFile("../../internal/web/assets/pages/segment-edit.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`const DEBOUNCE_MS = (\d+);`).FindSubmatch(src)
	if m == nil {
		t.Fatal("segment-edit.js no longer declares const DEBOUNCE_MS = <ms>;")
	}
	if got := string(m[1]) + "ms"; got != builderDebounce.String() {
		t.Errorf("segment-edit.js debounces %s, the bench adds %s", got, builderDebounce)
	}
}
