package consent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/store"
	"tailor/internal/track"
)

// world is a consent applier with a profile table and a recorder that
// applies recorded events at once, as the processor would.
type world struct {
	t        *testing.T
	db       *pebble.DB
	c        *Consent
	mu       sync.Mutex
	profiles map[string]track.Profile
	recorded []map[string]any
}

func (w *world) Profile(k string) (track.Profile, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.profiles {
		if p.ID == k || p.UserID == k || "email:"+strings.ToLower(str(p.Traits["email"])) == k {
			return p, true
		}
	}
	return track.Profile{}, false
}

func str(v any) string { s, _ := v.(string); return s }

func (w *world) record(_ context.Context, msgs [][]byte) error {
	for _, m := range msgs {
		e, err := event.Decode(m, event.Meta{SourceID: "tailor", ReceivedAt: time.Now()})
		if err != nil {
			w.t.Fatalf("recorded event does not decode: %v", err)
		}
		var raw map[string]any
		_ = json.Unmarshal(m, &raw)
		w.mu.Lock()
		w.recorded = append(w.recorded, raw)
		id := ""
		for _, p := range w.profiles {
			if p.UserID == e.UserID {
				id = p.ID
			}
		}
		if e.Type == event.Identify {
			p := w.profiles[id]
			for k, v := range e.Traits {
				p.Traits[k] = v
			}
		}
		w.mu.Unlock()
		w.c.Apply(&e, profile.Resolution{Profile: id})
	}
	return nil
}

func newWorld(t *testing.T, opts Options) *world {
	db, err := store.Open(t.TempDir(), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w := &world{t: t, db: db, profiles: map[string]track.Profile{
		"p_ann": {ID: "p_ann", UserID: "ann", Traits: map[string]any{"email": "ann@example.com", "phone": "+15550001"}},
		"p_bob": {ID: "p_bob", UserID: "bob", Traits: map[string]any{}},
	}}
	w.c = New(db, w, opts)
	return w
}

func track_(name string, props map[string]any) *event.Event {
	return &event.Event{Type: event.Track, Event: name, Properties: props, Timestamp: time.Now().UTC()}
}

func TestConsentTransitions(t *testing.T) {
	cases := []struct {
		name             string
		opts             Options
		events           []*event.Event
		channel, purpose string
		ok               bool
		reason           string
	}{
		{"no record: marketing needs opt-in", Options{}, nil, "email", "marketing", false, "no_consent"},
		{"no record: transactional allowed", Options{}, nil, "email", "transactional", true, ""},
		{"no record: inapp is opt-out", Options{}, nil, "inapp", "marketing", true, ""},
		{"trait opt-in at first sight", Options{}, []*event.Event{{Type: event.Identify, Traits: map[string]any{"email_opt_in": true}}}, "email", "marketing", true, ""},
		{"trait ignored after an explicit choice", Options{}, []*event.Event{
			track_(EventChanged, map[string]any{"channel": "email", "granted": false}),
			{Type: event.Identify, Traits: map[string]any{"email_opt_in": true}}}, "email", "marketing", false, "opted_out"},
		{"consent changed grants", Options{}, []*event.Event{track_(EventChanged, map[string]any{"channel": "sms", "purpose": "marketing", "granted": true})}, "sms", "marketing", true, ""},
		{"unsubscribed revokes", Options{}, []*event.Event{
			track_(EventChanged, map[string]any{"channel": "email", "granted": true}),
			track_(EventUnsubscribed, map[string]any{"channel": "email"})}, "email", "marketing", false, "opted_out"},
		{"unsubscribe keeps transactional", Options{}, []*event.Event{track_(EventUnsubscribed, map[string]any{"channel": "email"})}, "email", "transactional", true, ""},
		{"hard bounce suppresses even transactional", Options{}, []*event.Event{track_(EventBounced, map[string]any{"channel": "email", "hard": true, "to": "ann@example.com"})}, "email", "transactional", false, "suppressed_hard_bounce"},
		{"soft bounce does nothing", Options{}, []*event.Event{
			track_(EventChanged, map[string]any{"channel": "email", "granted": true}),
			track_(EventBounced, map[string]any{"channel": "email", "hard": false})}, "email", "marketing", true, ""},
		{"bounce of an old address is lifted by a new one", Options{}, []*event.Event{track_(EventBounced, map[string]any{"channel": "email", "hard": true, "to": "old@example.com"})}, "email", "transactional", true, ""},
		{"complaint suppresses", Options{}, []*event.Event{
			track_(EventChanged, map[string]any{"channel": "email", "granted": true}),
			track_(EventComplained, map[string]any{"channel": "email"})}, "email", "marketing", false, "suppressed_complaint"},
		{"no address", Options{}, []*event.Event{track_(EventChanged, map[string]any{"channel": "push", "granted": true})}, "push", "marketing", false, "no_address"},
		{"double opt-in waits", Options{DoubleOptIn: true}, []*event.Event{track_(EventChanged, map[string]any{"channel": "email", "granted": true})}, "email", "marketing", false, "pending_confirmation"},
		{"double opt-in confirmed", Options{DoubleOptIn: true}, []*event.Event{
			track_(EventChanged, map[string]any{"channel": "email", "granted": true}),
			track_(EventChanged, map[string]any{"channel": "email", "granted": true, "source": SourceDoubleOptIn})}, "email", "marketing", true, ""},
		{"double opt-in only for email", Options{DoubleOptIn: true}, []*event.Event{track_(EventChanged, map[string]any{"channel": "sms", "granted": true})}, "sms", "marketing", true, ""},
		{"invalid channel ignored", Options{}, []*event.Event{track_(EventChanged, map[string]any{"channel": "fax", "granted": true})}, "email", "marketing", false, "no_consent"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, c.opts)
			for _, e := range c.events {
				if e.Timestamp.IsZero() {
					e.Timestamp = time.Now().UTC()
				}
				w.c.Apply(e, profile.Resolution{Profile: "p_ann"})
			}
			ok, why := w.c.Allowed("p_ann", c.channel, c.purpose)
			if ok != c.ok || why != c.reason {
				t.Errorf("Allowed = %v %q, want %v %q (state %+v)", ok, why, c.ok, c.reason, w.c.Get("p_ann"))
			}
		})
	}
}

func TestConsentCheckpointAndMerge(t *testing.T) {
	w := newWorld(t, Options{})
	w.c.Apply(track_(EventChanged, map[string]any{"channel": "email", "granted": true}), profile.Resolution{Profile: "p_bob"})
	w.c.Apply(track_(EventChanged, map[string]any{"channel": "sms", "granted": true}), profile.Resolution{Profile: "p_ann"})
	// bob merges into ann: ann keeps both choices.
	w.c.Apply(&event.Event{Type: event.Identify, Timestamp: time.Now()}, profile.Resolution{Profile: "p_ann", Merged: []string{"p_bob"}})
	b := w.db.NewBatch()
	if err := w.c.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	again := New(w.db, w, Options{})
	if err := again.Load(); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{"email", "sms"} {
		if ok, why := again.Allowed("p_ann", ch, "marketing"); !ok {
			t.Errorf("%s after merge and reload: %s", ch, why)
		}
	}
	if s := again.Get("p_bob"); len(s.Consents) != 0 {
		t.Errorf("merged-away profile kept state: %+v", s)
	}
}

func newHTTP(t *testing.T, opts Options) (*world, *HTTP, http.Handler) {
	w := newWorld(t, opts)
	signer, _ := track.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	h := &HTTP{Consent: w.c, Profiles: w, Signer: signer, Record: w.record, Topics: []string{"shoes", "sale"}, Wait: 50 * time.Millisecond}
	mux := http.NewServeMux()
	mux.Handle("/api/", h.API())
	mux.Handle("/", h.Pages())
	return w, h, mux
}

func do(h http.Handler, method, path, ctype, body string) *httptest.ResponseRecorder {
	rr := httptest.NewRecorder()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	h.ServeHTTP(rr, r)
	return rr
}

func TestConsentAPI(t *testing.T) {
	w, _, h := newHTTP(t, Options{})
	cases := []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"grant", "/api/profiles/ann/consent", `{"channel":"email","granted":true}`, 200, `"source":"api"`},
		{"list", "/api/profiles/ann/consent", `{"consents":[{"channel":"sms","purpose":"transactional","granted":false,"source":"crm"}]}`, 200, `"source":"crm"`},
		{"unknown profile", "/api/profiles/nobody/consent", `{"channel":"email","granted":true}`, 404, "profile_not_found"},
		{"bad channel", "/api/profiles/ann/consent", `{"channel":"fax","granted":true}`, 400, "channel"},
		{"bad purpose", "/api/profiles/ann/consent", `{"channel":"email","purpose":"x","granted":true}`, 400, "purpose"},
		{"granted missing", "/api/profiles/ann/consent", `{"channel":"email"}`, 400, "granted"},
		{"bad list item", "/api/profiles/ann/consent", `{"consents":[{"channel":"email","granted":true},{"channel":"x","granted":true}]}`, 400, "consents[1].channel"},
		{"bad json", "/api/profiles/ann/consent", `{`, 400, "invalid_json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rr := do(h, "PUT", c.path, "application/json", c.body)
			if rr.Code != c.status || !strings.Contains(rr.Body.String(), c.want) {
				t.Errorf("got %d %s, want %d with %s", rr.Code, rr.Body, c.status, c.want)
			}
		})
	}
	if ok, _ := w.c.Allowed("p_ann", "email", "marketing"); !ok {
		t.Error("grant through the API not applied")
	}
	if ok, why := w.c.Allowed("p_ann", "sms", "transactional"); ok || why != "opted_out" {
		t.Errorf("sms transactional: %v %s", ok, why)
	}
	rr := do(h, "GET", "/api/profiles/ann/consent", "", "")
	var v View
	if err := json.Unmarshal(rr.Body.Bytes(), &v); err != nil || v.Profile != "p_ann" || len(v.Channels) != len(Channels) || !strings.Contains(v.PreferencesURL, "/p/") {
		t.Fatalf("GET: %v %s", err, rr.Body)
	}
	if !v.Channels[0].Allowed["marketing"].OK || v.Channels[0].Marketing == nil || v.Channels[0].Marketing.Source != "api" {
		t.Errorf("email state %+v", v.Channels[0])
	}
}

func TestPreferenceCenterAndUnsubscribe(t *testing.T) {
	w, h, mux := newHTTP(t, Options{})
	w.c.Apply(track_(EventChanged, map[string]any{"channel": "email", "granted": true}), profile.Resolution{Profile: "p_ann"})
	prefs := "/p/" + h.Signer.Sign(track.Claims{Kind: track.KindPreferences, Profile: "p_ann"})
	rr := do(mux, "GET", prefs, "", "")
	body := rr.Body.String()
	if rr.Code != 200 || !strings.Contains(body, `id="ch-email" checked`) || strings.Contains(body, `id="ch-sms" checked`) || !strings.Contains(body, `<label for="tp-shoes">`) {
		t.Fatalf("page: %d %s", rr.Code, body)
	}
	if strings.Contains(body, "<script") {
		t.Error("the preference center must work without JavaScript")
	}
	form := url.Values{"channel": {"sms"}, "topic": {"shoes", "not-offered"}, "frequency": {"weekly"}}
	rr = do(mux, "POST", prefs, "application/x-www-form-urlencoded", form.Encode())
	if rr.Code != http.StatusSeeOther {
		t.Fatalf("save: %d %s", rr.Code, rr.Body)
	}
	if ok, _ := w.c.Allowed("p_ann", "email", "marketing"); ok {
		t.Error("email still allowed after unticking it")
	}
	if ok, why := w.c.Allowed("p_ann", "sms", "marketing"); !ok {
		t.Errorf("sms not granted: %s", why)
	}
	p, _ := w.Profile("p_ann")
	if f := p.Traits["message_frequency"]; f != "weekly" {
		t.Errorf("frequency trait %v", f)
	}
	if tp, _ := json.Marshal(p.Traits["topics"]); string(tp) != `["shoes"]` {
		t.Errorf("topics trait %s", tp)
	}
	if rr := do(mux, "POST", prefs, "application/x-www-form-urlencoded", "frequency=hourly"); rr.Code != 400 || !strings.Contains(rr.Body.String(), "how often") {
		t.Errorf("bad frequency: %d", rr.Code)
	}
	if rr := do(mux, "GET", prefs+"x", "", ""); rr.Code != 400 {
		t.Errorf("tampered token: %d", rr.Code)
	}

	unsub := "/u/" + h.Signer.Sign(track.Claims{Kind: track.KindUnsubscribe, Profile: "p_ann", Channel: "sms", Key: "k1"})
	if rr := do(mux, "GET", unsub, "", ""); rr.Code != 200 || !strings.Contains(rr.Body.String(), "Text messages") {
		t.Errorf("unsubscribe page: %d %s", rr.Code, rr.Body)
	}
	if ok, _ := w.c.Allowed("p_ann", "sms", "marketing"); !ok {
		t.Fatal("GET must not unsubscribe (mail scanners follow links)")
	}
	rr = do(mux, "POST", unsub, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	if rr.Code != 200 {
		t.Fatalf("one-click: %d %s", rr.Code, rr.Body)
	}
	if ok, why := w.c.Allowed("p_ann", "sms", "marketing"); ok || why != "opted_out" {
		t.Errorf("after one-click: %v %s", ok, why)
	}
	last := w.recorded[len(w.recorded)-1]
	if last["event"] != EventUnsubscribed || last["userId"] != "ann" || last["properties"].(map[string]any)["message_key"] != "k1" {
		t.Errorf("recorded %v", last)
	}
}

func TestDoubleOptInConfirmLink(t *testing.T) {
	w, _, mux := newHTTP(t, Options{DoubleOptIn: true})
	rr := do(mux, "PUT", "/api/profiles/ann/consent", "application/json", `{"channel":"email","granted":true}`)
	var v View
	_ = json.Unmarshal(rr.Body.Bytes(), &v)
	if v.ConfirmURL == "" || v.Channels[0].Pending == nil {
		t.Fatalf("no pending confirmation: %s", rr.Body)
	}
	if ok, why := w.c.Allowed("p_ann", "email", "marketing"); ok || why != "pending_confirmation" {
		t.Fatalf("before confirm: %v %s", ok, why)
	}
	u, _ := url.Parse(v.ConfirmURL)
	if rr := do(mux, "GET", u.Path, "", ""); rr.Code != 200 {
		t.Fatalf("confirm page %d", rr.Code)
	}
	if ok, _ := w.c.Allowed("p_ann", "email", "marketing"); ok {
		t.Fatal("GET of the confirm link must not confirm")
	}
	if rr := do(mux, "POST", u.Path, "", ""); rr.Code != 200 {
		t.Fatalf("confirm %d %s", rr.Code, rr.Body)
	}
	if ok, why := w.c.Allowed("p_ann", "email", "marketing"); !ok {
		t.Errorf("after confirm: %s", why)
	}
}
