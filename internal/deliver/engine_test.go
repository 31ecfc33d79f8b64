package deliver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/outbox"
	"tailor/internal/store"
)

// fakeRenderer renders every template as "<template> for <profile>" to
// "<profile>@example.com", failing the template "broken".
type fakeRenderer struct{}

func (fakeRenderer) Render(_ context.Context, r RenderRequest) (Rendered, error) {
	if r.Template == "broken" {
		return Rendered{}, errors.New("line 1: unknown tag")
	}
	return Rendered{To: r.Profile + "@example.com", Subject: r.Template + " for " + r.Profile, Text: "hi " + r.SendKey}, nil
}

// fakeConsent refuses the profiles in no.
type fakeConsent struct{ no map[string]bool }

func (c fakeConsent) Allowed(profile, channel, purpose string) (bool, string) {
	if c.no[profile] {
		return false, "unsubscribed"
	}
	return true, ""
}

// recorder is an adapter that records sends and fails as told.
type recorder struct {
	mu    sync.Mutex
	sent  []Envelope
	fails map[string][]error // per key, consumed in order
}

func (r *recorder) Send(_ context.Context, env Envelope) (Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if errs := r.fails[env.Key]; len(errs) > 0 {
		r.fails[env.Key] = errs[1:]
		return Receipt{}, errs[0]
	}
	r.sent = append(r.sent, env)
	return Receipt{ProviderID: "p-" + env.Key}, nil
}

func (r *recorder) keys() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]int{}
	for _, e := range r.sent {
		m[e.Key]++
	}
	return m
}

type harness struct {
	db     *pebble.DB
	q      *outbox.Store
	e      *Engine
	ad     *recorder
	mu     sync.Mutex
	events []Event
	now    time.Time
}

func newHarness(t *testing.T, pol *Policy, edit func(*Options)) *harness {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "pebble"), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q, err := outbox.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{db: db, q: q, ad: &recorder{fails: map[string][]error{}}, now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	q.SetClock(func() time.Time { return h.now })
	if pol == nil {
		pol = &Policy{}
	}
	pol.DB = db
	o := Options{Queue: q, Policy: pol, Pacer: &Pacer{DB: db}, Renderer: fakeRenderer{},
		Adapters: map[string]Adapter{"email": h.ad, "sms": h.ad},
		Record: func(_ context.Context, evs []Event) error {
			h.mu.Lock()
			h.events = append(h.events, evs...)
			h.mu.Unlock()
			return nil
		},
		Backoff: time.Minute, MaxAttempts: 3, Now: func() time.Time { return h.now }}
	if edit != nil {
		edit(&o)
	}
	h.e = New(o)
	return h
}

// drain runs claims at the harness's clock until none is due.
func (h *harness) drain(t *testing.T) {
	t.Helper()
	for range 100 {
		recs, _, err := h.q.Claim(h.now, 16)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return
		}
		h.e.process(context.Background(), recs)
	}
	t.Fatal("queue never drained")
}

func (h *harness) enqueue(t *testing.T, msgs ...outbox.Message) {
	t.Helper()
	if err := h.e.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) state(t *testing.T, key string) *outbox.Record {
	t.Helper()
	r, ok, err := h.q.Get(key)
	if err != nil || !ok {
		t.Fatalf("get %s: %v %v", key, ok, err)
	}
	return r
}

func (h *harness) eventsNamed(name string) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	for _, e := range h.events {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func email(key, profile string) outbox.Message {
	return outbox.Message{Key: key, Profile: profile, Channel: "email", Template: "welcome"}
}

func TestEngineSendsAndRecords(t *testing.T) {
	for _, carried := range []bool{false, true} {
		t.Run(fmt.Sprint("record syncs queue ", carried), func(t *testing.T) {
			testEngineSendsAndRecords(t, carried)
		})
	}
}

func testEngineSendsAndRecords(t *testing.T, carried bool) {
	h := newHarness(t, &Policy{Consent: fakeConsent{no: map[string]bool{"bob": true}}}, func(o *Options) { o.RecordSyncsQueue = carried })
	broken := email("k3", "ann")
	broken.Template = "broken"
	h.enqueue(t, email("k1", "ann"), email("k2", "bob"), broken)
	h.drain(t)
	if got := h.ad.keys(); got["k1"] != 1 || len(got) != 1 {
		t.Fatalf("adapter got %v, want k1 once", got)
	}
	for key, want := range map[string]outbox.State{"k1": outbox.Sent, "k2": outbox.Suppressed, "k3": outbox.Failed} {
		if got := h.state(t, key).State; got != want {
			t.Errorf("%s is %s, want %s", key, got, want)
		}
	}
	sent := h.eventsNamed(EventSent)
	if len(sent) != 1 || sent[0].Properties["message_key"] != "k1" || sent[0].Properties["channel"] != "email" || sent[0].Properties["template"] != "welcome" {
		t.Fatalf("sent events %+v", sent)
	}
	if s := h.eventsNamed(EventSuppressed); len(s) != 1 || s[0].Properties["reason"] != "unsubscribed" {
		t.Fatalf("suppressed events %+v", s)
	}
	if f := h.eventsNamed(EventFailed); len(f) != 1 || f[0].Profile != "ann" {
		t.Fatalf("failed events %+v", f)
	}
	if h.q.Depth() != 0 {
		t.Fatalf("depth %d after all final", h.q.Depth())
	}
}

func TestEngineRetriesTemporaryFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		errs      []error
		want      outbox.State
		wantSends int
		wantEvent string
	}{
		{"recovers", []error{Temporary(errors.New("421 busy"))}, outbox.Sent, 1, EventSent},
		{"gives up", []error{Temporary(errors.New("a")), Temporary(errors.New("b")), Temporary(errors.New("c"))}, outbox.Failed, 0, EventFailed},
		{"permanent", []error{Permanent(errors.New("550 no"))}, outbox.Failed, 0, EventFailed},
		{"bounce", []error{Bounced(errors.New("550 no such user"))}, outbox.Failed, 0, EventBounced},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			h.ad.fails["k"] = tc.errs
			h.enqueue(t, email("k", "ann"))
			for range 5 {
				h.drain(t)
				h.now = h.now.Add(time.Hour) // past every backoff
			}
			if got := h.state(t, "k").State; got != tc.want {
				t.Fatalf("state %s, want %s", got, tc.want)
			}
			if got := h.ad.keys()["k"]; got != tc.wantSends {
				t.Fatalf("accepted %d times, want %d", got, tc.wantSends)
			}
			if len(h.eventsNamed(tc.wantEvent)) != 1 {
				t.Fatalf("no %s event: %+v", tc.wantEvent, h.events)
			}
		})
	}
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	e := New(Options{Backoff: time.Second, MaxBackoff: 10 * time.Second})
	for n, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 8: 10 * time.Second} {
		for range 20 {
			d := e.backoff(n)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("backoff(%d) = %v, want %v ±20%%", n, d, base)
			}
		}
	}
}

func TestEngineHoldoutOnlyJourneyMessages(t *testing.T) {
	h := newHarness(t, &Policy{HoldoutPercent: 100}, nil)
	j := email("j", "ann")
	j.Journey, j.Step = "welcome", "s1"
	tx := email("t", "ann")
	h.enqueue(t, j, tx)
	h.drain(t)
	if h.state(t, "j").State != outbox.Suppressed || h.state(t, "t").State != outbox.Sent {
		t.Fatalf("journey %s, api send %s; want suppressed and sent", h.state(t, "j").State, h.state(t, "t").State)
	}
}

func TestHoldoutPercentIsAboutRight(t *testing.T) {
	p := &Policy{HoldoutPercent: 10}
	n := 0
	for i := range 20000 {
		if p.Holdout(fmt.Sprintf("profile-%d", i)) {
			n++
		}
	}
	if n < 1700 || n > 2300 {
		t.Fatalf("%d of 20000 in a 10%% holdout", n)
	}
}

func TestEngineFrequencyCapReschedulesOrDrops(t *testing.T) {
	h := newHarness(t, &Policy{Caps: []Cap{{Channel: "email", Max: 2, Days: 7}}}, nil)
	drop := email("k4", "ann")
	drop.OnPolicy = outbox.PolicyDrop
	tx := email("k5", "ann")
	tx.Purpose = outbox.PurposeTransactional
	h.enqueue(t, email("k1", "ann"), email("k2", "ann"), email("k3", "ann"), drop, tx, email("b1", "bob"))
	h.drain(t)
	sent := h.ad.keys()
	if len(sent) != 4 || sent["k5"] != 1 || sent["b1"] != 1 {
		t.Fatalf("sent %v: want two of ann's marketing, her transactional and bob's", sent)
	}
	if got := h.state(t, "k4").State; got != outbox.Dropped && got != outbox.Sent {
		t.Fatalf("k4 %s", got)
	}
	var deferred *outbox.Record
	for _, k := range []string{"k1", "k2", "k3", "k4"} {
		if r := h.state(t, k); r.State == outbox.Queued {
			deferred = r
		}
	}
	if deferred == nil || deferred.Reason != "frequency_cap" {
		t.Fatalf("no marketing email of ann deferred by the cap")
	}
	// The cap's window starts today: the deferred send is due in 7 days.
	want := h.now.Truncate(24*time.Hour).AddDate(0, 0, 7)
	if !deferred.Due.Equal(want) {
		t.Fatalf("deferred to %v, want %v", deferred.Due, want)
	}
	if d := h.eventsNamed(EventDeferred); len(d) != 1 || d[0].Properties["reason"] != "frequency_cap" {
		t.Fatalf("deferred events %+v", d)
	}
	h.now = want.Add(time.Minute)
	h.drain(t)
	if h.state(t, deferred.Key).State != outbox.Sent {
		t.Fatal("the deferred email was not sent once the window moved on")
	}
}

func TestEngineQuietHoursInProfileZone(t *testing.T) {
	zones := map[string]string{"tokyo": "Asia/Tokyo", "paris": "Europe/Paris"}
	// 12:00 UTC is 21:00 in Tokyo (quiet) and 13:00 in Paris.
	h := newHarness(t, &Policy{Quiet: &QuietHours{Start: 21 * 60, End: 8 * 60}, Timezone: func(p string) string { return zones[p] }, Local: time.UTC}, nil)
	h.enqueue(t, email("t", "tokyo"), email("p", "paris"))
	h.drain(t)
	if h.state(t, "p").State != outbox.Sent {
		t.Fatal("paris was not sent at 13:00 local")
	}
	r := h.state(t, "t")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	want := time.Date(2026, 3, 3, 8, 0, 0, 0, tokyo)
	if r.State != outbox.Queued || r.Reason != "quiet_hours" || !r.Due.Equal(want) {
		t.Fatalf("tokyo: %s %q due %v, want queued until %v", r.State, r.Reason, r.Due, want)
	}
}

func TestEnginePacingKeepsMessagesQueued(t *testing.T) {
	h := newHarness(t, nil, func(o *Options) {
		o.Pacer.Warmup = map[string]Warmup{"email": {First: 3, Factor: 2}}
	})
	for i := range 10 {
		h.enqueue(t, email(fmt.Sprint("k", i), "ann"))
	}
	h.drain(t)
	if n := len(h.ad.keys()); n != 3 {
		t.Fatalf("day 1 sent %d, want the warm-up's 3", n)
	}
	if h.q.Depth() != 7 {
		t.Fatalf("depth %d, want 7 still queued", h.q.Depth())
	}
	h.now = h.now.Add(24 * time.Hour)
	h.drain(t)
	if n := len(h.ad.keys()); n != 9 {
		t.Fatalf("after day 2 sent %d, want 3+6", n)
	}
}

func TestTokenBucketPaces(t *testing.T) {
	p := &Pacer{Rates: map[string]float64{"sms": 10}}
	now := time.Unix(1000, 0)
	var waited time.Duration
	for range 20 {
		w, err := p.Reserve("sms", now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		waited = w
	}
	// The first is free, the other 19 come 100 ms apart.
	if waited < 1800*time.Millisecond || waited > 2*time.Second {
		t.Fatalf("the 20th send at 10/s waits %v, want about 1.9s", waited)
	}
	if w, _ := p.Reserve("email", now, 0); w != 0 {
		t.Fatalf("an unpaced channel waits %v", w)
	}
}

// TestEngineResendsAfterCrashWithSameKey leaves a message in sending, as a
// crash between MarkSending and the adapter does, and checks that the
// workers send it again with its key and count the resend.
func TestEngineResendsAfterCrashWithSameKey(t *testing.T) {
	dir := t.TempDir()
	db, _ := store.Open(filepath.Join(dir, "pebble"), 8<<20)
	q, _ := outbox.Open(db)
	_ = q.Enqueue(context.Background(), []outbox.Message{email("k", "ann")})
	recs, _, _ := q.Claim(time.Now(), 1)
	_ = q.MarkSending(recs)
	db.Close()

	db, err := store.Open(filepath.Join(dir, "pebble"), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, _ = outbox.Open(db)
	ad := &recorder{}
	e := New(Options{Queue: q, Renderer: fakeRenderer{}, Adapters: map[string]Adapter{"email": ad}, Workers: 2, Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(ad.keys()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if ad.keys()["k"] != 1 || q.Resends() != 1 {
		t.Fatalf("sent %v, resends %d; want k once and one resend", ad.keys(), q.Resends())
	}
	r, _, _ := q.Get("k")
	if r.State != outbox.Sent || r.Attempts != 2 || r.Resends != 1 {
		t.Fatalf("record %+v", r)
	}
}

func TestParseFlags(t *testing.T) {
	if c, err := ParseCap("email=3/7d"); err != nil || c != (Cap{"email", 3, 7}) {
		t.Errorf("email=3/7d: %v %v", c, err)
	}
	if c, err := ParseCap("all=1/36h"); err != nil || c.Days != 2 {
		t.Errorf("all=1/36h: %v %v", c, err)
	}
	for _, bad := range []string{"email", "email=0/7d", "email=3/7", "=3/7d", "email=3/0d"} {
		if _, err := ParseCap(bad); err == nil {
			t.Errorf("cap %q accepted", bad)
		}
	}
	if q, err := ParseQuietHours("21:00-08:30"); err != nil || q != (QuietHours{21 * 60, 8*60 + 30}) {
		t.Errorf("quiet hours: %v %v", q, err)
	}
	for _, bad := range []string{"21:00", "25:00-08:00", "08:00-08:00"} {
		if _, err := ParseQuietHours(bad); err == nil {
			t.Errorf("quiet hours %q accepted", bad)
		}
	}
	if ch, w, err := ParseWarmup("email=500,x2"); err != nil || ch != "email" || w.limit(0) != 500 || w.limit(3) != 4000 {
		t.Errorf("warm-up: %s %+v %v", ch, w, err)
	}
	if _, _, err := ParseWarmup("email=500"); err == nil {
		t.Error("warm-up without factor accepted")
	}
	if ch, r, err := ParseRate("sms=2.5"); err != nil || ch != "sms" || r != 2.5 {
		t.Errorf("rate: %s %v %v", ch, r, err)
	}
}
