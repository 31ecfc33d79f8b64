package journey

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/eventlog"
)

func do(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewBufferString(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %s", method, path, rec.Body)
	}
	return rec.Code, m
}

func TestJourneysAPI(t *testing.T) {
	hs := newHarness(t, Options{})
	api := (&HTTP{Engine: hs.e, Lookup: func(id string) (string, bool) { return "p_" + id, id != "ghost" }}).Handler()
	def, _ := json.Marshal(cart())
	steps := []struct {
		method, path, body string
		status             int
		check              func(m map[string]any) string
	}{
		{"POST", "/api/journeys", `{"id":"x","name":"X","trigger":{"type":"event"},"start":"a","steps":[{"id":"a","type":"exit"}]}`, 400,
			func(m map[string]any) string {
				if m["code"] != "invalid_journey" || m["path"] != "/trigger/event" {
					return "want invalid_journey at /trigger/event"
				}
				return ""
			}},
		{"POST", "/api/journeys", `{"id":"x","steps":"many"}`, 400, func(m map[string]any) string {
			if m["code"] != "invalid_journey" || m["path"] != "/steps" {
				return "want invalid_journey at /steps"
			}
			return ""
		}},
		{"POST", "/api/journeys", `{"id":`, 400, func(m map[string]any) string {
			if m["code"] != "invalid_json" {
				return "want invalid_json"
			}
			return ""
		}},
		{"POST", "/api/journeys", string(def), 201, func(m map[string]any) string {
			if m["status"] != "draft" || m["version"] != 1.0 {
				return "want a draft, version 1"
			}
			return ""
		}},
		{"POST", "/api/journeys", string(def), 409, func(m map[string]any) string {
			if m["code"] != "journey_exists" {
				return "want journey_exists"
			}
			return ""
		}},
		{"POST", "/api/journeys/cart/resume", "", 409, func(m map[string]any) string {
			if m["code"] != "journey_state" {
				return "want journey_state"
			}
			return ""
		}},
		{"POST", "/api/journeys/cart/publish", "", 200, func(m map[string]any) string {
			if m["status"] != "live" {
				return "want live"
			}
			return ""
		}},
		{"PUT", "/api/journeys/cart", string(def), 200, func(m map[string]any) string {
			if m["version"] != 2.0 || m["status"] != "live" {
				return "want version 2, still live"
			}
			return ""
		}},
		{"GET", "/api/journeys/cart?version=1", "", 200, func(m map[string]any) string {
			if m["version"] != 1.0 {
				return "want version 1"
			}
			return ""
		}},
		{"DELETE", "/api/journeys/cart", "", 409, func(m map[string]any) string { return "" }},
		{"POST", "/api/journeys/cart/trigger", `{"identifier":"42"}`, 409, func(m map[string]any) string {
			if m["code"] != "journey_state" {
				return "an event-triggered journey cannot be triggered by the API"
			}
			return ""
		}},
		{"GET", "/api/journeys/cart/stats", "", 200, func(m map[string]any) string {
			if _, ok := m["steps"].(map[string]any)["email2"]; !ok {
				return "want every step in the stats"
			}
			return ""
		}},
		{"GET", "/api/journeys", "", 200, func(m map[string]any) string {
			if l, _ := m["journeys"].([]any); len(l) != 1 {
				return "want one journey"
			}
			return ""
		}},
		{"POST", "/api/journeys/cart/archive", "", 200, func(m map[string]any) string { return "" }},
		{"GET", "/api/journeys/nope", "", 404, func(m map[string]any) string {
			if m["code"] != "journey_not_found" {
				return "want journey_not_found"
			}
			return ""
		}},
		{"POST", "/api/journeys/cart/dry-run", `{"days":0}`, 400, func(m map[string]any) string {
			if m["path"] != "/days" {
				return "want the path /days"
			}
			return ""
		}},
	}
	for _, s := range steps {
		code, m := do(t, api, s.method, s.path, s.body)
		if code != s.status {
			t.Fatalf("%s %s = %d %v, want %d", s.method, s.path, code, m, s.status)
		}
		if msg := s.check(m); msg != "" {
			t.Fatalf("%s %s = %v: %s", s.method, s.path, m, msg)
		}
	}
}

// fakeLog is a log of stored events.
type fakeLog []eventlog.Entry

func (l fakeLog) ReplayAll(_ context.Context, after uint64, fn func(eventlog.Entry) error) error {
	for _, en := range l {
		if en.Seq > after {
			if err := fn(en); err != nil {
				return err
			}
		}
	}
	return nil
}

type owners struct{}

func (owners) Owner(e *event.Event) (string, bool) { return "p_" + e.UserID, e.UserID != "" }

func TestDryRunCountsWithoutSending(t *testing.T) {
	now := t0.Add(10 * 24 * time.Hour)
	var log fakeLog
	addAt := func(user, name string, at, received time.Time, props map[string]any) {
		raw, _ := json.Marshal(map[string]any{"type": "track", "event": name, "userId": user, "messageId": fmt.Sprint(len(log)),
			"timestamp": at.Format(time.RFC3339Nano), "properties": props})
		log = append(log, eventlog.Entry{Seq: uint64(len(log) + 1), Value: event.AppendStored(nil, raw, event.Meta{SourceID: "web", ReceivedAt: received})})
	}
	add := func(user, name string, at time.Time, props map[string]any) { addAt(user, name, at, at, props) }
	add("old", "Product Added", now.Add(-9*24*time.Hour), nil) // before the window
	// Imported just now, but it happened before the window: event time counts.
	addAt("imported", "Product Added", now.Add(-20*24*time.Hour), now.Add(-time.Minute), nil)
	add("a", "Product Added", now.Add(-3*24*time.Hour), nil) // both reminders
	add("b", "Product Added", now.Add(-2*24*time.Hour), nil) // orders before the first
	add("b", "Order Completed", now.Add(-2*24*time.Hour+time.Minute), map[string]any{"revenue": 12.0})
	add("c", "Product Added", now.Add(-2*time.Hour), nil)    // first reminder only
	add("d", "Product Added", now.Add(-30*time.Minute), nil) // still waiting
	out := &fakeOutbox{}
	j := cart()
	res, err := DryRun(context.Background(), &j, 7, log, owners{}, Options{Now: func() time.Time { return now }, Outbox: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Entered != 4 || res.Converted != 1 || res.Revenue != 12 || res.Messages["email"] != 3 || res.Steps["email1"] != 2 || res.Steps["email2"] != 1 || res.Waiting != 2 {
		t.Fatalf("dry run = %+v", res)
	}
	if len(out.msgs) != 0 {
		t.Fatalf("a dry run enqueued %d messages", len(out.msgs))
	}
}

// seqLog is a fakeLog that knows its last seq, as the embedded log does,
// and counts the entries it hands out.
type seqLog struct {
	fakeLog
	read int
}

func (l *seqLog) LastSeq() uint64 { return l.fakeLog[len(l.fakeLog)-1].Seq }

func (l *seqLog) ReplayAll(ctx context.Context, after uint64, fn func(eventlog.Entry) error) error {
	return l.fakeLog.ReplayAll(ctx, after, func(en eventlog.Entry) error { l.read++; return fn(en) })
}

// A dry run over the last days reads the log from about the cut-off on
// (found by a binary search over seq on the receive times), not the
// months before it, and comes to what a read of the whole log comes to.
func TestDryRunReadsOnlyTheLogsTail(t *testing.T) {
	now := t0.Add(100 * 24 * time.Hour)
	var log fakeLog
	add := func(user, name string, at, received time.Time) {
		raw, _ := json.Marshal(map[string]any{"type": "track", "event": name, "userId": user, "messageId": fmt.Sprint(len(log)),
			"timestamp": at.Format(time.RFC3339Nano)})
		log = append(log, eventlog.Entry{Seq: uint64(2*len(log) + 1), Value: event.AppendStored(nil, raw, event.Meta{SourceID: "web", ReceivedAt: received})})
	}
	const old = 20000
	for i := range old { // 90 days of history before the window
		at := now.Add(-100*24*time.Hour + time.Duration(i)*90*24*time.Hour/old)
		add(fmt.Sprint("u", i%500), "Product Added", at, at)
	}
	// Imported just now, but it happened before the window: read, not counted.
	add("imported", "Product Added", now.Add(-20*24*time.Hour), now.Add(-time.Minute))
	for i, ago := range []time.Duration{6 * 24 * time.Hour, 3 * 24 * time.Hour, 2 * time.Hour, 30 * time.Minute} {
		add(fmt.Sprint("w", i), "Product Added", now.Add(-ago), now.Add(-ago))
	}
	j := cart()
	opts := Options{Now: func() time.Time { return now }}
	whole, err := DryRun(context.Background(), &j, 7, log, owners{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tail := &seqLog{fakeLog: log}
	res, err := DryRun(context.Background(), &j, 7, tail, owners{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if whole.EntriesScanned != len(log) || whole.Entered != 4 {
		t.Fatalf("whole-log dry run scanned %d of %d entries, entered %d (want all, 4)", whole.EntriesScanned, len(log), whole.Entered)
	}
	if res.Entered != whole.Entered || res.EventsRead != whole.EventsRead || res.Messages["email"] != whole.Messages["email"] || res.Waiting != whole.Waiting {
		t.Errorf("tail dry run = %+v, whole-log one = %+v", res, whole)
	}
	// 7 days and the slack of a 90-day history of 20,000: about 1,560
	// entries, plus one per probe of the search (about 15).
	if res.EntriesScanned > old*8/90+10 || tail.read > res.EntriesScanned+40 {
		t.Errorf("tail dry run scanned %d entries (%d with the search's probes) of %d, want about the last 7 days' %d", res.EntriesScanned, tail.read, len(log), old*7/90)
	}
	if res.FromSeq == 0 || res.FromSeq >= tail.LastSeq() {
		t.Errorf("tail dry run started after seq %d of %d", res.FromSeq, tail.LastSeq())
	}
}
