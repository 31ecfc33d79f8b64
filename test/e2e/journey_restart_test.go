package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// stampedReceiver records when each request arrived.
type stampedReceiver struct {
	mu  sync.Mutex
	got []stamped
	srv *httptest.Server
}

type stamped struct {
	At   time.Time
	Body []byte
}

func newStampedReceiver(t *testing.T) *stampedReceiver {
	r := &stampedReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		at := time.Now()
		r.mu.Lock()
		r.got = append(r.got, stamped{at, b})
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *stampedReceiver) all() []stamped {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// TestJourneyTimersSurviveSIGKILL: a few thousand profiles wait in a
// journey's timer; the server is SIGKILLed while they wait and started
// again; every profile's step (a webhook to a local receiver) then fires
// exactly once, and on time. The lateness is measured from the earliest
// instant each timer can be due at (its event's send + the wait) to the
// receiver — an upper bound — and reported.
func TestJourneyTimersSurviveSIGKILL(t *testing.T) {
	const (
		profiles = 2400
		batch    = 100
		wait     = 12 * time.Second
	)
	hook := newStampedReceiver(t)
	secrets := filepath.Join(t.TempDir(), "secrets")
	os.WriteFile(secrets, []byte("TAILOR_WEBHOOK_SECRET=whsec\n"), 0o600)
	dir := t.TempDir()
	args := []string{"--secrets-file", secrets, "--deliver-workers", "16"}
	s := startServer(t, dir, args...)
	ensureTemplate(t, s, map[string]any{"id": "timer-hook", "name": "Timer hook", "channel": "webhook", "url": hook.srv.URL + "/hook",
		"json": `{"i":"{{ event.i }}"}`})
	if code, m := s.adminDo(t, "POST", "/api/journeys", fmt.Sprintf(`{"id":"e2e-timers","name":"Timers","status":"live",
	  "trigger":{"type":"event","event":"Timer Armed"},"entry":{"rule":"every_time"},"start":"wait",
	  "steps":[{"id":"wait","type":"wait","duration":"%ds","next":"hook"},
	           {"id":"hook","type":"webhook","template":"timer-hook"}]}`, int(wait.Seconds()))); code != 201 {
		t.Fatalf("create journey: %d %v", code, m)
	}

	// The profiles enter over about 6 s, in batches. sent[i] is when
	// profile i's event was posted: the server received it after that, so
	// its timer is due at or after sent[i] + wait (in whole seconds).
	sent := make([]time.Time, profiles)
	start := time.Now()
	for b := 0; b < profiles; b += batch {
		evs := make([]map[string]any, 0, batch)
		for i := b; i < b+batch; i++ {
			evs = append(evs, map[string]any{"type": "track", "event": "Timer Armed", "userId": fmt.Sprintf("tm-%d", i),
				"messageId": fmt.Sprintf("tm-%d-armed", i), "properties": map[string]any{"i": i}})
		}
		posted := time.Now()
		s.mustPostEvents(t, "/v1/batch", map[string]any{"batch": evs})
		for i := b; i < b+batch; i++ {
			sent[i] = posted
		}
		time.Sleep(250 * time.Millisecond)
	}
	pollUntil(t, 20*time.Second, "every profile waiting", func() bool {
		st := s.journeyStats(t, "e2e-timers")
		steps, _ := st["steps"].(map[string]any)
		w, _ := steps["wait"].(map[string]any)
		return num(st, "entered") == profiles && num(w, "waiting") == profiles
	})
	if n := len(hook.all()); n != 0 {
		t.Fatalf("%d webhooks before any timer was due", n)
	}
	t.Logf("%d profiles waiting %v after the first entered", profiles, time.Since(start).Round(time.Millisecond))
	s.kill(t)
	killed := time.Now()
	// Stay down until the first timers are 3 s overdue: those fire from
	// the restarted server's backlog, the rest on time after it.
	time.Sleep(time.Until(start.Add(wait + 3*time.Second)))
	s = startServer(t, dir, args...)
	ready := time.Now()
	t.Logf("SIGKILLed %v after the first entry, down %v, ready %v after the first entry", killed.Sub(start).Round(time.Millisecond),
		ready.Sub(killed).Round(time.Millisecond), ready.Sub(start).Round(time.Millisecond))

	pollUntil(t, wait+30*time.Second, "every timer's webhook", func() bool { return len(hook.all()) >= profiles })
	time.Sleep(2 * time.Second) // any duplicate would come now
	got := hook.all()
	seen := make([]int, profiles)
	var late, caughtUp []time.Duration
	for _, r := range got {
		var p struct{ I string }
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("webhook body %s: %v", r.Body, err)
		}
		var i int
		if _, err := fmt.Sscan(p.I, &i); err != nil || i < 0 || i >= profiles {
			t.Fatalf("webhook body %s names no profile of the test", r.Body)
		}
		seen[i]++
		earliest := sent[i].Add(wait).Truncate(time.Second)
		switch {
		case r.At.Before(earliest):
			t.Errorf("profile %d's step fired at %v, before its timer (due at the earliest %v)", i, r.At, earliest)
		case !earliest.After(ready):
			// Due while the server was down: how long after it was ready.
			caughtUp = append(caughtUp, r.At.Sub(ready))
		default:
			// An upper bound of the lateness: the timer is due at earliest
			// or a little after.
			late = append(late, r.At.Sub(earliest))
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("profile %d's step fired %d times, want once", i, n)
		}
	}
	if len(caughtUp) == 0 || len(late) == 0 {
		t.Fatalf("%d timers due while down, %d after the restart: want some of each", len(caughtUp), len(late))
	}
	p := func(l []time.Duration, q int) time.Duration {
		slices.Sort(l)
		return l[min(len(l)-1, len(l)*q/100)].Round(time.Millisecond)
	}
	t.Logf("%d timers due while down fired within %v of the restart (p50 %v)", len(caughtUp), p(caughtUp, 100), p(caughtUp, 50))
	t.Logf("%d timers due after the restart: lateness (due -> webhook received, an upper bound) p50 %v p99 %v max %v", len(late), p(late, 50), p(late, 99), p(late, 100))
	if p(late, 99) > 3*time.Second {
		t.Errorf("timers due after the restart fired late: p99 %v", p(late, 99))
	}
}
