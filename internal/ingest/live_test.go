package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tailor/internal/eventlog"
	"tailor/internal/live"
)

// gatedLog holds every Append until the test opens the gate: the events are
// not durable before.
type gatedLog struct {
	memLog
	gate chan struct{}
}

func (g *gatedLog) Append(ctx context.Context, recs []eventlog.Record) ([]eventlog.Result, error) {
	<-g.gate
	return g.memLog.Append(ctx, recs)
}

func TestLiveSeesAcceptedOnceDurableAndRejectedWithReasons(t *testing.T) {
	src := &Sources{}
	src.Add("wk", "default")
	l := &gatedLog{gate: make(chan struct{})}
	h := NewHandler(l, src, nil, nil)
	h.Live = live.NewHub(4, 16)
	sub, err := h.Live.Subscribe("default")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := h.Live.Subscribe("another-source")

	body := `{"batch":[{"type":"track","userId":"u1","event":"Order Completed","properties":{"total":10}},{"type":"track","event":"No One"},{"type":"page","anonymousId":"a1","name":"Home"}]}`
	done := make(chan int)
	go func() {
		req := httptest.NewRequest("POST", "/v1/batch", strings.NewReader(body))
		req.SetBasicAuth("wk", "")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		done <- w.Code
	}()

	recv := func() *live.Event {
		t.Helper()
		select {
		case e := <-sub.C():
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no live event within 5 s")
			return nil
		}
	}
	rej := recv()
	if rej.Kind != live.KindRejected || rej.Index != 1 || !strings.Contains(rej.Reason, "anonymousId") || !strings.Contains(rej.Body, "No One") {
		t.Errorf("rejected event = %+v, want index 1 with the missing-identifier reason and its body", rej)
	}
	select {
	case e := <-sub.C():
		t.Fatalf("%s event %q published before the log made it durable", e.Kind, e.Event)
	case <-time.After(50 * time.Millisecond):
	}
	close(l.gate)
	if code := <-done; code != 200 {
		t.Fatalf("batch answered %d", code)
	}
	first, second := recv(), recv()
	if first.Kind != live.KindAccepted || first.Event != "Order Completed" || first.UserID != "u1" || first.SourceID != "default" || first.Type != "track" {
		t.Errorf("first accepted = %+v", first)
	}
	if second.Event != "Home" || second.AnonymousID != "a1" || second.Type != "page" {
		t.Errorf("second accepted = %+v, want the page Home of a1", second)
	}
	// The JSON is a copy: another request reusing the pooled buffers must
	// not change it.
	for i := range 3 {
		req := httptest.NewRequest("POST", "/v1/batch", strings.NewReader(fmt.Sprintf(`{"batch":[{"type":"track","userId":"zz%d","event":"Overwrite Attempt Overwrite Attempt"}]}`, i)))
		req.SetBasicAuth("wk", "")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	var m map[string]any
	if err := json.Unmarshal(first.JSON, &m); err != nil || m["event"] != "Order Completed" || m["userId"] != "u1" {
		t.Errorf("first event's JSON after later requests = %s (%v)", first.JSON, err)
	}
	if n := len(other.C()); n != 0 {
		t.Errorf("a subscriber of another source got %d events", n)
	}
	if c := h.Counts(); c.Accepted != 5 || c.Rejected != 1 {
		t.Errorf("counts = %+v, want 5 accepted, 1 rejected", c)
	}
}

// BenchmarkBatchValidLive is BenchmarkBatchValid with the live debugger off
// and on: a subscriber must cost ingest little, and none must cost nothing.
func BenchmarkBatchValidLive(b *testing.B) {
	var body bytes.Buffer
	body.WriteString(`{"batch":[`)
	for i := range 100 {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(`{"type":"track","userId":"user-` + strings.Repeat("x", i%7) + `","event":"Product Viewed","properties":{"product_id":"sku-1","price":12.5}}`)
	}
	body.WriteString(`]}`)
	for _, subs := range []int{0, 1} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			h, _ := newRejectedHandler(b)
			h.Live = live.NewHub(0, 0)
			for range subs {
				sub, err := h.Live.Subscribe("")
				if err != nil {
					b.Fatal(err)
				}
				stop := make(chan struct{})
				go func() {
					for {
						select {
						case <-sub.C():
						case <-stop:
							return
						}
					}
				}()
				b.Cleanup(func() { close(stop) })
			}
			l := h.Log.(*memLog)
			b.ReportAllocs()
			for b.Loop() {
				l.recs = l.recs[:0]
				req := httptest.NewRequest("POST", "/v1/batch", bytes.NewReader(body.Bytes()))
				req.SetBasicAuth("wk", "")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

func TestLiveSeesRefusedWriteKeys(t *testing.T) {
	h, _ := newTestHandler()
	h.Live = live.NewHub(4, 16)
	all, _ := h.Live.Subscribe("")
	one, _ := h.Live.Subscribe("default")
	for _, tc := range []struct {
		name, key, body string
		want            string
	}{
		{"revoked key in the header", "revoked-key-0123456789", `{"userId":"u","event":"E"}`, "unknown write key (key revo…89)"},
		{"short key", "abc", `{"userId":"u","event":"E"}`, "unknown write key (key of 3 characters)"},
		{"unknown key in the body", "", `{"userId":"u","event":"E","writeKey":"nope"}`, "unknown write key"},
		{"no key", "", `{"userId":"u","event":"E"}`, "missing write key"},
	} {
		req := httptest.NewRequest("POST", "/v1/track", strings.NewReader(tc.body))
		if tc.key != "" {
			req.SetBasicAuth(tc.key, "")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 401 {
			t.Errorf("%s: %d, want 401", tc.name, w.Code)
		}
		select {
		case e := <-all.C():
			if e.Kind != live.KindRejected || e.SourceID != "" || !strings.HasPrefix(e.Reason, tc.want) || e.Endpoint != "/v1/track" {
				t.Errorf("%s: live event %+v, want a rejection naming %q", tc.name, e, tc.want)
			}
			if tc.key != "" && strings.Contains(e.Reason, tc.key) && len(tc.key) > 8 {
				t.Errorf("%s: the reason %q shows the whole key", tc.name, e.Reason)
			}
		default:
			t.Errorf("%s: no live event for the refused request", tc.name)
		}
	}
	if n := len(one.C()); n != 0 {
		t.Errorf("a viewer of one source got %d refusals that belong to no source", n)
	}
}
