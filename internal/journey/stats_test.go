package journey

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/store"
)

// Delivery and tracking events of a journey's messages count for the step
// that sent them and the day they were recorded, an open or a click only
// on its message's first; a client's forged one does not count, nor one
// naming another journey's or no step.
func TestTrackedEventsCountPerStepAndDay(t *testing.T) {
	h := newHarness(t, Options{})
	h.save(cart())
	h.track("p_1", "Product Added", nil)
	h.at(2 * time.Hour) // email1 sent
	internal := func(name, journey, step, source, key string, at time.Time) {
		h.seq++
		ev := &event.Event{Type: event.Track, Event: name, UserID: "p_1", SourceID: source, Seq: h.seq,
			Timestamp: at, ReceivedAt: at, Properties: map[string]any{"journey": journey, "step": step, "message_key": key}}
		h.e.Apply(ev, profile.Resolution{Profile: "p_1"})
	}
	day1, day2 := t0.Add(2*time.Hour), t0.Add(26*time.Hour)
	cases := []struct {
		name, journey, step, source, key string
		at                               time.Time
	}{
		{"Message Delivered", "cart", "email1", internalSource, "k1", day1},
		{"Message Opened", "cart", "email1", internalSource, "k1", day1},
		{"Message Opened", "cart", "email1", internalSource, "k1", day2}, // opened again: the day of the first counts
		{"Message Clicked", "cart", "email1", internalSource, "k1", day2},
		{"Unsubscribed", "cart", "email1", internalSource, "k1", day2},
		{"Message Bounced", "cart", "email2", internalSource, "k2", day2},
		{"Message Opened", "cart", "email1", "web", "k3", day2},           // forged by a client
		{"Message Opened", "other", "email1", internalSource, "k4", day2}, // no such journey
		{"Message Clicked", "cart", "nostep", internalSource, "k5", day2}, // counted for the day only
		{"Message Clicked", "cart", "email1", internalSource, "", day2},   // no key: cannot be told apart, counts
		{"Message Clicked", "cart", "email1", internalSource, "k1", day2}, // clicked again
	}
	for _, c := range cases {
		internal(c.name, c.journey, c.step, c.source, c.key, c.at)
	}
	st, err := h.e.Stats("cart")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Steps["email1"].Tracked, (Tracked{Delivered: 1, Opened: 1, Clicked: 2, Unsubscribed: 1}); got != want {
		t.Errorf("email1 tracked = %+v, want %+v", got, want)
	}
	if got, want := st.Steps["email2"].Tracked, (Tracked{Bounced: 1}); got != want {
		t.Errorf("email2 tracked = %+v, want %+v", got, want)
	}
	if _, ok := st.Steps["nostep"]; ok {
		t.Error("an unknown step got figures")
	}
	d1, d2 := st.Days[day1.Format(time.DateOnly)], st.Days[day2.Format(time.DateOnly)]
	if d1 == nil || d2 == nil {
		t.Fatalf("days = %v", st.Days)
	}
	if got, want := d1.Tracked, (Tracked{Delivered: 1, Opened: 1}); got != want {
		t.Errorf("day 1 tracked = %+v, want %+v", got, want)
	}
	if got, want := d2.Tracked, (Tracked{Clicked: 3, Unsubscribed: 1, Bounced: 1}); got != want {
		t.Errorf("day 2 tracked = %+v, want %+v", got, want)
	}
	// The API and the checkpoint write the counts flat beside the others,
	// under the names the journey page reads.
	b, _ := json.Marshal(d2)
	var flat map[string]any
	_ = json.Unmarshal(b, &flat)
	if flat["opened"] != 0.0 || flat["clicked"] != 3.0 || flat["entered"] != 0.0 {
		t.Errorf("day JSON = %s", b)
	}
}

// A message opened several times and clicked twice counts one open and one
// click for its step and day, also when the engine restarts from a
// checkpoint and the log after it is applied again: the marks of counted
// messages are written with the figures, at the same log position. An open
// applied while a checkpoint's batch is not committed yet is still known.
func TestUniqueOpensAndClicksAcrossRestartAndReplay(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "pebble"), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := newHarness(t, Options{DB: db})
	h.save(cart())
	h.track("p_1", "Product Added", nil)
	h.track("p_2", "Product Added", nil)
	h.at(2 * time.Hour) // email1 sent to both
	tracked := func(name, prof, key string) *event.Event {
		h.seq++
		return &event.Event{Type: event.Track, Event: name, UserID: prof, SourceID: internalSource, Seq: h.seq,
			Timestamp: h.now, ReceivedAt: h.now, Properties: map[string]any{"journey": "cart", "step": "email1", "message_key": key}}
	}
	apply := func(e *Engine, evs ...*event.Event) {
		for _, ev := range evs {
			e.Apply(ev, profile.Resolution{Profile: ev.UserID})
		}
	}
	figures := func(e *Engine) (step, day Tracked) {
		t.Helper()
		st, err := e.Stats("cart")
		if err != nil {
			t.Fatal(err)
		}
		return st.Steps["email1"].Tracked, st.Days[h.now.Format(time.DateOnly)].Tracked
	}

	apply(h.e, tracked("Message Opened", "p_1", "ka"), tracked("Message Opened", "p_1", "ka"), tracked("Message Clicked", "p_1", "ka"))
	b := db.NewBatch()
	finish, err := h.e.CheckpointSplit(b)
	if err != nil {
		t.Fatal(err)
	}
	// Applied after the pause, before the batch is committed: after the
	// log position the checkpoint holds, so replayed below.
	var after []*event.Event
	after = append(after, tracked("Message Opened", "p_1", "ka"))
	apply(h.e, after...)
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	h.at(3 * time.Hour)
	more := []*event.Event{tracked("Message Opened", "p_1", "ka"), tracked("Message Clicked", "p_1", "ka"), tracked("Message Opened", "p_1", "ka")}
	apply(h.e, more...)
	after = append(after, more...)
	step, day := figures(h.e)
	if want := (Tracked{Opened: 1, Clicked: 1}); step != want || day != want {
		t.Fatalf("one message opened 5 times and clicked twice: step %+v, day %+v, want %+v for both", step, day, want)
	}
	// Another message of the step is another open.
	second := tracked("Message Opened", "p_2", "kb")
	apply(h.e, second)
	after = append(after, second)
	if step, _ := figures(h.e); step.Opened != 2 || step.Clicked != 1 {
		t.Fatalf("after a second message's open: step %+v, want 2 opens, 1 click", step)
	}
	before, beforeDay := figures(h.e)

	// A crash: a new engine loads the checkpoint and the log after it is
	// applied again.
	h2 := newHarness(t, Options{DB: db})
	h2.now = h.now
	if err := h2.e.Load(); err != nil {
		t.Fatal(err)
	}
	if step, _ := figures(h2.e); step.Opened != 1 || step.Clicked != 1 {
		t.Fatalf("loaded from the checkpoint: step %+v, want its 1 open and 1 click", step)
	}
	apply(h2.e, after...)
	if step, day := figures(h2.e); step != before || day != beforeDay {
		t.Errorf("after restart and replay: step %+v, day %+v, want %+v and %+v as before the crash", step, day, before, beforeDay)
	}
	// Once checkpointed, the marks are in the store: a later open of
	// either message still counts nothing.
	b2 := db.NewBatch()
	if err := h2.e.Checkpoint(b2); err != nil {
		t.Fatal(err)
	}
	if err := b2.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	b3 := db.NewBatch()
	if err := h2.e.Checkpoint(b3); err != nil { // firstOld drops the marks: the store alone knows them
		t.Fatal(err)
	}
	if err := b3.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	apply(h2.e, tracked("Message Opened", "p_1", "ka"), tracked("Message Clicked", "p_2", "kb"), tracked("Message Opened", "p_2", "kb"))
	if step, _ := figures(h2.e); step.Opened != 2 || step.Clicked != 2 {
		t.Errorf("after two checkpoints, opens of both and kb's first click: step %+v, want 2 opens, 2 clicks", step)
	}
}
