package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func testSite(t *testing.T) *site {
	t.Helper()
	s, err := load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestPagePathsAnswerIndexAndOthersNot(t *testing.T) {
	s := testSite(t)
	h := s.handler()
	tests := []struct {
		method, path string
		status       int
		index        bool // the answer is index.html
	}{
		{"GET", "/", 200, true},
		{"GET", "/login", 200, true},
		{"GET", "/login?next=%2Fprofiles", 200, true},
		{"GET", "/profiles", 200, true},
		{"GET", "/profiles/user-3", 200, true},
		{"GET", "/profiles/a%2Fb", 200, true},
		{"GET", "/segments", 200, true},
		{"GET", "/segments/new", 200, true},
		{"GET", "/segments/vip", 200, true},
		{"GET", "/segments/vip/edit", 200, true},
		{"GET", "/segments/vip/why/user-3", 200, true},
		{"GET", "/events", 200, true},
		{"GET", "/sources", 200, true},
		{"GET", "/catalog", 200, true},
		{"GET", "/catalog/sku-1", 200, true},
		{"GET", "/users", 200, true},
		{"HEAD", "/profiles", 200, false},
		{"GET", "/nope", 404, true},
		{"GET", "/profiles/a/b", 404, true},
		{"GET", "/segments/vip/why", 404, true},
		{"POST", "/profiles", 405, false},
		{"GET", "/assets/nope.js", 404, false},
		{"GET", "/assets/" + versionPref + s.version + "/nope.js", 404, false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := get(t, h, tt.method, tt.path, nil)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
			isIndex := bytes.Contains(w.Body.Bytes(), []byte(`<script type="module" src="`+s.Prefix()+`app.js"></script>`))
			if isIndex != tt.index {
				t.Errorf("answered index.html: %v, want %v", isIndex, tt.index)
			}
			if tt.index && w.Header().Get("Cache-Control") != revalidate {
				t.Errorf("Cache-Control %q, want %q: a new build must reach the browser", w.Header().Get("Cache-Control"), revalidate)
			}
			if tt.method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("HEAD answered a body of %d bytes", w.Body.Len())
			}
		})
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	s := testSite(t)
	h := s.handler()
	for _, p := range []string{"/", "/profiles/x", "/assets/lib.js", "/assets/nope", "/nope"} {
		w := get(t, h, "GET", p, nil)
		hd := w.Header()
		csp := hd.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if m := regexp.MustCompile(`script-src[^;]*`).FindString(csp); strings.Contains(m, "unsafe") {
			t.Errorf("%s: CSP allows unsafe scripts: %q", p, m)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") == "" || hd.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", p, hd)
		}
	}
}

func TestAssetCachingCompressionAndRevalidation(t *testing.T) {
	s := testSite(t)
	h := s.handler()
	lib, err := fs.ReadFile(embedded, "assets/lib.js")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, encoding string
		cache                string
		gzipped              bool
	}{
		{"versioned, gzip", s.Prefix() + "lib.js", "gzip, deflate, br", immutable, true},
		{"versioned, identity", s.Prefix() + "lib.js", "", immutable, false},
		{"versioned, gzip refused", s.Prefix() + "lib.js", "gzip;q=0, identity", immutable, false},
		{"versioned, any", s.Prefix() + "lib.js", "*", immutable, true},
		{"plain path", "/assets/lib.js", "gzip", revalidate, true},
		{"old version", "/assets/" + versionPref + "000000000000/lib.js", "gzip", revalidate, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := get(t, h, "GET", tt.path, map[string]string{"Accept-Encoding": tt.encoding})
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			hd := w.Header()
			if hd.Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control %q, want %q", hd.Get("Cache-Control"), tt.cache)
			}
			if ct := hd.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
				t.Errorf("Content-Type %q", ct)
			}
			if !strings.Contains(hd.Get("Vary"), "Accept-Encoding") {
				t.Errorf("Vary %q lacks Accept-Encoding", hd.Get("Vary"))
			}
			body := w.Body.Bytes()
			if got := hd.Get("Content-Encoding") == "gzip"; got != tt.gzipped {
				t.Fatalf("gzipped %v, want %v", got, tt.gzipped)
			}
			if tt.gzipped {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, lib) {
				t.Errorf("body is not lib.js (%d bytes, want %d)", len(body), len(lib))
			}
			// The same ETag again: nothing to send.
			again := get(t, h, "GET", tt.path, map[string]string{"Accept-Encoding": tt.encoding, "If-None-Match": hd.Get("ETag")})
			if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
				t.Errorf("If-None-Match %s: status %d, %d bytes; want 304, none", hd.Get("ETag"), again.Code, again.Body.Len())
			}
		})
	}
	// The two encodings are different representations, so different tags.
	a := get(t, h, "GET", "/assets/lib.js", map[string]string{"Accept-Encoding": "gzip"}).Header().Get("ETag")
	b := get(t, h, "GET", "/assets/lib.js", nil).Header().Get("ETag")
	if a == b || a == "" {
		t.Errorf("ETags gzip %q and identity %q must differ", a, b)
	}
}

func TestIndexHasNoInlineScript(t *testing.T) {
	s := testSite(t)
	for _, m := range regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(string(s.index.body), -1) {
		if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
			t.Errorf("inline script in index.html (the CSP blocks it): %s", m[0])
		}
	}
	if bytes.Contains(s.index.body, []byte("{{")) {
		t.Errorf("index.html keeps a placeholder: %s", s.index.body)
	}
}

// staticImport matches the specifier of `import … from "x"`, `import "x"`
// and `export … from "x"`; dynamic import() (a page, uPlot) is not loaded
// at start and does not match.
var staticImport = regexp.MustCompile(`(?:^|[;\s}])(?:import|export)\s*(?:[\w*{}\s,$]*?\bfrom\s*)?["']([^"']+)["']`)

// imports returns the assets the module name imports statically, as asset
// paths.
func imports(t *testing.T, s *site, name string) []string {
	t.Helper()
	a, ok := s.assets[name]
	if !ok {
		t.Fatalf("no asset %s", name)
	}
	var out []string
	for _, m := range staticImport.FindAllSubmatch(a.body, -1) {
		spec := string(m[1])
		if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
			t.Errorf("%s imports %q: assets import each other by relative path only (an absolute or bare one loads a second copy or fails)", name, spec)
			continue
		}
		out = append(out, path.Join(path.Dir(name), spec))
	}
	return out
}

func TestAssetsImportRelativelyAndResolve(t *testing.T) {
	s := testSite(t)
	for name := range s.assets {
		if path.Ext(name) != ".js" && path.Ext(name) != ".mjs" {
			continue
		}
		for _, dep := range imports(t, s, name) {
			if _, ok := s.assets[dep]; !ok {
				t.Errorf("%s imports %s, which is not an asset", name, dep)
			}
		}
	}
}

func TestRouterKnowsThePagePaths(t *testing.T) {
	s := testSite(t)
	var routes []string
	for _, m := range regexp.MustCompile(`\['(/[^']*)', '[\w-]+', '[^']*'\]`).FindAllSubmatch(s.assets["app.js"].body, -1) {
		r := regexp.MustCompile(`:(\w+)`).ReplaceAllString(string(m[1]), "{$1}")
		if r == "/" {
			r = "/{$}"
		}
		routes = append(routes, r)
	}
	want := slices.Clone(Pages)
	slices.Sort(routes)
	slices.Sort(want)
	if !slices.Equal(routes, want) {
		t.Errorf("app.js routes %v\n  web.Pages %v\nmust be the same paths", routes, want)
	}
}

// maxFirstVisit is the budget for a first visit, compressed.
const maxFirstVisit = 500 << 10

// TestFirstVisitWeight adds up what a first visit downloads, gzip-compressed
// as served: index.html, what it links (style, icon, preloads, app.js) and
// every module app.js imports at start, plus the heaviest page module with
// its own imports (the page the visit lands on). uPlot, loaded by the first
// chart, counts too, since the overview page draws charts.
func TestFirstVisitWeight(t *testing.T) {
	s := testSite(t)
	size := func(a *asset) int {
		if a.gz != nil {
			return len(a.gz)
		}
		return len(a.body)
	}
	seen := map[string]bool{}
	var walk func(string)
	walk = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if path.Ext(name) == ".js" || path.Ext(name) == ".mjs" {
			for _, d := range imports(t, s, name) {
				walk(d)
			}
		}
	}
	for _, m := range regexp.MustCompile(`(?:href|src)="`+regexp.QuoteMeta(s.Prefix())+`([^"]+)"`).FindAllSubmatch(s.index.body, -1) {
		walk(string(m[1]))
	}
	if !seen["app.js"] || !seen["lib.js"] || !seen["vendor/preact.mjs"] {
		t.Fatalf("index.html does not load app.js, lib.js and Preact: %v", seen)
	}
	for _, lazy := range []string{"vendor/uplot.mjs", "vendor/uplot.css"} {
		walk(lazy)
	}
	shell := size(s.index)
	for n := range seen {
		a, ok := s.assets[n]
		if !ok {
			t.Fatalf("index.html or a module loads %s, which is not an asset", n)
		}
		shell += size(a)
	}
	heaviest, heaviestName := 0, ""
	for name := range s.assets {
		if !strings.HasPrefix(name, "pages/") {
			continue
		}
		pageSeen := map[string]bool{}
		var pw func(string)
		pw = func(n string) {
			if seen[n] || pageSeen[n] {
				return
			}
			pageSeen[n] = true
			for _, d := range imports(t, s, n) {
				pw(d)
			}
		}
		pw(name)
		w := 0
		for n := range pageSeen {
			if a, ok := s.assets[n]; ok {
				w += size(a)
			}
		}
		if w > heaviest {
			heaviest, heaviestName = w, name
		}
	}
	total := shell + heaviest
	t.Logf("first visit: %d bytes gzipped (shell, uPlot included: %d in %d files; heaviest page %s: %d)", total, shell, len(seen)+1, heaviestName, heaviest)
	if total > maxFirstVisit {
		t.Errorf("first visit weighs %d bytes gzipped, over the budget of %d", total, maxFirstVisit)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tt := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"deflate, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"br", false},
		{"*", true},
		{"identity, *;q=0", false},
	} {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}
