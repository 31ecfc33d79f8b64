package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/segment"
)

var t0 = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

// fakeOutbox keeps enqueued messages, once per key as the real one does.
type fakeOutbox struct {
	mu   sync.Mutex
	seen map[string]bool
	msgs []Message
}

func (o *fakeOutbox) Enqueue(_ context.Context, ms []Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil {
		o.seen = map[string]bool{}
	}
	for _, m := range ms {
		if !o.seen[m.Key] {
			o.seen[m.Key] = true
			o.msgs = append(o.msgs, m)
		}
	}
	return nil
}

func (o *fakeOutbox) keys() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ks []string
	for _, m := range o.msgs {
		ks = append(ks, m.Key)
	}
	return ks
}

// harness is an engine with a fake clock and a fake log: recorded events
// are appended to a slice, and Journey Step events are applied back as the
// processor would apply them from the log.
type harness struct {
	t      *testing.T
	now    time.Time
	seq    uint64
	e      *Engine
	out    *fakeOutbox
	log    []Record
	holds  map[string]bool // profile → answer of a branch rule
	store  *profile.Store
	prof   string         // the profile a test acts on, when not a literal
	loaded []*event.Event // every event applied, for replays
}

func newHarness(t *testing.T, opts Options) *harness {
	h := &harness{t: t, now: t0, out: &fakeOutbox{}, holds: map[string]bool{}, store: profile.NewStore()}
	opts.Now = func() time.Time { return h.now }
	opts.Outbox = h.out
	opts.Record = func(_ context.Context, rs []Record) error {
		h.log = append(h.log, rs...)
		return nil
	}
	if opts.Segments == nil {
		opts.Segments = fakeSegments{h}
	}
	opts.Profiles = h.store
	opts.Event = func(_ int, seq uint64) ([]byte, error) {
		for _, ev := range h.loaded {
			if ev.Seq == seq {
				raw, err := json.Marshal(map[string]any{"type": "track", "event": ev.Event, "userId": ev.UserID, "messageId": ev.MessageID,
					"timestamp": ev.Timestamp.Format(time.RFC3339Nano), "properties": ev.Properties})
				if err != nil {
					return nil, err
				}
				return event.AppendStored(nil, raw, event.Meta{SourceID: ev.SourceID, ReceivedAt: ev.ReceivedAt}), nil
			}
		}
		return nil, fmt.Errorf("no event %d", seq)
	}
	h.e = New(opts)
	return h
}

type fakeSegments struct{ h *harness }

func (f fakeSegments) Holds(_ *segment.Rule, id string, _ time.Time) (bool, error) {
	return f.h.holds[id], nil
}

func (f fakeSegments) Members(id, cursor string, limit int) ([]string, string, error) {
	if id != "vip" {
		return nil, "", segment.ErrNotFound
	}
	return []string{"p_a", "p_b", "p_c"}, "", nil
}

func (h *harness) save(j Journey) {
	h.t.Helper()
	if j.Status == "" {
		j.Status = StatusLive
	}
	if _, err := h.e.Create(j); err != nil {
		h.t.Fatalf("create %s: %v", j.ID, err)
	}
}

// track applies a customer event received now.
func (h *harness) track(prof, name string, props map[string]any) *event.Event {
	h.seq++
	ev := &event.Event{Type: event.Track, Event: name, UserID: prof, SourceID: "web", Properties: props,
		Timestamp: h.now, ReceivedAt: h.now, Seq: h.seq, MessageID: fmt.Sprint("m", h.seq)}
	h.apply(ev, prof)
	return ev
}

func (h *harness) apply(ev *event.Event, prof string) {
	h.loaded = append(h.loaded, ev)
	h.e.Apply(ev, profile.Resolution{Profile: prof})
}

// at moves the clock, fires the due timers and applies their events.
func (h *harness) at(d time.Duration) {
	h.now = t0.Add(d)
	for h.e.Tick(context.Background()) > 0 {
		h.drain()
	}
}

// drain applies the recorded Journey Step events, as the log would.
func (h *harness) drain() {
	for len(h.log) > 0 {
		rs := h.log
		h.log = nil
		for _, r := range rs {
			if r.Event != EventStep {
				continue
			}
			h.seq++
			ev := &event.Event{Type: event.Track, Event: r.Event, SourceID: internalSource, Properties: jsonish(r.Properties),
				Timestamp: h.now, ReceivedAt: h.now, Seq: h.seq, MessageID: r.MessageID}
			prof := r.Profile
			if prof == "" {
				prof = r.AnonymousID
			}
			ev.UserID = prof
			h.apply(ev, prof)
		}
	}
}

// jsonish turns numbers into float64, as the log's JSON does.
func jsonish(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case int:
			out[k] = float64(x)
		case int64:
			out[k] = float64(x)
		case uint32:
			out[k] = float64(x)
		default:
			out[k] = v
		}
	}
	return out
}

// sent flushes the engine's sends and returns the outbox's keys.
func (h *harness) sent() []string {
	h.t.Helper()
	if err := h.e.Flush(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	return h.out.keys()
}

func (h *harness) recorded(name string) []Record {
	var out []Record
	for _, r := range h.e.records {
		if r.Event == name {
			out = append(out, r)
		}
	}
	return out
}

func contains(l []string, s string) bool { return slices.Contains(l, s) }

// cart is the abandoned-cart journey of the tests: a reminder 1 h after
// Product Added unless an order came, a second one 24 h later.
func cart() Journey {
	return Journey{ID: "cart", Name: "Abandoned cart",
		Trigger: Trigger{Type: TriggerEvent, Event: "Product Added"},
		Entry:   Entry{Rule: EntryEveryTime},
		Goal:    &Goal{Event: "Order Completed", Within: "3d"},
		Start:   "wait1",
		Steps: []*Step{
			{ID: "wait1", Type: StepWait, Duration: "1h", Next: "email1"},
			{ID: "email1", Type: StepSend, Channel: "email", Template: "cart-reminder", Next: "wait2"},
			{ID: "wait2", Type: StepWait, Duration: "24h", Next: "email2"},
			{ID: "email2", Type: StepSend, Channel: "email", Template: "cart-reminder-2"},
		}}
}
