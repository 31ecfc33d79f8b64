// Package web serves the marketer's dashboard: a single-page application of
// ES modules (Preact + htm, uPlot) embedded in the binary, which reads and
// writes only through the admin API under /api.
//
// What must stay true:
//   - The asset tree is served under a prefix holding a hash of all of it
//     (/assets/v-<hash>/…), so those answers may be cached for a year: a new
//     build is a new prefix. The unversioned /assets/… also works, revalidated
//     by ETag. Modules must therefore import each other by relative path
//     (./lib.js, ../lib.js): one module under two URLs is two instances, and
//     two Preacts break hooks (TestAssetsImportRelatively keeps this).
//   - index.html is answered for the page paths of routes below, and the
//     router in assets/app.js knows the same list.
//   - No inline script: the Content-Security-Policy forbids it, so the
//     dashboard cannot be made to run injected script.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed assets
var embedded embed.FS

// Pages are the page paths of the dashboard, as ServeMux patterns; each is
// answered with index.html, and the router in app.js renders the page.
var Pages = []string{
	"/{$}", "/login", "/profiles", "/profiles/{id}", "/segments", "/segments/new",
	"/segments/{id}", "/segments/{id}/edit", "/segments/{id}/why/{identifier}",
	"/events", "/sources", "/catalog", "/catalog/{id}", "/users",
	"/templates", "/templates/new", "/templates/{id}",
	"/journeys", "/journeys/{id}",
	"/experiments", "/experiments/{id}",
	"/placements", "/placements/{id}",
	"/predictions",
	"/recommendations",
}

// CSP is the Content-Security-Policy of every dashboard answer. Scripts come
// only from this origin as files; inline styles are allowed because uPlot
// sizes its canvas with style attributes and pages keep their CSS in a
// <style> inside their module.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const (
	immutable   = "public, max-age=31536000, immutable"
	revalidate  = "no-cache"
	versionPref = "v-"
)

// asset is one embedded file, prepared once: its bytes, gzip-compressed bytes
// when that saves space, and their ETags.
type asset struct {
	ctype      string
	body, gz   []byte
	etag, gzET string
}

// site is everything the handler serves, built once from the embedded files.
type site struct {
	assets  map[string]*asset // by path under assets/, e.g. "lib.js"
	version string            // hash of all assets, the cacheable prefix is /assets/v-<version>/
	index   *asset            // index.html with the prefix filled in
}

var load = sync.OnceValues(func() (*site, error) { return build(embedded) })

// build reads the asset tree of fsys (rooted at "assets/"), hashes it and
// compresses each file.
func build(fsys fs.FS) (*site, error) {
	s := &site{assets: map[string]*asset{}}
	raw := map[string][]byte{}
	err := fs.WalkDir(fsys, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", p, err)
		}
		raw[strings.TrimPrefix(p, "assets/")] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(raw[n]))
		h.Write(raw[n])
	}
	s.version = hex.EncodeToString(h.Sum(nil))[:12]
	for _, n := range names {
		if n == "index.html" {
			continue
		}
		a, err := prepare(n, raw[n])
		if err != nil {
			return nil, err
		}
		s.assets[n] = a
	}
	idx, ok := raw["index.html"]
	if !ok {
		return nil, fmt.Errorf("embedded assets have no index.html")
	}
	idx = bytes.ReplaceAll(idx, []byte("{{ASSETS}}"), []byte(s.Prefix()))
	if s.index, err = prepare("index.html", idx); err != nil {
		return nil, err
	}
	return s, nil
}

// Prefix is the URL path under which this build's assets are cacheable.
func (s *site) Prefix() string { return "/assets/" + versionPref + s.version + "/" }

func prepare(name string, body []byte) (*asset, error) {
	a := &asset{ctype: contentType(name), body: body, etag: etag(body, "")}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("gzip %s: %w", name, err)
	}
	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("gzip %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip %s: %w", name, err)
	}
	// Already-compressed files (images) do not shrink; send them as they are.
	if buf.Len() < len(body) {
		a.gz, a.gzET = buf.Bytes(), etag(body, "-gz")
	}
	return a, nil
}

func etag(b []byte, suffix string) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:8]) + suffix + `"`
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case "", ".md":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// Handler serves the dashboard: the assets under /assets/ and index.html for
// every page path (for any other GET too, with status 404). Mount it at "/"
// below the more specific API routes.
func Handler() http.Handler {
	s, err := load()
	if err != nil {
		// The assets are compiled in; failing to read them is a broken build.
		panic(fmt.Sprintf("web: %v", err))
	}
	return s.handler()
}

func (s *site) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /assets/", s.serveAsset)
	for _, p := range Pages {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", revalidate)
			serve(w, r, s.index, http.StatusOK)
		})
	}
	// Any other path is 404, answered with the app, which says so within
	// its navigation instead of leaving the user on a bare error.
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", revalidate)
		serve(w, r, s.index, http.StatusNotFound)
	})
	return secure(mux)
}

func (s *site) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/assets/")
	cache := revalidate
	if v, rest, ok := strings.Cut(name, "/"); ok && strings.HasPrefix(v, versionPref) {
		name = rest
		// An older prefix (a tab open across an upgrade) gets today's file,
		// but not for a year.
		if v == versionPref+s.version {
			cache = immutable
		}
	}
	a, ok := s.assets[name]
	if !ok {
		http.Error(w, "no such asset", http.StatusNotFound)
		return
	}
	w.Header().Set("Cache-Control", cache)
	serve(w, r, a, http.StatusOK)
}

// serve answers a with status, compressed when the client accepts gzip, and
// 304 when the client's copy is current.
func serve(w http.ResponseWriter, r *http.Request, a *asset, status int) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	body, tag := a.body, a.etag
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, tag = a.gz, a.gzET
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", tag)
	if match := r.Header.Get("If-None-Match"); status == http.StatusOK && match != "" && etagListHas(match, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip: a
// "gzip" (or "*") entry whose q is not 0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip", "*":
		default:
			continue
		}
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if q, err := strconv.ParseFloat(v, 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

func etagListHas(list, tag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag || t == "*" {
			return true
		}
	}
	return false
}

// secure adds the browser security headers to every answer of next.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}
