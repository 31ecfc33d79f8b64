package journey

import (
	"encoding/json"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
)

// Delivery and tracking events of a journey's messages count for the step
// that sent them and the day they were recorded; a client's forged one does
// not, nor one naming another journey's or no step.
func TestTrackedEventsCountPerStepAndDay(t *testing.T) {
	h := newHarness(t, Options{})
	h.save(cart())
	h.track("p_1", "Product Added", nil)
	h.at(2 * time.Hour) // email1 sent
	internal := func(name, journey, step, source string, at time.Time) {
		h.seq++
		ev := &event.Event{Type: event.Track, Event: name, UserID: "p_1", SourceID: source, Seq: h.seq,
			Timestamp: at, ReceivedAt: at, Properties: map[string]any{"journey": journey, "step": step, "message_key": "k"}}
		h.e.Apply(ev, profile.Resolution{Profile: "p_1"})
	}
	day1, day2 := t0.Add(2*time.Hour), t0.Add(26*time.Hour)
	cases := []struct {
		name, journey, step, source string
		at                          time.Time
	}{
		{"Message Delivered", "cart", "email1", internalSource, day1},
		{"Message Opened", "cart", "email1", internalSource, day1},
		{"Message Opened", "cart", "email1", internalSource, day2},
		{"Message Clicked", "cart", "email1", internalSource, day2},
		{"Unsubscribed", "cart", "email1", internalSource, day2},
		{"Message Bounced", "cart", "email2", internalSource, day2},
		{"Message Opened", "cart", "email1", "web", day2},           // forged by a client
		{"Message Opened", "other", "email1", internalSource, day2}, // no such journey
		{"Message Clicked", "cart", "nostep", internalSource, day2}, // counted for the day only
	}
	for _, c := range cases {
		internal(c.name, c.journey, c.step, c.source, c.at)
	}
	st, err := h.e.Stats("cart")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Steps["email1"].Tracked, (Tracked{Delivered: 1, Opened: 2, Clicked: 1, Unsubscribed: 1}); got != want {
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
	if got, want := d2.Tracked, (Tracked{Opened: 1, Clicked: 2, Unsubscribed: 1, Bounced: 1}); got != want {
		t.Errorf("day 2 tracked = %+v, want %+v", got, want)
	}
	// The API and the checkpoint write the counts flat beside the others.
	b, _ := json.Marshal(d2)
	var flat map[string]any
	_ = json.Unmarshal(b, &flat)
	if flat["opened"] != 1.0 || flat["clicked"] != 2.0 || flat["entered"] != 0.0 {
		t.Errorf("day JSON = %s", b)
	}
}
