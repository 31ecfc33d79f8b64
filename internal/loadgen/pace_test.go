package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPacerSchedule(t *testing.T) {
	// Ten requests 20ms apart whose schedule began 25ms ago: requests 0 and
	// 1 are overdue when the one worker takes them, 2..9 are waited for,
	// then the schedule is over. Overdue requests count as late starts (the cap) only
	// if the worker was busy when they came due.
	tests := []struct {
		name     string
		busy     bool // the worker finished its previous request just now, not at the start
		wantLate uint64
	}{
		{"worker was busy", true, 2},
		{"worker was idle", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer(50, 1, 200*time.Millisecond)
			began := time.Now().Add(-25 * time.Millisecond)
			p.begin(began)
			var w workerStats
			stop := newStopSignal()
			timer := time.NewTimer(time.Hour)
			timer.Stop()
			var dues []time.Time
			for {
				idle := began
				if tt.busy {
					idle = time.Now()
				}
				due, ok := p.wait(&w, stop, timer, idle)
				if !ok {
					break
				}
				if now := time.Now(); now.Before(due) {
					t.Errorf("request %d handed out %s before it was due", len(dues), due.Sub(now))
				}
				dues = append(dues, due)
			}
			if len(dues) != 10 {
				t.Fatalf("%d requests handed out, want 10", len(dues))
			}
			for i, due := range dues {
				if want := began.Add(time.Duration(i) * 20 * time.Millisecond); !due.Equal(want) {
					t.Errorf("request %d due at +%s, want +%s", i, due.Sub(began), want.Sub(began))
				}
			}
			late, other := w.late.Snapshot(), w.startLag.Snapshot()
			if late.N != tt.wantLate || late.N+other.N != 10 {
				t.Errorf("%d late starts and %d others, want %d of 10 late", late.N, other.N, tt.wantLate)
			}
			// Request 0 started at least 25ms after it was due, either way.
			if worst := max(late.Max, other.Max); worst < uint64(25*time.Millisecond) {
				t.Errorf("worst start lag %s, want at least 25ms", time.Duration(worst))
			}
		})
	}
}

func TestPacerDueBefore(t *testing.T) {
	p := newPacer(500, 1, 20*time.Millisecond) // request k due at k*2ms, ten in all
	began := time.Now()
	p.begin(began)
	for _, tt := range []struct {
		at   time.Duration
		want uint64
	}{{-time.Millisecond, 0}, {0, 0}, {time.Nanosecond, 1}, {2 * time.Millisecond, 1}, {5500 * time.Microsecond, 3}, {time.Hour, 10}} {
		if got := p.dueBefore(began.Add(tt.at)); got != tt.want {
			t.Errorf("dueBefore(+%s) = %d, want %d", tt.at, got, tt.want)
		}
	}
}

func TestPacerWaitEndsWithTheRun(t *testing.T) {
	p := newPacer(1, 1, time.Hour) // one request a second
	p.begin(time.Now())
	var w workerStats
	stop := newStopSignal()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	if _, ok := p.wait(&w, stop, timer, time.Now()); !ok {
		t.Fatal("request 0, due at once, not handed out")
	}
	go func() { time.Sleep(20 * time.Millisecond); stop.stop() }()
	began := time.Now()
	if _, ok := p.wait(&w, stop, timer, time.Now()); ok {
		t.Error("request 1, due in a second, handed out after the run stopped")
	}
	if d := time.Since(began); d > 500*time.Millisecond {
		t.Errorf("the wait outlived the run by %s", d)
	}
}

// stampServer answers every request after delay and remembers when each
// arrived.
type stampServer struct {
	delay time.Duration
	mu    sync.Mutex
	at    []time.Time
}

func (s *stampServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	io.Copy(io.Discard, r.Body)
	time.Sleep(s.delay)
	w.Write(nullAnswer)
}

func TestPacedRunKeepsTheAskedRate(t *testing.T) {
	tests := []struct {
		name               string
		rate               float64
		batch, concurrency int
		duration           time.Duration
	}{
		{"batches", 5000, 10, 4, 2 * time.Second},
		{"single events", 400, 1, 2, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := &stampServer{}
			srv := httptest.NewServer(ss)
			defer srv.Close()
			rep, err := RunIngest(context.Background(), IngestConfig{
				Target: srv.URL, WriteKey: "wk", Duration: tt.duration, Rate: tt.rate,
				Batch: tt.batch, Concurrency: tt.concurrency, Source: testMessages(1000), MetricsURL: "none",
			})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			rep.WriteSummary(&out)
			t.Log(out.String())
			tr := rep.Target
			// Loose enough for a loaded 2-core machine (the test suite's
			// other packages run meanwhile), tight enough to catch a pacer
			// that drifts or bunches.
			if got := tr.EventsPerSec(); math.Abs(got-tt.rate) > 0.05*tt.rate {
				t.Errorf("achieved %.0f events/s, asked %.0f", got, tt.rate)
			}
			wantReqs := uint64(tt.duration.Seconds() * tt.rate / float64(tt.batch))
			if tr.Scheduled != wantReqs || tr.Unstarted() > wantReqs/100 || tr.Errors != 0 {
				t.Errorf("%d requests scheduled (want %d), %d never started, %d errors", tr.Scheduled, wantReqs, tr.Unstarted(), tr.Errors)
			}
			if !strings.Contains(out.String(), fmt.Sprintf("target: offered %.0f events/s, achieved ", tt.rate)) {
				t.Errorf("summary does not state the offered and achieved rates")
			}

			// Evenly spread: no quarter second holds three times its share,
			// as it would (four times) if each second's requests started
			// together.
			ss.mu.Lock()
			defer ss.mu.Unlock()
			const window = 250 * time.Millisecond
			share := float64(window) / float64(tt.duration) * float64(len(ss.at))
			counts := map[int]int{}
			for _, at := range ss.at {
				counts[int(at.Sub(ss.at[0])/window)]++
			}
			for i, n := range counts {
				if float64(n) > 3*share {
					t.Errorf("%d requests arrived in quarter second %d, want about %.0f", n, i, share)
				}
			}
		})
	}
}

func TestPacedLatencyCountsFromScheduledStart(t *testing.T) {
	const delay = 40 * time.Millisecond
	tests := []struct {
		name        string
		delay       time.Duration
		concurrency int
		rate        float64 // single events, so requests per second
		capped      bool    // the server cannot keep up with the schedule
	}{
		// One request in flight, one due every 10ms, each answered in 40ms:
		// request i starts at 40ms*i at the earliest, so its latency from
		// its scheduled start is at least 40ms + 30ms*i.
		{"capped", delay, 1, 100, true},
		// Eight in flight at most, one due every 20ms: about two in flight,
		// so every request starts on time and takes the server's delay.
		{"within the cap", delay, 8, 50, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&stampServer{delay: tt.delay})
			defer srv.Close()
			rep, err := RunIngest(context.Background(), IngestConfig{
				Target: srv.URL, WriteKey: "wk", Duration: 500 * time.Millisecond, Rate: tt.rate,
				Batch: 1, Concurrency: tt.concurrency, Source: testMessages(100), MetricsURL: "none",
			})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			rep.WriteSummary(&out)
			t.Log(out.String())
			tr := rep.Target
			if tr.Latency.Min < uint64(tt.delay) {
				t.Errorf("latency min %s, below the server's delay %s", time.Duration(tr.Latency.Min), tt.delay)
			}
			if !tt.capped {
				if tr.LateStarts.N != 0 || tr.Unstarted() != 0 {
					t.Errorf("%d late starts, %d never started, want none", tr.LateStarts.N, tr.Unstarted())
				}
				if p99 := tr.Latency.Quantile(0.99); p99 > 3*tt.delay {
					t.Errorf("p99 %s within the cap, want about the server's delay %s", p99, tt.delay)
				}
				return
			}
			n := tr.Requests
			if n < 2 || tr.LateStarts.N < n-1 || tr.Unstarted() == 0 || tr.Scheduled != 50 {
				t.Fatalf("%d requests, %d started late, %d of %d scheduled never started", n, tr.LateStarts.N, tr.Unstarted(), tr.Scheduled)
			}
			interval := time.Duration(float64(time.Second) / tt.rate)
			if want := tt.delay + time.Duration(n-1)*(tt.delay-interval); time.Duration(tr.Latency.Max) < want {
				t.Errorf("latency max %s over %d requests, want at least %s: measured from the actual start, not the scheduled one",
					time.Duration(tr.Latency.Max), n, want)
			}
			for _, want := range []string{"started late because the concurrency cap (1 in flight) was reached", "never started", "started late or never", "ack from scheduled start"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("summary lacks %q", want)
				}
			}
		})
	}
}

func TestIngestConfigRejectsBadRate(t *testing.T) {
	tests := []struct {
		name string
		rate float64
		want string
	}{
		{"negative", -1, "rate must be"},
		{"not a number", math.NaN(), "rate must be"},
		{"infinite", math.Inf(1), "rate must be"},
		{"no request within the duration", 10, "starts one request every 10s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RunIngest(context.Background(), IngestConfig{
				Target: "http://127.0.0.1:1", WriteKey: "wk", Duration: time.Second, Rate: tt.rate,
				Batch: 100, Concurrency: 1, Source: testMessages(10),
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
