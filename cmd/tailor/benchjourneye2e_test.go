package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeJourneyServer stands in for `tailor serve`: it takes the bench's
// template and journey, acknowledges batches, and posts each trigger's
// webhook (after delay) to the template's URL, as the journey would.
type fakeJourneyServer struct {
	delay time.Duration
	mu    sync.Mutex
	url   string
	saved map[string]bool
	seen  map[string]bool // trigger keys, to spot one sent twice
	dupes int
}

func (f *fakeJourneyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.URL.Path == "/api/templates" || r.URL.Path == "/api/journeys":
		if r.Header.Get("Authorization") != "Bearer at" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m map[string]any
		json.Unmarshal(body, &m)
		f.mu.Lock()
		if u, ok := m["url"].(string); ok {
			f.url = u
		}
		f.saved[r.URL.Path] = true
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	case r.URL.Path == "/v1/batch":
		var b struct {
			Batch []struct {
				Event      string
				Properties map[string]any
			}
		}
		if err := json.Unmarshal(body, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, `{"success":true}`)
		for _, m := range b.Batch {
			if m.Event != e2eTrigger {
				continue
			}
			k, _ := m.Properties["k"].(string)
			f.mu.Lock()
			if f.seen[k] {
				f.dupes++
			}
			f.seen[k] = true
			u := f.url
			f.mu.Unlock()
			time.AfterFunc(f.delay, func() {
				resp, err := http.Post(u, "application/json", bytes.NewReader([]byte(`{"k":"`+k+`"}`)))
				if err == nil {
					resp.Body.Close()
				}
			})
		}
	default:
		http.NotFound(w, r)
	}
}

// TestBenchJourneyE2EMeasuresTriggerToWebhook: against a server whose
// journey answers every trigger with a webhook 30 ms later, the bench
// saves its template and journey, paces the load, counts every trigger
// back, and measures about those 30 ms.
func TestBenchJourneyE2EMeasuresTriggerToWebhook(t *testing.T) {
	f := &fakeJourneyServer{delay: 30 * time.Millisecond, saved: map[string]bool{}, seen: map[string]bool{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out strings.Builder
	rep, err := journeyE2E(context.Background(), []string{"--target", srv.URL, "--write-key", "wk", "--admin-token", "at",
		"--rate", "2000", "--batch", "20", "--duration", "500ms", "--ceiling", "200ms", "--customers", "20", "--concurrency", "4"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !f.saved["/api/templates"] || !f.saved["/api/journeys"] {
		t.Fatalf("saved %v, want the template and the journey", f.saved)
	}
	// 2000 events/s in requests of 20 over 500 ms: 50 requests, one
	// trigger each.
	if n := len(rep.Latency); n < 45 || n > 50 || rep.Missing != 0 || f.dupes != 0 {
		t.Fatalf("%d triggers measured, %d missing, %d sent twice; want the 50 scheduled, all back", n, rep.Missing, f.dupes)
	}
	for _, d := range rep.Latency {
		if d < 30*time.Millisecond || d > 2*time.Second {
			t.Fatalf("a trigger measured %v, want the fake's 30 ms and a little", d)
		}
	}
	if rep.Ceiling <= 0 || !strings.Contains(out.String(), "ceiling") || !strings.Contains(out.String(), "trigger scheduled send -> webhook") {
		t.Fatalf("ceiling %v; output:\n%s", rep.Ceiling, out.String())
	}
}

func TestBenchJourneyE2ERequiresTheServerAndKeys(t *testing.T) {
	for _, args := range [][]string{
		{"--write-key", "wk", "--admin-token", "at"},
		{"--target", "http://127.0.0.1:1", "--admin-token", "at"},
		{"--target", "http://127.0.0.1:1", "--write-key", "wk"},
		{"--target", "http://127.0.0.1:1", "--write-key", "wk", "--admin-token", "at", "--rate", "0"},
	} {
		if _, err := journeyE2E(context.Background(), args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}
}
