package live

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHubBoundsAndFilters(t *testing.T) {
	h := NewHub(2, 3)
	all, err := h.Subscribe("")
	if err != nil {
		t.Fatal(err)
	}
	web, err := h.Subscribe("web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(""); !errors.Is(err, ErrFull) {
		t.Fatalf("third subscriber: %v, want ErrFull", err)
	}
	for _, tc := range []struct {
		source        string
		wantAll, want bool
	}{{"web", true, true}, {"app", true, false}} {
		if got := h.Wants(tc.source); got != (tc.wantAll || tc.want) {
			t.Errorf("Wants(%q) = %v", tc.source, got)
		}
		h.Publish(&Event{Kind: KindAccepted, SourceID: tc.source})
	}
	if len(all.C()) != 2 || len(web.C()) != 1 {
		t.Fatalf("all got %d, web got %d; want 2 and 1", len(all.C()), len(web.C()))
	}
	// web's buffer (3) holds 1: five more fill it and drop 3.
	for range 5 {
		h.Publish(&Event{Kind: KindAccepted, SourceID: "web"})
	}
	if n := web.TakeDropped(); n != 3 {
		t.Errorf("web dropped %d, want 3", n)
	}
	if n := web.TakeDropped(); n != 0 {
		t.Errorf("TakeDropped again = %d, want 0 (it restarts the count)", n)
	}
	if st := h.Stats(); st.Subscribers != 2 || st.Dropped != 3+4 {
		t.Errorf("stats = %+v, want 2 subscribers and 7 dropped (3 for web, 4 for all)", st)
	}
	h.Unsubscribe(web)
	if h.Wants("app") != true || h.Stats().Subscribers != 1 {
		t.Errorf("after unsubscribing web: %+v", h.Stats())
	}
	h.Unsubscribe(all)
	if h.Wants("web") {
		t.Error("Wants with no subscribers = true")
	}
	h.Publish(&Event{SourceID: "web"}) // no subscriber: must not panic or block
	var nilHub *Hub
	nilHub.Publish(&Event{})
	if nilHub.Wants("") {
		t.Error("nil hub wants events")
	}
}

// sse reads one stream's frames.
type sse struct {
	r *bufio.Reader
}

// next returns the next frame's event name and data, skipping comments.
func (s sse) next(t *testing.T) (string, string) {
	t.Helper()
	name, data := "", ""
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && (name != "" || data != ""):
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
}

func open(t *testing.T, url string) (*http.Response, sse) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, sse{bufio.NewReader(resp.Body)}
}

// waitSubscribers waits until the hub has n subscribers.
func waitSubscribers(t *testing.T, h *Hub, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); h.Stats().Subscribers != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers, want %d", h.Stats().Subscribers, n)
		}
	}
}

func TestStream(t *testing.T) {
	h := NewHub(1, 4)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close) // after the streams' bodies are closed (cleanups run last first)

	resp, s := open(t, srv.URL+"/api/events/stream?source=web")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	waitSubscribers(t, h, 1)

	// The hub is full: a second stream is refused in words.
	r2, err := http.Get(srv.URL + "/api/events/stream")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 512)
	n, _ := r2.Body.Read(b)
	r2.Body.Close()
	if r2.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b[:n]), "at most 1 live event stream") {
		t.Errorf("second stream: %d %s, want 503 naming the bound", r2.StatusCode, b[:n])
	}

	h.Publish(&Event{Kind: KindAccepted, SourceID: "app", Event: "Not Mine"})
	h.Publish(&Event{Kind: KindAccepted, SourceID: "web", Type: "track", Event: "Signed Up", JSON: json.RawMessage(`{"event":"Signed Up"}`)})
	h.Publish(&Event{Kind: KindRejected, SourceID: "web", Reason: "userId: missing", Index: 2, Body: "{}"})
	name, data := s.next(t)
	var e Event
	if err := json.Unmarshal([]byte(data), &e); err != nil || name != KindAccepted || e.Event != "Signed Up" || string(e.JSON) != `{"event":"Signed Up"}` {
		t.Fatalf("first frame %s %s (%v), want the accepted Signed Up of source web", name, data, err)
	}
	name, data = s.next(t)
	if err := json.Unmarshal([]byte(data), &e); err != nil || name != KindRejected || e.Reason != "userId: missing" || e.Index != 2 {
		t.Fatalf("second frame %s %s, want the rejection with its reason", name, data)
	}
}

func TestSlowSubscriberIsToldWhatItMissed(t *testing.T) {
	h := NewHub(1, 4)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close) // after the streams' bodies are closed (cleanups run last first)
	_, s := open(t, srv.URL+"/api/events/stream")
	waitSubscribers(t, h, 1)
	// Nobody reads the stream while 1,000 events are published at once:
	// the publisher must not wait, and most are dropped.
	start := time.Now()
	for i := range 1000 {
		h.Publish(&Event{Kind: KindAccepted, SourceID: "web", Event: fmt.Sprint(i)})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("publishing to a slow subscriber took %v", d)
	}
	got, dropped := 0, 0
	for got+dropped < 1000 {
		name, data := s.next(t)
		switch name {
		case KindAccepted:
			got++
		case "dropped":
			var d struct{ Dropped int }
			if err := json.Unmarshal([]byte(data), &d); err != nil || d.Dropped <= 0 {
				t.Fatalf("dropped frame %q", data)
			}
			dropped += d.Dropped
		default:
			t.Fatalf("frame %q %q", name, data)
		}
	}
	if got+dropped != 1000 || dropped == 0 {
		t.Errorf("received %d, told of %d dropped; want 1000 in all, some dropped", got, dropped)
	}
	if st := h.Stats(); st.Dropped != uint64(dropped) {
		t.Errorf("hub counted %d dropped, the stream told %d", st.Dropped, dropped)
	}
}

func TestStreamRefusesBadRequests(t *testing.T) {
	h := NewHub(1, 1)
	for _, tc := range []struct {
		method, target string
		status         int
		want           string
	}{
		{"POST", "/api/events/stream", 405, "send GET"},
		{"GET", "/api/events/stream?source=" + strings.Repeat("x", 201), 400, "source: at most 200 bytes"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.target, nil))
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s %s: %d %s, want %d naming %q", tc.method, tc.target[:min(len(tc.target), 40)], w.Code, w.Body, tc.status, tc.want)
		}
	}
	if h.Stats().Subscribers != 0 {
		t.Error("a refused request left a subscriber")
	}
}

// BenchmarkPublish is the cost the live debugger adds to each accepted
// message: with no subscriber, and with one that keeps up.
func BenchmarkPublish(b *testing.B) {
	for _, subs := range []int{0, 1} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			h := NewHub(0, 0)
			for range subs {
				sub, _ := h.Subscribe("")
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
			raw := []byte(`{"type":"track","userId":"u1","event":"Product Viewed","properties":{"product_id":"sku-1","price":12.5}}`)
			b.ReportAllocs()
			for b.Loop() {
				if h.Wants("web") {
					h.Publish(&Event{Kind: KindAccepted, SourceID: "web", Type: "track", Event: "Product Viewed", UserID: "u1", JSON: append(json.RawMessage(nil), raw...)})
				}
			}
		})
	}
}

func TestCloseEndsStreams(t *testing.T) {
	h := NewHub(2, 2)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, s := open(t, srv.URL)
	waitSubscribers(t, h, 1)
	h.Close()
	// The stream ends: reading reaches EOF instead of blocking.
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(s.r)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stream ended with %v, want a clean end", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open 5 s after Close")
	}
	resp.Body.Close()
	if _, err := h.Subscribe(""); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
}
