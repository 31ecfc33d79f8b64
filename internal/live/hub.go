// Package live fans the messages ingest settles out to the dashboard's live
// events debugger: accepted messages once they are durable, and rejected
// ones with their reasons, as Server-Sent Events (GET /api/events/stream).
//
// Ingest must never wait for a viewer. So the fan-out is bounded and
// lossy: at most Hub.max subscribers, each with a small buffer; Publish
// never blocks, and a message that finds a subscriber's buffer full is
// dropped for that subscriber and counted, and the subscriber is told how
// many it missed. With no subscriber, publishing is one atomic load (about
// 2 ns, no allocation: BenchmarkPublish); with one, a 100-message batch
// costs ingest about 1.3 times as much (BenchmarkBatchValidLive in
// package ingest, the subscriber's goroutine sharing the 2 cores).
package live

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one message as the debugger shows it.
type Event struct {
	Kind        string    `json:"kind"` // KindAccepted or KindRejected
	SourceID    string    `json:"source_id"`
	Type        string    `json:"type,omitempty"`
	Event       string    `json:"event,omitempty"` // a track's event, a page's or screen's name
	MessageID   string    `json:"message_id,omitempty"`
	UserID      string    `json:"user_id,omitempty"`
	AnonymousID string    `json:"anonymous_id,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
	// JSON is an accepted message as received. It must not alias a buffer
	// its publisher reuses: subscribers read it later, on other goroutines.
	JSON json.RawMessage `json:"json,omitempty"`
	// Endpoint, Index, Reason and Body describe a rejected message: Body is
	// its text as received (maybe truncated, maybe not JSON), Index its
	// place in its batch (-1 when the body did not parse).
	Endpoint string `json:"endpoint,omitempty"`
	Index    int    `json:"index"`
	Reason   string `json:"reason,omitempty"`
	Body     string `json:"body,omitempty"`
	// More counts the messages of the same request rejected after this one
	// and not shown (ingest keeps the first few of a batch).
	More int `json:"more,omitempty"`
}

// Kinds of Event.
const (
	KindAccepted = "accepted"
	KindRejected = "rejected"
)

// Defaults of NewHub.
const (
	DefaultMaxSubscribers = 16
	DefaultBuffer         = 256
)

// ErrFull is returned by Subscribe when the hub has its most subscribers.
var ErrFull = errors.New("live: too many subscribers")

// Hub is the fan-out. Publish is safe to call from any number of
// goroutines at once; it reads the subscriber list through an atomic
// pointer to an immutable slice, replaced whole (under mu) by Subscribe and
// Unsubscribe, so publishers never take a lock.
type Hub struct {
	max, buffer int
	subs        atomic.Pointer[[]*Sub]
	mu          sync.Mutex // serializes changes of subs
	dropped     atomic.Uint64
	done        chan struct{} // closed by Close: streams end
	closeOnce   sync.Once
}

// NewHub returns a hub for at most maxSubs subscribers, each buffering
// buffer events (<= 0 picks the defaults).
func NewHub(maxSubs, buffer int) *Hub {
	if maxSubs <= 0 {
		maxSubs = DefaultMaxSubscribers
	}
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Hub{max: maxSubs, buffer: buffer, done: make(chan struct{})}
}

// Close ends every stream and refuses new ones: a server shutting down
// waits for its requests, and a stream would never end by itself.
func (h *Hub) Close() { h.closeOnce.Do(func() { close(h.done) }) }

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("live: hub closed")

// Sub is one subscriber: its events arrive on C.
type Sub struct {
	source  string // only this source's events; "" for all
	ch      chan *Event
	dropped atomic.Uint64
}

// C delivers the subscriber's events.
func (s *Sub) C() <-chan *Event { return s.ch }

// TakeDropped returns how many events were dropped for s since the last
// call, and starts counting again.
func (s *Sub) TakeDropped() uint64 { return s.dropped.Swap(0) }

// Wants reports whether some subscriber would receive an event of source:
// publishers check it before building the event (and copying its JSON).
func (h *Hub) Wants(source string) bool {
	if h == nil {
		return false
	}
	p := h.subs.Load()
	if p == nil {
		return false
	}
	for _, s := range *p {
		if s.source == "" || s.source == source {
			return true
		}
	}
	return false
}

// Publish offers e to every subscriber of its source without waiting: a
// subscriber whose buffer is full misses it (counted). Subscribers share e:
// nobody may change it after Publish.
func (h *Hub) Publish(e *Event) {
	if h == nil {
		return
	}
	p := h.subs.Load()
	if p == nil {
		return
	}
	for _, s := range *p {
		if s.source != "" && s.source != e.SourceID {
			continue
		}
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
			h.dropped.Add(1)
		}
	}
}

// Subscribe adds a subscriber to source's events ("" for every source).
func (h *Hub) Subscribe(source string) (*Sub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.done:
		return nil, ErrClosed
	default:
	}
	var cur []*Sub
	if p := h.subs.Load(); p != nil {
		cur = *p
	}
	if len(cur) >= h.max {
		return nil, ErrFull
	}
	s := &Sub{source: source, ch: make(chan *Event, h.buffer)}
	next := append(append(make([]*Sub, 0, len(cur)+1), cur...), s)
	h.subs.Store(&next)
	return s, nil
}

// Unsubscribe removes s; events published afterwards do not reach it.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.subs.Load()
	if p == nil {
		return
	}
	next := make([]*Sub, 0, len(*p))
	for _, o := range *p {
		if o != s {
			next = append(next, o)
		}
	}
	h.subs.Store(&next)
}

// Stats is a snapshot of the hub.
type Stats struct {
	Subscribers int    `json:"subscribers"`
	Max         int    `json:"max_subscribers"`
	Dropped     uint64 `json:"dropped"` // events dropped for slow subscribers since start
}

// Stats returns the hub's figures.
func (h *Hub) Stats() Stats {
	st := Stats{Max: h.max, Dropped: h.dropped.Load()}
	if p := h.subs.Load(); p != nil {
		st.Subscribers = len(*p)
	}
	return st
}
