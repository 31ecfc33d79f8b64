package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"tailor/internal/apierr"
)

// Timing of a stream.
const (
	// heartbeat is how often an idle stream sends a comment, so that
	// proxies keep it open and a gone client is noticed.
	heartbeat = 15 * time.Second
	// writeWait bounds each write: a client that stops reading loses its
	// stream instead of holding a goroutine and a connection.
	writeWait = 10 * time.Second
	// maxStream is how long one stream lasts; EventSource reconnects by
	// itself, and a bounded stream cannot outlive a revoked session for long.
	maxStream = 30 * time.Minute
	// maxSourceLen bounds ?source= (source ids are short).
	maxSourceLen = 200
)

// ServeHTTP answers GET /api/events/stream?source=<id> with Server-Sent
// Events: "accepted" and "rejected" events whose data is an Event as JSON,
// and "dropped" events ({"dropped":N}) when the client was too slow to
// receive N of them.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.MethodNotAllowed, r.Method+" is not allowed here; send GET"))
		return
	}
	source := r.URL.Query().Get("source")
	if len(source) > maxSourceLen {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.BadRequest, "source: at most %d bytes, got %d", maxSourceLen, len(source)))
		return
	}
	sub, err := h.Subscribe(source)
	switch {
	case errors.Is(err, ErrFull):
		w.Header().Set("Retry-After", "10")
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.Busy, "at most %d live event streams may be open at once; close one (another tab?) and retry", h.max))
		return
	case err != nil:
		apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.ShuttingDown, ""))
		return
	}
	defer h.Unsubscribe(sub)

	rc := http.NewResponseController(w)
	// The server's read deadline would end the request when it passes (it
	// bounds reading a request, and this one lasts): the stream is bounded
	// by maxStream and its writes by writeWait instead.
	_ = rc.SetReadDeadline(time.Time{})
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	s := stream{w: w, rc: rc}
	s.printf("retry: 3000\n: connected to %q (empty: every source)\n\n", source)
	if s.flush() != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	end := time.NewTimer(maxStream)
	defer end.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case <-end.C:
			return
		case <-tick.C:
			s.printf(": ping\n\n")
		case e := <-sub.C():
			s.event(e)
			// Send what else is waiting in the same write.
			for more := true; more; {
				select {
				case e := <-sub.C():
					s.event(e)
				default:
					more = false
				}
			}
		}
		if n := sub.TakeDropped(); n > 0 {
			s.printf("event: dropped\ndata: {\"dropped\":%d}\n\n", n)
		}
		if s.flush() != nil {
			return
		}
	}
}

// stream writes SSE frames; the first write error sticks and ends it.
type stream struct {
	w   io.Writer
	rc  *http.ResponseController
	err error
}

func (s *stream) printf(format string, args ...any) {
	if s.err != nil {
		return
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeWait))
	_, s.err = fmt.Fprintf(s.w, format, args...)
}

func (s *stream) event(e *Event) {
	b, err := json.Marshal(e)
	if err != nil {
		// A message whose JSON does not re-encode (it cannot happen for
		// what ingest accepted) is shown without it.
		c := *e
		c.JSON = nil
		b, _ = json.Marshal(&c)
	}
	// JSON has no raw newlines, so one data: line holds it.
	s.printf("event: %s\ndata: %s\n\n", e.Kind, b)
}

func (s *stream) flush() error {
	if s.err == nil {
		_ = s.rc.SetWriteDeadline(time.Now().Add(writeWait))
		s.err = s.rc.Flush()
	}
	return s.err
}
