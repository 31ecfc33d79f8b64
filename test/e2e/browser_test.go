package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// chromiumPath is the browser TestAnalyticsBrowser drives.
func chromiumPath() string {
	if p := os.Getenv("TAILOR_E2E_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// browserSummary is what browser-client.mjs prints.
type browserSummary struct {
	Result *struct {
		AnonymousID      string            `json:"anonymousId"`
		UserID           string            `json:"userId"`
		MessageIDs       []string          `json:"messageIds"`
		FailedDeliveries []string          `json:"failedDeliveries"`
		IdentifiedAs     map[string]string `json:"identifiedAs"` // userId -> anonymousId of its identify
	} `json:"result"`
	CookieAnonymousID  *string `json:"cookieAnonymousId"`
	StorageAnonymousID *string `json:"storageAnonymousId"`
	Requests           []struct {
		Method, URL, ResourceType string
	} `json:"requests"`
	APIResponses []struct {
		URL, Method string
		Status      int
		AllowOrigin *string `json:"allowOrigin"`
	} `json:"apiResponses"`
	Retried []struct {
		URL, Error, At, Probe string
	} `json:"retried"`
	Forbidden []string `json:"forbidden"`
	Console   []string `json:"console"`
	Errors    []string `json:"errors"`
}

// runBrowser serves the e2e shop page (test/sdk/browser/index.html) and the
// analytics-next bundle on an origin of their own, opens the page with query
// q in a headless Chromium pointed at s, and returns what
// browser-client.mjs reports and the shop's origin. It fails the test when
// the run failed or the page contacted another host; a missing node, npm
// package or Chromium skips it (fails it in CI).
func runBrowser(t *testing.T, s *server, q url.Values) (*browserSummary, string) {
	t.Helper()
	node := requireNode(t, "playwright-core", "@segment/analytics-next")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	umd := filepath.Join(sdkDir(), "node_modules", "@segment", "analytics-next", "dist", "umd")
	if _, err := os.Stat(filepath.Join(umd, "index.js")); err != nil {
		t.Fatalf("analytics-next UMD bundle missing: %v", err)
	}

	// The shop: its own origin (another port), serving the page and the
	// analytics-next bundle with its lazily loaded chunks.
	var mu sync.Mutex
	var served []string
	mux := http.NewServeMux()
	mux.Handle("/analytics-next/bundles/", http.StripPrefix("/analytics-next/bundles/", http.FileServer(http.Dir(umd))))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(sdkDir(), "browser", "index.html"))
	})
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served = append(served, r.Method+" "+r.URL.Path)
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	defer shop.Close()

	q.Set("writeKey", s.WriteKey)
	q.Set("apiHost", strings.TrimPrefix(s.URL, "http://")+"/v1")
	pageURL := shop.URL + "/?" + q.Encode()
	out, runErr := runNode(t, node, 120*time.Second, "browser-client.mjs", "--url", pageURL, "--chromium", chrome)
	mu.Lock()
	t.Logf("the shop served: %q", served)
	mu.Unlock()

	var sum browserSummary
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("browser-client.mjs (%v) printed no JSON summary: %v\n%s", runErr, err, out)
	}
	if len(sum.Console) > 0 {
		t.Logf("browser console:\n%s", strings.Join(sum.Console, "\n"))
	}
	for _, r := range sum.Requests {
		t.Logf("browser request: %s %s (%s)", r.Method, r.URL, r.ResourceType)
	}
	for _, r := range sum.Retried {
		t.Logf("WARNING: %s failed with %s at %s, analytics.js delivered it on a retry (%s)", r.URL, r.Error, r.At, r.Probe)
	}
	if len(sum.Forbidden) > 0 {
		t.Errorf("the page contacted hosts other than this machine: %q", sum.Forbidden)
	}
	if runErr != nil || len(sum.Errors) > 0 || sum.Result == nil {
		t.Fatalf("browser run failed (%v): %s", runErr, strings.Join(sum.Errors, "\n"))
	}
	return &sum, shop.URL
}

// TestAnalyticsBrowser loads analytics.js (@segment/analytics-next) in a
// headless Chromium on a page from another origin, pointed at Tailor through
// its documented settings, and checks the events land in one profile. It
// covers CORS and analytics.js' text/plain JSON bodies with the write key in
// the body, and proves the page talks to nobody but this machine.
func TestAnalyticsBrowser(t *testing.T) {
	s := startServer(t, t.TempDir())
	st := newStory("browser")
	sum, shopURL := runBrowser(t, s, url.Values{
		"userId":   {st.UserID},
		"email":    {st.Email},
		"name":     {st.Name},
		"sku":      {st.Purchased},
		"category": {st.Category},
	})
	res := sum.Result
	if res.UserID != st.UserID {
		t.Errorf("analytics.user().id() = %q, want %q", res.UserID, st.UserID)
	}
	if res.AnonymousID == "" {
		t.Fatalf("analytics.js has no anonymous id")
	}
	for _, stored := range []*string{sum.CookieAnonymousID, sum.StorageAnonymousID} {
		if stored != nil && strings.Trim(*stored, `"`) != res.AnonymousID {
			t.Errorf("stored ajs_anonymous_id %q != analytics.user().anonymousId() %q", *stored, res.AnonymousID)
		}
	}
	if sum.CookieAnonymousID == nil && sum.StorageAnonymousID == nil {
		t.Errorf("analytics.js stored no ajs_anonymous_id (cookie or localStorage)")
	}
	if len(res.MessageIDs) != 3 {
		t.Fatalf("analytics.js reported %d message ids, want 3", len(res.MessageIDs))
	}

	// Every call went to Tailor's short paths and passed CORS.
	paths := map[string]bool{}
	for _, r := range sum.APIResponses {
		u, _ := url.Parse(r.URL)
		if u == nil || "http://"+u.Host != s.URL {
			t.Errorf("analytics.js called %s, not the Tailor server %s", r.URL, s.URL)
			continue
		}
		paths[r.Method+" "+u.Path] = true
		if r.Status != http.StatusOK {
			t.Errorf("%s %s: status %d, want 200", r.Method, r.URL, r.Status)
		}
		if r.AllowOrigin == nil || (*r.AllowOrigin != "*" && *r.AllowOrigin != shopURL) {
			t.Errorf("%s %s: Access-Control-Allow-Origin %v, want * or %s", r.Method, r.URL, r.AllowOrigin, shopURL)
		}
	}
	for _, p := range []string{"POST /v1/p", "POST /v1/i", "POST /v1/t"} {
		if !paths[p] {
			t.Errorf("analytics.js made no %s request; it made %v", p, sortedKeys(paths))
		}
	}

	p := s.waitProfile(t, st.UserID, 0, func(p *Profile) error {
		c := &p.Computed
		switch {
		case !p.hasIdentity("user_id", st.UserID):
			return fmt.Errorf("identities lack user_id %q", st.UserID)
		case !p.hasIdentity("anonymous_id", res.AnonymousID):
			return fmt.Errorf("identities lack the browser's anonymous_id %q", res.AnonymousID)
		case !p.hasIdentity("email", st.Email):
			return fmt.Errorf("identities lack email %q", st.Email)
		case c.TypeCounts["page"] != 1 || c.TypeCounts["identify"] != 1 || c.TypeCounts["track"] != 1:
			return fmt.Errorf("type_counts = %v, want page 1, identify 1, track 1", c.TypeCounts)
		case c.EventCounts["Product Viewed"] != 1:
			return fmt.Errorf("event_counts = %v, want Product Viewed 1", c.EventCounts)
		case c.EventCount != 3:
			return fmt.Errorf("event_count = %d, want 3", c.EventCount)
		}
		return nil
	})
	if !p.Computed.viewed(st.Purchased) {
		t.Errorf("recently_viewed %v lacks %q", p.Computed.RecentlyViewed, st.Purchased)
	}
	if got, _ := p.Traits["email"].(string); got != st.Email {
		t.Errorf("traits.email = %q, want %q", got, st.Email)
	}
	if got, _ := p.Traits["name"].(string); got != st.Name {
		t.Errorf("traits.name = %q, want %q", got, st.Name)
	}
	if q, ok := s.getProfile(t, res.AnonymousID); !ok || q.ID != p.ID {
		t.Errorf("GET /api/profiles/%s (the browser's anonymous id): found=%v id=%q, want %s", res.AnonymousID, ok, q.ID, p.ID)
	}
	tl := s.waitTimeline(t, st.UserID, res.MessageIDs, 0)
	for _, e := range tl {
		if e.AnonymousID != res.AnonymousID {
			t.Errorf("timeline event %s (%s) has anonymous_id %q, want %q", e.MessageID, e.Type, e.AnonymousID, res.AnonymousID)
		}
		if _, ok := e.Context["library"]; !ok {
			t.Errorf("timeline event %s (%s) lost analytics.js' context.library: context %v", e.MessageID, e.Type, e.Context)
		}
	}
}
