package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/store"
)

// bestHourSegments answers best_send_hour from a table (absent: none).
type bestHourSegments struct {
	fakeSegments
	hours map[string]int
	asked []time.Time
}

func (b *bestHourSegments) BestSendHour(prof string, at time.Time) (int, bool) {
	b.asked = append(b.asked, at)
	h, ok := b.hours[prof]
	return h, ok
}

// bestTimeJourney sends "tip" at the best time within window on "Go".
func bestTimeJourney(window string) Journey {
	return Journey{ID: "bt", Name: "Best time", Trigger: Trigger{Type: TriggerEvent, Event: "Go"}, Start: "tip",
		Steps: []*Step{{ID: "tip", Type: StepSend, Channel: "email", Template: "tip", AtBestTimeWithin: window, Next: "after"},
			{ID: "after", Type: StepSend, Channel: "push", Template: "after"}}}
}

func TestSendAtBestTimeWaitsForTheProfilesHourWithinTheWindow(t *testing.T) {
	// t0 is 12:00 UTC: 21:00 in Tokyo.
	tests := []struct {
		name   string
		tz     string
		hour   int // -1: no best hour
		window string
		due    time.Duration // after t0; 0 sends at once
	}{
		{"Tokyo 09:00 is 12 h away, within 24h", "Asia/Tokyo", 9, "24h", 12 * time.Hour},
		{"Tokyo 09:00 is past a 6h window: sends now", "Asia/Tokyo", 9, "6h", 0},
		{"already in the best hour: sends now", "Asia/Tokyo", 21, "24h", 0},
		{"no timezone reads UTC: 14:00 is 2 h away", "", 14, "24h", 2 * time.Hour},
		{"the hour just passed waits for tomorrow's", "", 11, "48h", 23 * time.Hour},
		{"no best hour at all: sends now", "Asia/Tokyo", -1, "24h", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs := &bestHourSegments{hours: map[string]int{}}
			h := newHarness(t, Options{Segments: segs})
			segs.h = h
			traits := map[string]any{}
			if tt.tz != "" {
				traits["timezone"] = tt.tz
			}
			prof := h.store.Apply(&event.Event{Type: event.Identify, UserID: "u1", Traits: traits, Timestamp: t0, ReceivedAt: t0, MessageID: "id"}).Profile
			if tt.hour >= 0 {
				segs.hours[prof] = tt.hour
			}
			h.save(bestTimeJourney(tt.window))
			ev := h.track(prof, "Go", nil)
			want := []string{fmt.Sprintf("j:bt:1:%d:tip", ev.Seq), fmt.Sprintf("j:bt:1:%d:after", ev.Seq)}
			if tt.due > 0 {
				if got := h.sent(); len(got) != 0 {
					t.Fatalf("sent at once: %v", got)
				}
				if st, _ := h.e.Stats("bt"); st.Steps["tip"].Waiting != 1 || st.Steps["tip"].Sent != 0 {
					t.Fatalf("tip while held: %+v", st.Steps["tip"])
				}
				h.at(tt.due - time.Minute)
				if got := h.sent(); len(got) != 0 {
					t.Fatalf("sent a minute early: %v", got)
				}
				h.at(tt.due)
			}
			if got := h.sent(); !slices.Equal(got, want) {
				t.Fatalf("sent %v, want %v", got, want)
			}
			st, _ := h.e.Stats("bt")
			if s := st.Steps["tip"]; s.Entered != 1 || s.Sent != 1 || s.Waiting != 0 {
				t.Fatalf("tip figures: %+v", s)
			}
			if len(segs.asked) != 1 || !segs.asked[0].Equal(t0) {
				t.Fatalf("best hour asked at %v, want once at the step's arrival %v", segs.asked, t0)
			}
		})
	}
}

func TestSendAtBestTimeTimerSurvivesAReopenOfTheStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := store.Open(dir, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	segs := &bestHourSegments{hours: map[string]int{"p_1": 15}}
	h := newHarness(t, Options{DB: db, Segments: segs})
	segs.h = h
	h.save(bestTimeJourney("24h"))
	ev := h.track("p_1", "Go", nil)
	b := db.NewBatch()
	if err := h.e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = store.Open(dir, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// After the restart the profile's best hour has moved: the held send
	// keeps the instant chosen when it reached the step.
	segs2 := &bestHourSegments{hours: map[string]int{"p_1": 20}}
	h2 := newHarness(t, Options{DB: db, Segments: segs2})
	segs2.h = h2
	h2.seq = h.seq
	if err := h2.e.Load(); err != nil {
		t.Fatal(err)
	}
	h2.at(3*time.Hour - time.Minute)
	if got := h2.sent(); len(got) != 0 {
		t.Fatalf("fired early after reopen: %v", got)
	}
	h2.at(3 * time.Hour)
	want := []string{fmt.Sprintf("j:bt:1:%d:tip", ev.Seq), fmt.Sprintf("j:bt:1:%d:after", ev.Seq)}
	if got := h2.sent(); !slices.Equal(got, want) {
		t.Fatalf("after reopen sent %v, want %v", got, want)
	}
}

func TestSendAtBestTimeConversionWhileHeldStopsTheSend(t *testing.T) {
	segs := &bestHourSegments{hours: map[string]int{"p_1": 18}}
	h := newHarness(t, Options{Segments: segs})
	segs.h = h
	j := bestTimeJourney("24h")
	j.Goal = &Goal{Event: "Order Completed", Within: "3d"}
	h.save(j)
	h.track("p_1", "Go", nil)
	h.at(time.Hour)
	h.track("p_1", "Order Completed", map[string]any{"revenue": 5.0})
	h.at(7 * time.Hour)
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("sent after the conversion: %v", got)
	}
	if st, _ := h.e.Stats("bt"); st.Steps["tip"].Waiting != 0 || st.Converted != 1 {
		t.Fatalf("after conversion: waiting %d converted %d", st.Steps["tip"].Waiting, st.Converted)
	}
}

func TestSendAtBestTimeValidation(t *testing.T) {
	tests := []struct {
		window string
		ok     bool
	}{
		{"", true}, {"1h", true}, {"24h", true}, {"7d", true},
		{"30m", false}, {"8d", false}, {"soon", false}, {"-2h", false},
	}
	for _, tt := range tests {
		t.Run(tt.window, func(t *testing.T) {
			j := bestTimeJourney(tt.window)
			err := j.Validate(nil)
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
			var ve *ValidationError
			if err != nil && (!errors.As(err, &ve) || ve.Path != "/steps/0/at_best_time_within") {
				t.Fatalf("error %v does not name the field", err)
			}
		})
	}
}

func TestDryRunHoldsSendsForTheBestTime(t *testing.T) {
	now := t0.Add(2 * 24 * time.Hour) // 12:00 UTC
	var log fakeLog
	add := func(user string, at time.Time) {
		raw, _ := json.Marshal(map[string]any{"type": "track", "event": "Go", "userId": user, "messageId": user,
			"timestamp": at.Format(time.RFC3339Nano)})
		log = append(log, eventlog.Entry{Seq: uint64(len(log) + 1), Value: event.AppendStored(nil, raw, event.Meta{SourceID: "web", ReceivedAt: at})})
	}
	// Best at 15:00 UTC: "done" entered yesterday at 12:00 and was sent at
	// 15:00; "held" entered an hour ago and waits until 15:00 today.
	add("done", now.Add(-24*time.Hour))
	add("held", now.Add(-time.Hour))
	segs := &bestHourSegments{hours: map[string]int{"p_done": 15, "p_held": 15}}
	j := bestTimeJourney("24h")
	res, err := DryRun(context.Background(), &j, 7, log, owners{}, Options{Now: func() time.Time { return now }, Segments: segs})
	if err != nil {
		t.Fatal(err)
	}
	if res.Entered != 2 || res.Steps["tip"] != 2 || res.Steps["after"] != 1 || res.Messages["email"] != 1 || res.Messages["push"] != 1 || res.Waiting != 1 {
		t.Fatalf("dry run = %+v", res)
	}
}
