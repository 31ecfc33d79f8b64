package stats

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"tailor/internal/store/storetest"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// node is a fake node: the test moves its counters and its clock.
type node struct {
	mu  sync.Mutex
	r   Reading
	now time.Time
}

func (n *node) read() Reading {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.r
}

func (n *node) clock() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.now
}

// step advances the clock by dt and the counters by the given amounts.
func (n *node) step(dt time.Duration, accepted, rejected, entered uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.now = n.now.Add(dt)
	n.r.Accepted += accepted
	n.r.Applied += accepted
	n.r.Rejected += rejected
	n.r.Entered += entered
}

// t0 is aligned to every range's step, so that the tests know which
// interval each reading lands in.
var t0 = time.Unix(1_790_000_000-1_790_000_000%3600, 0)

func newNode(t *testing.T, db *pebble.DB) (*node, *Sampler) {
	t.Helper()
	n := &node{now: t0}
	s, err := New(Options{Read: n.read, Now: n.clock, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	return n, s
}

func last[T any](s []T) T { return s[len(s)-1] }

func TestRatesAndSums(t *testing.T) {
	n, s := newNode(t, nil)
	// Two minutes at 50 events/s, then 20 s at 5/s; 1 rejection and 2
	// entries per reading.
	for range 12 {
		n.step(10*time.Second, 500, 1, 2)
		s.Sample()
	}
	for range 2 {
		n.step(10*time.Second, 50, 1, 2)
		s.Sample()
	}
	n.r.Profiles, n.r.LagEvents = 1234, 7

	a, ok := s.Stats("hour")
	if !ok {
		t.Fatal("range hour unknown")
	}
	if got := a.Current.EventsPerSecond; got != 5 {
		t.Errorf("current events/s = %v, want 5 (the latest interval)", got)
	}
	if a.Current.RejectedLastHour != 14 || a.Current.RejectedTotal != 14 {
		t.Errorf("rejected last hour %d, total %d, want 14 and 14", a.Current.RejectedLastHour, a.Current.RejectedTotal)
	}
	if a.Current.SegmentEntriesLastHour != 28 {
		t.Errorf("entries last hour = %d, want 28", a.Current.SegmentEntriesLastHour)
	}
	if a.Current.Profiles != 1234 || a.Current.LagEvents != 7 {
		t.Errorf("gauges = %d profiles, %d lag; want the reading's 1234 and 7", a.Current.Profiles, a.Current.LagEvents)
	}
	if len(a.Series.T) != 360 || a.Step != 10 {
		t.Fatalf("hour series: %d points of %d s, want 360 of 10 s", len(a.Series.T), a.Step)
	}
	if got := last(a.Series.T); got != n.now.Unix() {
		t.Errorf("last point starts at %d, want the current interval %d", got, n.now.Unix())
	}
	// 14 readings, each filed under the middle of the 10 s it covers: the
	// 14 points before the current one have values, the ones before them
	// and the current one (nothing happened in it yet) are gaps.
	for i, want := range map[int]float64{360 - 16: -1, 360 - 15: 50, 360 - 3: 5, 360 - 2: 5, 360 - 1: -1} {
		v := a.Series.EventsPerSecond[i]
		if want < 0 && v != nil || want >= 0 && (v == nil || *v != want) {
			t.Errorf("point %d events/s = %v, want %v (-1: a gap)", i, v, want)
		}
	}

	// The day range folds the readings into 5 min points: the first one
	// holds 29 readings (t0+10s … t0+290s), all of them here.
	d, _ := s.Stats("day")
	if d.Step != 300 || len(d.Series.T) != 288 {
		t.Fatalf("day series: %d points of %d s", len(d.Series.T), d.Step)
	}
	got := last(d.Series.EventsPerSecond)
	want := float64(12*500+2*50) / 140
	if got == nil || *got != want {
		t.Errorf("day point events/s = %v, want %v (all events over the 140 s covered)", got, want)
	}
	if r := last(d.Series.Rejected); r == nil || *r != 14 {
		t.Errorf("day point rejected = %v, want 14", r)
	}
}

func TestWhatIsNotSampledYetShows(t *testing.T) {
	n, s := newNode(t, nil)
	// A start: 2,000 events in the first 4 s, before the first reading.
	n.step(4*time.Second, 2000, 3, 1)
	a, _ := s.Stats("hour")
	if got := a.Current.EventsPerSecond; got != 500 {
		t.Errorf("events/s before the first reading = %v, want 500 (the only interval so far)", got)
	}
	if a.Current.RejectedLastHour != 3 || a.Current.SegmentEntriesLastHour != 1 {
		t.Errorf("last hour: %d rejected, %d entries; want 3 and 1", a.Current.RejectedLastHour, a.Current.SegmentEntriesLastHour)
	}
	if v := last(a.Series.EventsPerSecond); v == nil || *v != 500 {
		t.Errorf("current point = %v, want 500", v)
	}
	w, _ := s.Stats("week")
	if v := last(w.Series.Rejected); v == nil || *v != 3 {
		t.Errorf("week's current point rejected = %v, want 3", v)
	}
	// A reading, then 1 s more at another rate: under 5 s, the current
	// rate stays the last full interval's. The reading is filed under the
	// first interval (the middle of what it covers), the second after it
	// under the next.
	n.step(6*time.Second, 0, 0, 0)
	s.Sample()
	n.step(time.Second, 100, 0, 0)
	a, _ = s.Stats("hour")
	if got := a.Current.EventsPerSecond; got != 200 {
		t.Errorf("events/s 1 s into an interval = %v, want 200 (2,000 in the 10 s before)", got)
	}
	if v := last(a.Series.EventsPerSecond); v == nil || *v != 100 {
		t.Errorf("current point = %v, want 100 (the second after the reading)", v)
	}
}

func TestCounterResetCountsFromZero(t *testing.T) {
	n, s := newNode(t, nil)
	n.step(10*time.Second, 100, 0, 0)
	s.Sample()
	// A restart of what is counted (the process's counters start over).
	n.r.Accepted = 30
	n.now = n.now.Add(10 * time.Second)
	s.Sample()
	a, _ := s.Stats("hour")
	if v := a.Series.EventsPerSecond[358]; v == nil || *v != 3 {
		t.Errorf("events/s after a reset = %v, want 3 (30 events in 10 s)", v)
	}
}

func TestOldPointsAreGaps(t *testing.T) {
	n, s := newNode(t, nil)
	n.step(10*time.Second, 100, 0, 0)
	s.Sample()
	// An hour and a half later, the hour ring's slot of that reading is
	// reused by no reading yet: it must not show as a current point.
	n.step(90*time.Minute, 0, 0, 0)
	a, _ := s.Stats("hour")
	for i, v := range a.Series.EventsPerSecond {
		if v != nil {
			t.Fatalf("point %d (t=%d) = %v, want every point a gap", i, a.Series.T[i], *v)
		}
	}
	w, _ := s.Stats("week")
	nonNil := 0
	for _, v := range w.Series.EventsPerSecond {
		if v != nil {
			nonNil++
		}
	}
	if nonNil != 1 {
		t.Errorf("week series has %d points, want the 1 reading two hours ago", nonNil)
	}
}

func TestHistorySurvivesRestart(t *testing.T) {
	db := storetest.MemDB(t)
	n, s := newNode(t, db)
	for range 6 {
		n.step(10*time.Second, 200, 1, 1)
		s.Sample()
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Stats("hour")

	// A new process: counters start at zero, a minute later.
	n2 := &node{now: n.now.Add(time.Minute)}
	s2, err := New(Options{Read: n2.read, Now: n2.clock, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s2.Stats("hour")
	if after.Current.RejectedLastHour != 6 || after.Current.RejectedTotal != 0 {
		t.Errorf("after restart: rejected last hour %d, total %d; want 6 (saved) and 0 (new process)", after.Current.RejectedLastHour, after.Current.RejectedTotal)
	}
	// The same intervals hold the same values, shifted by the 6 points
	// that passed.
	for i := 6; i < 360; i++ {
		b, a := before.Series.EventsPerSecond[i], after.Series.EventsPerSecond[i-6]
		if (b == nil) != (a == nil) || (b != nil && *a != *b) {
			t.Fatalf("point t=%d: before %v, after restart %v", before.Series.T[i], b, a)
		}
	}
}

func TestHTTP(t *testing.T) {
	n, s := newNode(t, nil)
	n.step(10*time.Second, 10, 0, 0)
	s.Sample()
	for _, tc := range []struct {
		query      string
		status     int
		wantRange  string
		wantInBody string
	}{
		{"", 200, "hour", ""},
		{"?range=day", 200, "day", ""},
		{"?range=week", 200, "week", ""},
		{"?range=month", 400, "", `range: one of hour, day, week, got \"month\"`},
	} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/api/stats"+tc.query, nil))
		if w.Code != tc.status {
			t.Errorf("GET %s: %d, want %d: %s", tc.query, w.Code, tc.status, w.Body)
			continue
		}
		if tc.wantInBody != "" && !strings.Contains(w.Body.String(), tc.wantInBody) {
			t.Errorf("GET %s: body %s does not name the problem (%s)", tc.query, w.Body, tc.wantInBody)
		}
		if tc.status == 200 {
			var a Answer
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.Range != tc.wantRange || len(a.Series.T) == 0 {
				t.Errorf("GET %s: range %q with %d points (%v), want %s", tc.query, a.Range, len(a.Series.T), err, tc.wantRange)
			}
		}
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("POST", "/api/stats", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", w.Code)
	}
}
