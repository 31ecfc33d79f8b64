package consent

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/outbox"
	"tailor/internal/profile"
	"tailor/internal/track"
)

// fakeOutbox keeps what it is given; fail makes Enqueue fail.
type fakeOutbox struct {
	mu   sync.Mutex
	msgs []outbox.Message
	fail bool
}

func (o *fakeOutbox) Enqueue(_ context.Context, ms []outbox.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail {
		return errors.New("disk full")
	}
	o.msgs = append(o.msgs, ms...)
	return nil
}

// With double opt-in, a new email grant sends one transactional
// confirmation through the outbox; a repeat within a day sends none, a
// confirmed grant none; a checkpoint cannot pass a confirmation the outbox
// refused.
func TestDoubleOptInSendsOneConfirmation(t *testing.T) {
	ob := &fakeOutbox{}
	w := newWorld(t, Options{DoubleOptIn: true, Outbox: ob})
	t1 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	grant := func(prof string, at time.Time, src string) {
		e := track_(EventChanged, map[string]any{"channel": "email", "granted": true, "source": src})
		e.Timestamp = at
		w.c.Apply(e, profile.Resolution{Profile: prof})
	}
	checkpoint := func() error { return w.c.Checkpoint(w.db.NewBatch()) }
	grant("p_ann", t1, "")
	grant("p_ann", t1.Add(time.Hour), "") // still pending: no second message
	if len(ob.msgs) != 0 {
		t.Fatal("enqueued before a flush or checkpoint")
	}
	if err := checkpoint(); err != nil {
		t.Fatal(err)
	}
	if len(ob.msgs) != 1 {
		t.Fatalf("messages = %+v, want one", ob.msgs)
	}
	m := ob.msgs[0]
	if m.Profile != "p_ann" || m.Channel != "email" || m.Purpose != outbox.PurposeTransactional || m.Template != DefaultConfirmTemplate || m.Key == "" {
		t.Fatalf("message = %+v", m)
	}
	if ok, why := w.c.Allowed("p_ann", "email", "marketing"); ok || why != "pending_confirmation" {
		t.Fatalf("before the confirmation: %v %s", ok, why)
	}
	// A day later a new grant asks again, with another key.
	grant("p_ann", t1.Add(25*time.Hour), "")
	if err := w.c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(ob.msgs) != 2 || ob.msgs[1].Key == m.Key {
		t.Fatalf("after a day: %+v", ob.msgs)
	}
	// The confirmation link records a double_opt_in grant: consent, and no
	// message.
	grant("p_ann", t1.Add(26*time.Hour), SourceDoubleOptIn)
	if ok, why := w.c.Allowed("p_ann", "email", "marketing"); !ok {
		t.Fatalf("after the confirmation: %s", why)
	}
	grant("p_ann", t1.Add(50*time.Hour), "")
	if err := checkpoint(); err != nil || len(ob.msgs) != 2 {
		t.Fatalf("a grant of a confirmed address sent again: %v %+v", err, ob.msgs)
	}
	// A refused enqueue fails the checkpoint and keeps the message.
	ob.fail = true
	grant("p_bob", t1, "")
	if err := checkpoint(); err == nil {
		t.Fatal("checkpoint passed a confirmation the outbox refused")
	}
	ob.fail = false
	if err := checkpoint(); err != nil || len(ob.msgs) != 3 || ob.msgs[2].Profile != "p_bob" {
		t.Fatalf("after the outbox recovered: %v %+v", err, ob.msgs)
	}
	// Without double opt-in a grant is consent at once and sends nothing.
	ob2 := &fakeOutbox{}
	w2 := newWorld(t, Options{Outbox: ob2})
	w2.c.Apply(&event.Event{Type: event.Track, Event: EventChanged, Timestamp: t1,
		Properties: map[string]any{"channel": "email", "granted": true}}, profile.Resolution{Profile: "p_ann"})
	if err := w2.c.Checkpoint(w2.db.NewBatch()); err != nil || len(ob2.msgs) != 0 {
		t.Fatalf("single opt-in sent %+v (%v)", ob2.msgs, err)
	}
}

// Expired preference, unsubscribe and confirmation links answer a page
// that says so (410), change nothing and record nothing; until then they
// work.
func TestExpiredConsentLinks(t *testing.T) {
	w, h, mux := newHTTP(t, Options{DoubleOptIn: true})
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	h.Signer.Now = func() time.Time { return now }
	links := map[string]string{
		track.KindPreferences: h.Signer.URL("", track.Claims{Kind: track.KindPreferences, Profile: "p_ann"}),
		track.KindUnsubscribe: h.Signer.URL("", track.Claims{Kind: track.KindUnsubscribe, Profile: "p_ann", Channel: "email"}),
		track.KindConfirm:     h.Signer.URL("", track.Claims{Kind: track.KindConfirm, Profile: "p_ann", Channel: "email"}),
	}
	for kind, link := range links {
		now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Add(track.Lifetimes[kind] - time.Minute)
		if rr := do(mux, "GET", link, "", ""); rr.Code != 200 {
			t.Errorf("%s before expiry: %d", kind, rr.Code)
		}
		now = now.Add(time.Minute)
		for _, method := range []string{"GET", "POST"} {
			rr := do(mux, method, link, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
			if rr.Code != http.StatusGone || !strings.Contains(rr.Body.String(), "expired") || !strings.Contains(rr.Body.String(), expiredMessage[kind][:20]) {
				t.Errorf("%s %s after expiry: %d %s", method, kind, rr.Code, rr.Body)
			}
		}
	}
	if len(w.recorded) != 0 {
		t.Errorf("expired links recorded %v", w.recorded)
	}
}

// The confirmation page answers once the grant is applied, also when the
// processor applies it later than the record returns (the grant was
// already pending, which must not count as applied).
func TestConfirmAnswersAfterTheGrantIsApplied(t *testing.T) {
	w, h, mux := newHTTP(t, Options{DoubleOptIn: true})
	h.Wait = 2 * time.Second
	w.c.Apply(track_(EventChanged, map[string]any{"channel": "email", "granted": true}), profile.Resolution{Profile: "p_ann"})
	// The processor lags: recorded events are applied 100 ms later.
	h.Record = func(ctx context.Context, msgs [][]byte) error {
		go func() {
			time.Sleep(100 * time.Millisecond)
			_ = w.record(ctx, msgs)
		}()
		return nil
	}
	link := h.Signer.URL("", track.Claims{Kind: track.KindConfirm, Profile: "p_ann", Channel: "email"})
	if rr := do(mux, "POST", link, "", ""); rr.Code != 200 {
		t.Fatalf("confirm: %d %s", rr.Code, rr.Body)
	}
	if ok, why := w.c.Allowed("p_ann", "email", "marketing"); !ok {
		t.Fatalf("the confirmation answered before the grant was applied: %s", why)
	}
}
