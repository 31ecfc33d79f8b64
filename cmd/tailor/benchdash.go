package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of `tailor bench dashboard`.
const (
	dashBenchRuns     = 50
	dashBenchCustomer = "user-3" // the demo's example customer
	dashBenchTimeout  = 30 * time.Second
)

// dashCall is one request a page makes, and the requests that the page
// sends only once this one has answered (a part of the page drawn from its
// answer, which then loads its own data).
type dashCall struct {
	Method, Path string
	Body         any // JSON-encoded when not nil
	Then         []dashCall
}

// dashPage is a dashboard page as its first render loads it: its HTML, then
// the API calls its effects send at once (each with the calls that wait for
// it).
type dashPage struct {
	Name, Path string
	Calls      []dashCall
}

// count is how many calls cs make, the waiting ones included.
func count(cs []dashCall) int {
	n := len(cs)
	for _, c := range cs {
		n += count(c.Then)
	}
	return n
}

// dashIDs are the ids the pages are opened with.
type dashIDs struct {
	Customer, Profile, Segment, Product string
	SegmentRule                         json.RawMessage
	// Complements are the product's complementary categories: its page
	// lists a few products of each.
	Complements []string
}

// dashboardPages is the table of pages and the API calls each makes at
// load, read from the page modules (internal/web/assets/pages) and the
// shell (app.js: every page but the login asks who is logged in). Keep it
// in step with them: a page that starts loading something else belongs
// here (TestDashboardBenchTableMatchesThePages checks the paths). Not
// timed: the assets (served from memory, cached for a year under their
// versioned path), the live events stream (it never ends), what a page
// loads on scrolling or typing, and the builder's debounce before its
// first preview (a browser wait, not server time).
func dashboardPages(id dashIDs) []dashPage {
	get := func(path string, then ...dashCall) dashCall {
		return dashCall{Method: http.MethodGet, Path: path, Then: then}
	}
	me := get("/api/auth/me")
	shell := func(calls ...dashCall) []dashCall { return append([]dashCall{me}, calls...) }
	seg, cust, prof := url.PathEscape(id.Segment), url.PathEscape(id.Customer), url.PathEscape(id.Profile)
	var complements []dashCall
	for _, c := range id.Complements {
		complements = append(complements, get("/api/catalog/products?"+url.Values{"category": {c}, "limit": {"4"}}.Encode()))
	}
	return []dashPage{
		{"login", "/login", nil},
		{"overview", "/", shell(get("/api/stats?range=hour"))},
		{"profiles", "/profiles?id=" + url.QueryEscape(id.Customer), shell(get("/api/profiles/" + cust))},
		// The timeline is drawn once the profile has answered.
		{"profile", "/profiles/" + prof, shell(get("/api/profiles/"+prof, get("/api/profiles/"+prof+"/timeline?limit=50")),
			get("/api/profiles/"+prof+"/segments"), get("/api/profiles/"+prof+"/merges"))},
		{"segments", "/segments", shell(get("/api/segments?history=30"))},
		{"segment-new", "/segments/new", shell(get("/api/segments/vocabulary"), get("/api/segments"))},
		// The members are drawn once the segment has answered.
		{"segment", "/segments/" + seg, shell(get("/api/segments/"+seg, get("/api/segments/"+seg+"/members?limit=50")),
			get("/api/segments/vocabulary"), get("/api/segments/"+seg+"/history?days=90"))},
		// The preview of the loaded rule goes out once the segment has answered.
		{"segment-edit", "/segments/" + seg + "/edit", shell(get("/api/segments/vocabulary"), get("/api/segments"),
			get("/api/segments/"+seg, dashCall{Method: http.MethodPost, Path: "/api/segments/preview",
				Body: map[string]any{"sample": 12, "rule": id.SegmentRule, "against": id.Segment}}))},
		{"why", "/segments/" + seg + "/why/" + prof, shell(get("/api/segments/"+seg+"/explain/"+prof), get("/api/segments/"+seg))},
		{"events", "/events", shell(get("/api/sources"), get("/api/rejected?limit=50"))},
		{"sources", "/sources", shell(get("/api/sources"))},
		{"catalog", "/catalog", shell(get("/api/catalog/categories"), get("/api/catalog/products?limit=50"))},
		// Each complementary category's few products load once the product has answered.
		{"product", "/catalog/" + url.PathEscape(id.Product), shell(get("/api/catalog/products/"+url.PathEscape(id.Product), complements...))},
		{"users", "/users", shell(get("/api/users"))},
	}
}

// dashBench is one run of `tailor bench dashboard`.
type dashBench struct {
	base, token string
	client      *http.Client
}

func benchDashboard(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench dashboard", flag.ContinueOnError)
	base := fs.String("url", "", "base URL of a running server, e.g. http://127.0.0.1:8080 (required)")
	token := fs.String("admin-token", os.Getenv("TAILOR_ADMIN_TOKEN"), "admin token, for the pages' API calls [TAILOR_ADMIN_TOKEN] (required)")
	runs := fs.Int("runs", dashBenchRuns, "timed renders of each page, after one untimed")
	customer := fs.String("customer", dashBenchCustomer, "the customer whose profile pages are opened")
	segID := fs.String("segment", "", "the segment whose pages are opened (default: the largest)")
	if help, err := parseBenchFlags(fs, args); help || err != nil {
		return err
	}
	switch {
	case *base == "":
		return fmt.Errorf("%w: --url is required (the server's base URL, e.g. http://127.0.0.1:8080)", errUsage)
	case *token == "":
		return fmt.Errorf("%w: --admin-token is required (printed by 'tailor serve' at start)", errUsage)
	case *runs < 1:
		return fmt.Errorf("%w: --runs must be at least 1, got %d", errUsage, *runs)
	}
	b := &dashBench{base: strings.TrimRight(*base, "/"), token: *token,
		client: &http.Client{Timeout: dashBenchTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	ids, err := b.ids(ctx, *customer, *segID)
	if err != nil {
		return err
	}
	fmt.Printf("dashboard first render, server side: HTML, then the API calls the page makes at load (together, as the browser sends them, a call that needs another's answer after it); %d runs each\n", *runs)
	fmt.Printf("customer %s (%s), segment %s, product %s\n", ids.Customer, ids.Profile, ids.Segment, ids.Product)
	// The baseline: a request that does no work, the floor of every line.
	pages := append([]dashPage{{Name: "baseline", Path: "/healthz"}}, dashboardPages(ids)...)
	var failed []string
	for _, p := range pages {
		times := make([]time.Duration, 0, *runs)
		var err error
		for i := 0; i <= *runs && err == nil; i++ {
			var d time.Duration
			if d, err = b.render(ctx, p); i > 0 && err == nil { // the first is a warm-up
				times = append(times, d)
			}
		}
		calls := count(p.Calls)
		if err != nil {
			failed = append(failed, p.Name)
			fmt.Printf("%-13s %-50s error: %v\n", p.Name, p.Path, err)
			continue
		}
		slices.Sort(times)
		fmt.Printf("%-13s %-50s p50 %7s  p99 %7s  (%d API calls)\n", p.Name, p.Path,
			fmtMillis(quantile(times, 0.50)), fmtMillis(quantile(times, 0.99)), calls)
	}
	if err := b.builder(ctx, *runs); err != nil {
		failed = append(failed, "builder ("+err.Error()+")")
	}
	if len(failed) > 0 {
		return fmt.Errorf("bench dashboard: %d pages failed to load: %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}

// builderDebounce is how long the rule builder waits after an edit before
// it asks for the count (DEBOUNCE_MS of pages/segment-edit.js; a test keeps
// the two equal).
const builderDebounce = 100 * time.Millisecond

// builder times the rule builder's count refresh: the debounce, then the
// preview of the edited rule. Every saved segment's rule stands in for an
// edit, as a new rule (the count and sample) and as an edit of that segment
// (with the +entering / -leaving difference).
func (b *dashBench) builder(ctx context.Context, runs int) error {
	var segs struct {
		Segments []struct {
			ID   string          `json:"id"`
			Rule json.RawMessage `json:"rule"`
		} `json:"segments"`
	}
	if err := b.getJSON(ctx, "/api/segments", &segs); err != nil {
		return err
	}
	fmt.Printf("builder count refresh after the last edit: the debounce (%s) + the preview's answer; %d runs each\n", fmtMillis(builderDebounce), runs)
	var worst time.Duration
	for _, sg := range segs.Segments {
		for _, against := range []string{"", sg.ID} {
			body := map[string]any{"sample": 12, "rule": sg.Rule}
			name := sg.ID + " (new)"
			if against != "" {
				body["against"], name = against, sg.ID+" (edit)"
			}
			call := dashCall{Method: http.MethodPost, Path: "/api/segments/preview", Body: body}
			times := make([]time.Duration, 0, runs)
			for i := 0; i <= runs; i++ {
				start := time.Now()
				if _, err := b.do(ctx, call); err != nil {
					return err
				}
				if i > 0 {
					times = append(times, time.Since(start))
				}
			}
			slices.Sort(times)
			p99 := quantile(times, 0.99)
			worst = max(worst, p99)
			fmt.Printf("  %-34s preview p50 %7s  p99 %7s  refresh p50 %7s  p99 %7s\n", name,
				fmtMillis(quantile(times, 0.50)), fmtMillis(p99), fmtMillis(builderDebounce+quantile(times, 0.50)), fmtMillis(builderDebounce+p99))
		}
	}
	fmt.Printf("  slowest refresh p99 %s\n", fmtMillis(builderDebounce+worst))
	return nil
}

// quantile of sorted durations, nearest rank.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func fmtMillis(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// ids finds the profile, segment and product the pages are opened with.
func (b *dashBench) ids(ctx context.Context, customer, segID string) (dashIDs, error) {
	id := dashIDs{Customer: customer}
	var p struct {
		ID string `json:"id"`
	}
	if err := b.getJSON(ctx, "/api/profiles/"+url.PathEscape(customer), &p); err != nil {
		return id, fmt.Errorf("customer %s (--customer): %w", customer, err)
	}
	id.Profile = p.ID
	var segs struct {
		Segments []struct {
			ID   string          `json:"id"`
			Size int             `json:"size"`
			Rule json.RawMessage `json:"rule"`
		} `json:"segments"`
	}
	if err := b.getJSON(ctx, "/api/segments", &segs); err != nil {
		return id, fmt.Errorf("segments: %w", err)
	}
	largest := -1
	for _, s := range segs.Segments {
		if segID == s.ID || segID == "" && s.Size > largest {
			id.Segment, id.SegmentRule, largest = s.ID, s.Rule, s.Size
		}
	}
	if id.Segment == "" {
		if segID != "" {
			return id, fmt.Errorf("--segment %s: no such segment", segID)
		}
		return id, errors.New("the server has no segment; run it with --demo or save one")
	}
	var products struct {
		Products []struct {
			ID string `json:"id"`
		} `json:"products"`
	}
	if err := b.getJSON(ctx, "/api/catalog/products?limit=1", &products); err != nil {
		return id, fmt.Errorf("catalog: %w", err)
	}
	if len(products.Products) == 0 {
		return id, errors.New("the catalog is empty; run the server with --demo")
	}
	id.Product = products.Products[0].ID
	var product struct {
		Attributes struct {
			Complements []string `json:"complements"`
		} `json:"attributes"`
	}
	if err := b.getJSON(ctx, "/api/catalog/products/"+url.PathEscape(id.Product), &product); err != nil {
		return id, fmt.Errorf("product %s: %w", id.Product, err)
	}
	id.Complements = product.Attributes.Complements
	return id, nil
}

func (b *dashBench) getJSON(ctx context.Context, path string, v any) error {
	body, err := b.do(ctx, dashCall{Method: http.MethodGet, Path: path})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// render loads page p once: its HTML, then its calls at once, each call's
// Then as soon as it has answered; it returns the time to the last answer.
func (b *dashBench) render(ctx context.Context, p dashPage) (time.Duration, error) {
	start := time.Now()
	if _, err := b.do(ctx, dashCall{Method: http.MethodGet, Path: p.Path}); err != nil {
		return 0, err
	}
	if err := b.all(ctx, p.Calls); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// all sends calls at once, each followed by its Then, and waits for every one.
func (b *dashBench) all(ctx context.Context, calls []dashCall) error {
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			if _, errs[i] = b.do(ctx, c); errs[i] == nil {
				errs[i] = b.all(ctx, c.Then)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// do sends one call as the dashboard does (gzip accepted, the admin token
// standing in for the session) and reads the whole answer.
func (b *dashBench) do(ctx context.Context, c dashCall) ([]byte, error) {
	var body io.Reader
	if c.Body != nil {
		js, err := json.Marshal(c.Body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", c.Method, c.Path, err)
		}
		body = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, b.base+c.Path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.Method, c.Path, err)
	}
	if strings.HasPrefix(c.Path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+b.token)
		req.Header.Set("Accept", "application/json")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.Method, c.Path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", c.Method, c.Path, err)
	}
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s answered %d: %s", c.Method, c.Path, res.StatusCode, bytes.TrimSpace(out[:min(len(out), 200)]))
	}
	return out, nil
}
