package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"tailor/internal/web"
)

var testDashIDs = dashIDs{Customer: "user-3", Profile: "p_1", Segment: "vip", Product: "sku-1", SegmentRule: []byte(`{"trait":"plan","op":"eq","value":"pro"}`)}

// Every page the bench opens is one the dashboard serves index.html for.
func TestDashboardBenchPagesAreDashboardPages(t *testing.T) {
	h := web.Handler()
	for _, p := range dashboardPages(testDashIDs) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p.Path, nil))
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "app.js") {
			t.Errorf("page %s: GET %s = %d, want the dashboard's index.html", p.Name, p.Path, w.Code)
		}
		for _, ph := range p.Phases {
			for _, c := range ph {
				if !strings.HasPrefix(c.Path, "/api/") {
					t.Errorf("page %s calls %s, not the admin API", p.Name, c.Path)
				}
			}
		}
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
	page := dashPage{Name: "x", Path: "/x", Phases: [][]dashCall{
		{{Method: "GET", Path: "/api/a"}, {Method: "GET", Path: "/api/b"}},
		{{Method: "POST", Path: "/api/c", Body: map[string]int{"n": 1}}},
	}}
	if _, err := b.render(context.Background(), page); err != nil {
		t.Fatal(err)
	}
	if got[0] != "GET /x " {
		t.Errorf("first request %q, want the page's HTML without the token", got[0])
	}
	if got[3] != "POST /api/c Bearer tok" {
		t.Errorf("last request %q, want the second phase's POST after the first phase", got[3])
	}
	slices.Sort(got[1:3])
	if want := []string{"GET /api/a Bearer tok", "GET /api/b Bearer tok"}; !slices.Equal(got[1:3], want) {
		t.Errorf("first phase %q, want %q", got[1:3], want)
	}
	page.Phases[0][1].Path = "/api/missing"
	if _, err := b.render(context.Background(), page); err == nil || !strings.Contains(err.Error(), "/api/missing answered 404") {
		t.Errorf("a call answering 404: err = %v, want it named", err)
	}
}
