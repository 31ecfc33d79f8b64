package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"tailor/internal/journey"
)

type memOutbox struct {
	mu   sync.Mutex
	msgs map[string]journey.Message
}

func (o *memOutbox) Enqueue(_ context.Context, ms []journey.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range ms {
		o.msgs[m.Key] = m
	}
	return nil
}

func (o *memOutbox) has(profilePrefix, step string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.msgs {
		if m.Step == step && strings.HasPrefix(m.Profile, profilePrefix) {
			return true
		}
	}
	return len(o.msgs) > 0 && profilePrefix == ""
}

// A journey's wait ends through the log (a Journey Step event on the
// profile's timeline) and its send reaches the outbox, also when the
// server restarts while the profile waits.
func TestJourneyWaitFiresThroughTheLogAndSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	out := &memOutbox{msgs: map[string]journey.Message{}}
	tune := func(c *Config) {
		c.CheckpointEvery = 50 * time.Millisecond
		c.JourneyOutbox = out
	}
	n := startNodeWith(t, dir, tune, nil)
	_, err := n.srv.Journeys.Create(journey.Journey{ID: "cart", Name: "Cart", Status: journey.StatusLive,
		Trigger: journey.Trigger{Type: journey.TriggerEvent, Event: "Product Added"}, Start: "w",
		Steps: []*journey.Step{{ID: "w", Type: journey.StepWait, Duration: "2s", Next: "mail"},
			{ID: "mail", Type: journey.StepSend, Channel: "email", Template: "cart"}}})
	if err != nil {
		t.Fatal(err)
	}
	add := func(user string) {
		now := time.Now().UTC().Format(time.RFC3339Nano)
		code, resp := n.post("/v1/batch", fmt.Sprintf(`{"batch":[{"type":"track","userId":%q,"messageId":"m-%s","event":"Product Added","timestamp":%q}]}`, user, user, now))
		if code != 200 {
			t.Fatalf("batch: %d %v", code, resp)
		}
	}
	add("u-1")
	waitUntil(t, 10*time.Second, "the send after the wait", func() bool { return out.has("", "mail") })
	waitUntil(t, 5*time.Second, "the Journey Step event on the timeline", func() bool {
		return count(n.timelineEvents("u-1"), journey.EventStep) == 1
	})

	add("u-2")
	time.Sleep(300 * time.Millisecond) // applied and checkpointed
	n.stop()
	out.mu.Lock()
	before := len(out.msgs)
	out.mu.Unlock()
	n = startNodeWith(t, dir, tune, nil)
	defer n.stop()
	waitUntil(t, 10*time.Second, "u-2's send after the restart", func() bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		return len(out.msgs) == before+1
	})
	if st, _ := n.srv.Journeys.Stats("cart"); st.Entered != 2 || st.Steps["mail"].Sent != 2 {
		t.Fatalf("stats after restart = %+v", st.Stats)
	}
}
