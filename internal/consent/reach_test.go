package consent

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/store"
)

// told is what the Reach hook heard, by profile.
type told struct {
	calls int
	last  map[string]string
	cause map[string]uint64
}

func (r *told) hook(p string, chs []string, cause uint64) {
	r.calls++
	r.last[p] = strings.Join(chs, ",")
	r.cause[p] = cause
}

// The Reach hook hears a profile's reachable channels whenever consent or
// an address changes them, with the event's seq, and only then; what it
// heard is what Allowed answers.
func TestReachFollowsConsentAndAddresses(t *testing.T) {
	heard := &told{last: map[string]string{}, cause: map[string]uint64{}}
	w := newWorld(t, Options{Reach: heard.hook})
	seq := uint64(0)
	apply := func(e *event.Event, prof string, merged ...string) {
		seq++
		e.Seq = seq
		w.c.Apply(e, profile.Resolution{Profile: prof, Merged: merged})
	}
	identify := func(prof string, traits map[string]any) {
		w.mu.Lock()
		for k, v := range traits {
			if v == nil {
				delete(w.profiles[prof].Traits, k)
			} else {
				w.profiles[prof].Traits[k] = v
			}
		}
		w.mu.Unlock()
		apply(&event.Event{Type: event.Identify, Traits: traits, Timestamp: time.Now()}, prof)
	}
	steps := []struct {
		name  string
		do    func()
		who   string
		want  string // what the hook heard last for who
		calls int    // hook calls so far
	}{
		{"a page view changes nothing", func() { apply(&event.Event{Type: event.Page, Timestamp: time.Now()}, "p_ann") }, "p_ann", "", 0},
		{"email consent", func() { apply(track_(EventChanged, map[string]any{"channel": "email", "granted": true}), "p_ann") }, "p_ann", "email,inapp,webhook", 1},
		{"the same consent again", func() { apply(track_(EventChanged, map[string]any{"channel": "email", "granted": true}), "p_ann") }, "p_ann", "email,inapp,webhook", 1},
		{"sms opt-in trait", func() { identify("p_ann", map[string]any{"sms_opt_in": true}) }, "p_ann", "email,sms,inapp,webhook", 2},
		{"the phone goes", func() { identify("p_ann", map[string]any{"phone": nil}) }, "p_ann", "email,inapp,webhook", 3},
		{"hard bounce", func() {
			apply(track_(EventBounced, map[string]any{"channel": "email", "hard": true, "to": "ann@example.com"}), "p_ann")
		}, "p_ann", "inapp,webhook", 4},
		{"a new address lifts the suppression", func() { identify("p_ann", map[string]any{"email": "ann@new.example"}) }, "p_ann", "email,inapp,webhook", 5},
		{"unsubscribe from everything", func() { apply(track_(EventUnsubscribed, nil), "p_ann") }, "p_ann", "", 6},
		{"bob grants email without an address", func() { apply(track_(EventChanged, map[string]any{"channel": "email", "granted": true}), "p_bob") }, "p_bob", "inapp,webhook", 7},
		{"bob merges into ann", func() {
			apply(track_(EventChanged, map[string]any{"channel": "inapp", "granted": true}), "p_ann", "p_bob")
		}, "p_ann", "email,inapp", 8},
	}
	for _, s := range steps {
		s.do()
		if heard.calls != s.calls || heard.last[s.who] != s.want {
			t.Fatalf("%s: %d calls, %s heard %q; want %d, %q", s.name, heard.calls, s.who, heard.last[s.who], s.calls, s.want)
		}
		if s.calls > 0 && heard.cause[s.who] == 0 {
			t.Fatalf("%s: no cause", s.name)
		}
		var allowed []string
		for _, ch := range Channels {
			if ok, _ := w.c.Allowed(s.who, ch, "marketing"); ok {
				allowed = append(allowed, ch)
			}
		}
		if s.calls > 0 && strings.Join(allowed, ",") != heard.last[s.who] && s.who != "p_bob" {
			t.Fatalf("%s: Allowed says %v, the hook heard %q", s.name, allowed, heard.last[s.who])
		}
	}

	// A checkpoint keeps what was heard; a reload hands it on without
	// asking the profiles.
	b := w.db.NewBatch()
	if err := w.c.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	again := New(w.db, w, Options{Reach: heard.hook})
	if err := again.Load(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	again.EachReachable(func(p string, chs []string) { got[p] = strings.Join(chs, ",") })
	if len(got) != 1 || got["p_ann"] != heard.last["p_ann"] {
		t.Fatalf("after reload: %v, want p_ann %q", got, heard.last["p_ann"])
	}
}

// State saved before Reach was kept gets it computed once at Load.
func TestLoadComputesReachOfOlderState(t *testing.T) {
	w := newWorld(t, Options{})
	if err := w.db.Set(store.Key(store.PrefixConsent, "p_ann"), []byte(`{"consents":{"email/marketing":{"granted":true,"source":"api","at":"2026-01-01T00:00:00Z"}}}`), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	heard := &told{last: map[string]string{}, cause: map[string]uint64{}}
	c := New(w.db, w, Options{Reach: heard.hook})
	if err := c.Load(); err != nil {
		t.Fatal(err)
	}
	var got []string
	c.EachReachable(func(p string, chs []string) { got = append(got, p+":"+strings.Join(chs, ",")) })
	if !slices.Equal(got, []string{"p_ann:email,inapp,webhook"}) {
		t.Fatalf("reachable after load = %v", got)
	}
}
