package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is a stand-in for `tailor serve`: it checks the write key and
// the bodies, counts the events and remembers every messageId.
type countingServer struct {
	t        testing.TB
	writeKey string
	answer   func(n int, events int) (status int, body string) // nil: 200 success

	mu       sync.Mutex
	events   int
	requests int
	ids      map[string]bool
	dupes    int

	metricsReads atomic.Int64
	applied      atomic.Int64
}

func newCountingServer(t testing.TB, writeKey string) (*countingServer, *httptest.Server) {
	cs := &countingServer{t: t, writeKey: writeKey, ids: map[string]bool{}}
	srv := httptest.NewServer(cs)
	t.Cleanup(srv.Close)
	return cs, srv
}

func (cs *countingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" {
		// The "processor" catches up on every third reading.
		cs.mu.Lock()
		received := int64(cs.events)
		cs.mu.Unlock()
		if cs.metricsReads.Add(1)%3 == 0 {
			cs.applied.Store(received)
		}
		lag := received - cs.applied.Load()
		fmt.Fprintf(w, "# TYPE tailor_processor_lag_events gauge\ntailor_processor_lag_events %d\ntailor_processor_lag_seconds %g\n",
			lag, float64(lag)/1e5)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != cs.writeKey || pass != "" || r.Method != http.MethodPost {
		http.Error(w, `{"success":false,"error":"bad auth"}`, http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var msgs []map[string]any
	if r.URL.Path == "/v1/batch" {
		var b struct{ Batch []map[string]any }
		err = json.Unmarshal(body, &b)
		msgs = b.Batch
	} else {
		var m map[string]any
		err = json.Unmarshal(body, &m)
		if err == nil && "/v1/"+m["type"].(string) != r.URL.Path {
			err = fmt.Errorf("type %s posted to %s", m["type"], r.URL.Path)
		}
		msgs = append(msgs, m)
	}
	if err != nil {
		http.Error(w, `{"success":false,"error":"`+err.Error()+`"}`, http.StatusBadRequest)
		return
	}
	cs.mu.Lock()
	cs.requests++
	n := cs.requests
	status, answer := http.StatusOK, `{"success":true}`
	if cs.answer != nil {
		status, answer = cs.answer(n, len(msgs))
	}
	if status == http.StatusOK {
		cs.events += len(msgs)
		for _, m := range msgs {
			id := m["messageId"].(string)
			if cs.ids[id] {
				cs.dupes++
			}
			cs.ids[id] = true
		}
	}
	cs.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

var lastLine = regexp.MustCompile(`\n(\d+) events/s\n$`)

func TestRunIngestEndToEnd(t *testing.T) {
	cs, srv := newCountingServer(t, "wk_test")
	var progress, out bytes.Buffer
	rep, err := RunIngest(context.Background(), IngestConfig{
		Target:      srv.URL,
		WriteKey:    "wk_test",
		Duration:    1200 * time.Millisecond,
		Batch:       20,
		Concurrency: 4,
		Ceiling:     300 * time.Millisecond,
		Source:      testMessages(3000),
		Progress:    &progress,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	rep.WriteSummary(&out)
	t.Logf("progress:\n%ssummary:\n%s", progress.String(), out.String())

	tr := rep.Target
	cs.mu.Lock()
	events, requests, dupes := cs.events, cs.requests, cs.dupes
	cs.mu.Unlock()
	if tr.Events == 0 || tr.Events != uint64(events) || tr.Requests != uint64(requests) {
		t.Errorf("bench counted %d events in %d requests, server %d in %d", tr.Events, tr.Requests, events, requests)
	}
	if tr.Errors != 0 || dupes != 0 {
		t.Errorf("%d errors (%v), %d duplicate message ids", tr.Errors, tr.Samples, dupes)
	}
	if events <= 3000 {
		t.Logf("only %d events: the run never wrapped around the corpus", events)
	}
	if tr.Elapsed < 1200*time.Millisecond || tr.Elapsed > 3*time.Second || tr.Latency.N != tr.Requests {
		t.Errorf("elapsed %s, %d latencies for %d requests", tr.Elapsed, tr.Latency.N, tr.Requests)
	}
	if rep.Ceiling == nil || rep.Ceiling.Events == 0 {
		t.Errorf("no ceiling measured: %+v", rep.Ceiling)
	}
	if rep.Lag == nil || !rep.Lag.Drained || rep.Lag.MaxEvents == 0 {
		t.Errorf("lag report %+v, want drained after a non-zero lag", rep.Lag)
	}

	s := out.String()
	for _, want := range []string{"ceiling (do-nothing server): ", "target: ", " req/s), ack p50 ", " p99.9 ", "errors 0", "processor lag max ", "drained in "} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	m := lastLine.FindStringSubmatch(s)
	if m == nil || m[1] != fmt.Sprintf("%.0f", tr.EventsPerSec()) {
		t.Errorf("summary does not end with the target's events/s line")
	}
	if !strings.Contains(progress.String(), "bench target    1s ") {
		t.Errorf("no per-second progress line for the target")
	}
	// The last part second has a line of its own, its time to a tenth.
	if !regexp.MustCompile(`bench target  1\.\ds `).MatchString(progress.String()) {
		t.Errorf("no progress line for the run's last part second")
	}
}

func TestRunIngestErrorsAndRejections(t *testing.T) {
	cs, srv := newCountingServer(t, "wk")
	cs.answer = func(n, events int) (int, string) {
		if n%5 == 0 {
			return http.StatusServiceUnavailable, `{"success":false,"error":"log full","code":"unavailable"}`
		}
		return http.StatusOK, fmt.Sprintf(`{"success":true,"accepted":%d,"rejected":[{"index":0,"reason":"bad"}]}`, events-1)
	}
	var out bytes.Buffer
	rep, err := RunIngest(context.Background(), IngestConfig{
		Target: srv.URL + "/", WriteKey: "wk", Duration: 300 * time.Millisecond,
		Batch: 3, Concurrency: 2, Source: testMessages(100), MetricsURL: "none",
	})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteSummary(&out)
	tr := rep.Target
	if tr.Events == 0 || tr.Rejected != tr.Requests || tr.Events+tr.Rejected > 3*tr.Requests || tr.Errors == 0 || tr.ErrorKinds["status 503"] != tr.Errors {
		t.Errorf("events %d, rejected %d of %d requests, errors %d %v", tr.Events, tr.Rejected, tr.Requests, tr.Errors, tr.ErrorKinds)
	}
	if !strings.Contains(out.String(), `target error: status 503: {"success":false,"error":"log full"`) ||
		!strings.Contains(out.String(), "events rejected") {
		t.Errorf("summary does not show the errors:\n%s", out.String())
	}
}

func TestRunIngestNoServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there now
	rep, err := RunIngest(context.Background(), IngestConfig{
		Target: srv.URL, WriteKey: "wk", Duration: 200 * time.Millisecond,
		Batch: 5, Concurrency: 2, Source: testMessages(50),
	})
	if err == nil || !strings.Contains(err.Error(), "acknowledged no event") {
		t.Fatalf("error %v, want 'acknowledged no event'", err)
	}
	if rep.Target.ErrorKinds["transport"] == 0 || rep.Lag != nil {
		t.Fatalf("report %+v", rep.Target)
	}
}

func TestRunIngestInterrupted(t *testing.T) {
	_, srv := newCountingServer(t, "wk")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	rep, err := RunIngest(ctx, IngestConfig{
		Target: srv.URL, WriteKey: "wk", Duration: time.Minute,
		Batch: 10, Concurrency: 2, Source: testMessages(100), MetricsURL: "none",
	})
	if err == nil || time.Since(began) > 5*time.Second {
		t.Fatalf("error %v after %s, want the context's, soon", err, time.Since(began))
	}
	if rep.Target == nil || !rep.Target.Interrupted || rep.Target.Events == 0 {
		t.Fatalf("target %+v", rep.Target)
	}
}

// BenchmarkSend measures the client's per-request cost against a do-nothing
// server, one request in flight.
func BenchmarkSend(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
			srv, err := startNullServer()
			if err != nil {
				b.Fatal(err)
			}
			defer srv.close()
			c, err := BuildCorpus(CorpusConfig{Source: testMessages(20000), Batch: batch})
			if err != nil {
				b.Fatal(err)
			}
			cfg := IngestConfig{WriteKey: "wk", Concurrency: 1, RequestTimeout: 10 * time.Second}
			base, _ := parseTarget(srv.url)
			l := newHTTPLoad(base, cfg, c)
			defer l.close()
			var w workerStats
			var errs errorLog
			buf := make([]byte, 4096)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				l.send(&w, &errs, buf, time.Time{})
			}
			b.StopTimer()
			if w.errors.Load() != 0 {
				b.Fatal(errs.samples)
			}
			b.ReportMetric(float64(w.events.Load())/b.Elapsed().Seconds(), "events/s")
		})
	}
}
