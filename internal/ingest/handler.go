package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fastjson"

	"tailor/internal/apierr"
	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/live"
)

// Appender is the part of the event log ingest needs. The records, their
// values and keys are ingest's (pooled) only for the call: Append copies
// what it keeps, as the embedded log does into its Pebble batch.
type Appender interface {
	Append(ctx context.Context, recs []eventlog.Record) ([]eventlog.Result, error)
	Partitions() int
}

// Handler serves the Tracking API.
type Handler struct {
	Log      Appender
	Sources  *Sources
	Rejected *Rejected
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
	// BodyKeyedLimit is how many requests without a write key in the
	// Authorization header may read their bodies at once (0 means
	// DefaultBodyKeyedLimit). Set it before serving.
	BodyKeyedLimit int
	// Live is told of accepted messages once they are durable and of
	// rejected ones, for the live events debugger; nil tells nobody.
	Live *live.Hub

	// accepted and rejected count messages since start (Counts).
	accepted, rejected atomic.Uint64

	// bodyKeyed counts the requests reading a body that carries their write
	// key. Their key is known only once the body is in, so an anonymous
	// client can hold them with slow uploads: the bound keeps such clients
	// from taking every connection from clients that send the key in the
	// header, whose bodies are read only after the key checks out.
	bodyKeyed atomic.Int64

	metrics *metrics
	mux     *http.ServeMux
}

// DefaultBodyKeyedLimit is the default of Handler.BodyKeyedLimit.
const DefaultBodyKeyedLimit = 256

// Bounds on the work and the answer of one batch whose messages are
// rejected: a few hundred bytes of gzip can carry 170,000 invalid messages,
// and answering or storing each of them would turn that into megabytes of
// answer and of rejected-view writes.
const (
	// MaxReportedRejections is how many rejections a batch answer lists
	// (the first ones, by index); "rejected_count" counts them all.
	MaxReportedRejections = 100
	// MaxKeptRejections is how many rejected messages of one request the
	// rejected-events view keeps; the last kept one counts the others.
	MaxKeptRejections = 10
)

type metrics struct {
	events     *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	duplicates prometheus.Counter
	requests   *prometheus.CounterVec
	latency    prometheus.Histogram
}

// NewHandler wires the Tracking API routes and registers metrics with reg.
func NewHandler(log Appender, sources *Sources, rejected *Rejected, reg prometheus.Registerer) *Handler {
	h := &Handler{Log: log, Sources: sources, Rejected: rejected}
	h.metrics = &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tailor_ingest_events_total",
			Help: "Messages acknowledged and appended to the log, by type."}, []string{"type"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tailor_ingest_rejected_total",
			Help: "Messages refused by validation, by the field at fault."}, []string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "tailor_ingest_duplicates_total",
			Help: "Messages acknowledged but not appended because their messageId was already seen."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tailor_ingest_requests_total",
			Help: "Tracking API requests by status code."}, []string{"code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tailor_ingest_ack_seconds",
			Help:    "Time from request start to durable acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(h.metrics.events, h.metrics.rejected, h.metrics.duplicates, h.metrics.requests, h.metrics.latency)
	}
	mux := http.NewServeMux()
	for _, t := range []string{"identify", "track", "page", "screen", "group", "alias", "i", "t", "p", "s", "g", "a"} {
		typ, _ := event.ParseType(t)
		mux.HandleFunc("POST /v1/"+t, func(w http.ResponseWriter, r *http.Request) { h.serveSingle(w, r, typ) })
	}
	for _, p := range []string{"/v1/batch", "/v1/import", "/v1/b"} {
		mux.HandleFunc("POST "+p, h.serveBatch)
	}
	mux.HandleFunc("OPTIONS /v1/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		err := apierr.Errorf(apierr.NotFound, "no Tracking API endpoint %s; use /v1/identify, track, page, screen, group, alias, batch or import", r.URL.Path)
		if _, ok := event.ParseType(strings.TrimPrefix(r.URL.Path, "/v1/")); ok || r.URL.Path == "/v1/batch" || r.URL.Path == "/v1/import" {
			err = apierr.New(apierr.MethodNotAllowed, r.Method+" is not allowed here; send POST")
			w.Header().Set("Allow", "POST, OPTIONS")
		}
		h.fail(w, r, err)
	})
	h.mux = mux
	return h
}

// ServeHTTP adds CORS headers and routes. Pages on any origin send events,
// and no SDK sends cookies: the write key is the credential. So every origin
// is allowed and credentialed requests never are (echoing the Origin with
// Allow-Credentials would let any site send requests carrying the visitor's
// cookies for this host).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Content-Encoding, X-Requested-With")
		hd.Set("Access-Control-Max-Age", "86400")
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// fail answers err in the Tracking API's error shape (Segment's
// {"success":false,"error":"...","code":"..."}, see package apierr) and
// counts it.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := apierr.WriteError(w, r, apierr.Tracking, err)
	h.metrics.requests.WithLabelValues(strconv.Itoa(status)).Inc()
	h.publishRefusal(r, err)
}

// publishRefusal shows the live debugger's viewers of every source a
// request refused for its write key: wiring an SDK with a wrong or revoked
// key is the commonest mistake, and such a request belongs to no source.
func (h *Handler) publishRefusal(r *http.Request, err error) {
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Code != apierr.BadWriteKey && ae.Code != apierr.NoWriteKey || !h.Live.Wants("") {
		return
	}
	reason := err.Error()
	if key, _, ok := r.BasicAuth(); ok && key != "" {
		reason += " (" + maskKey(key) + ")"
	}
	h.Live.Publish(&live.Event{Kind: live.KindRejected, ReceivedAt: h.now().UTC(), Endpoint: r.URL.Path, Index: -1, Reason: reason})
}

// maskKey shows enough of a write key to recognise it, not to use it.
func maskKey(k string) string {
	if len(k) <= 8 {
		return "key of " + strconv.Itoa(len(k)) + " characters"
	}
	return "key " + k[:4] + "…" + k[len(k)-2:]
}

// drainGrace is how long a request refused before its body was read may
// still send the body. After the answer, the server drains the unread body
// before closing, so that the close does not reset the connection under an
// answer the client has not read yet; a client that sends at network speed
// is drained in this time, one that trickles its body loses the connection
// instead of holding it for the whole read deadline.
const drainGrace = 100 * time.Millisecond

// refuse answers err to a request whose body was not read, and closes the
// connection after at most drainGrace more of reading.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
		// ResponseRecorder and some wrappers cannot set deadlines; the
		// answer is the same without it.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(drainGrace))
	}
	h.fail(w, r, err)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// batchScratch holds what a request's messages need besides their bytes:
// the slices serveBatch fills and append turns into log records, and the
// records' keys. A batch of 100 messages made ~45 KB of them, an eighth of
// what ingest allocated, and every byte allocated brings the next
// collection nearer (whose marking takes a share of the cores the
// acknowledgements wait for). Nothing in them outlives the request: the
// log copies keys and values into its own batch, and entries carry the
// events, not these slices.
type batchScratch struct {
	evs   []*event.Event
	raws  [][]byte
	metas []event.Meta
	recs  []eventlog.Record
	index [][]byte
	keys  []byte
}

var scratchPool = sync.Pool{New: func() any { return new(batchScratch) }}

// maxScratchItems bounds what a pooled scratch keeps: a request of huge
// (or huge numbers of tiny) messages does not pin its slices for good.
const (
	maxScratchItems    = 4096
	maxScratchKeyBytes = 1 << 20
)

func getScratch() *batchScratch { return scratchPool.Get().(*batchScratch) }

// release clears what the scratch points to (events, bytes of pooled
// buffers) and pools it again.
func (sc *batchScratch) release() {
	if cap(sc.evs) > maxScratchItems || cap(sc.recs) > maxScratchItems || cap(sc.keys) > maxScratchKeyBytes {
		return
	}
	clear(sc.evs)
	clear(sc.raws)
	clear(sc.metas)
	clear(sc.recs)
	clear(sc.index)
	sc.evs, sc.raws, sc.metas, sc.recs, sc.index, sc.keys = sc.evs[:0], sc.raws[:0], sc.metas[:0], sc.recs[:0], sc.index[:0], sc.keys[:0]
	scratchPool.Put(sc)
}

// readBody reads the (possibly gzip-compressed) body, refusing more than max
// bytes after decompression.
func readBody(r *http.Request, buf *bytes.Buffer, max int64) error {
	var body io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return apierr.New(apierr.BodyTimeout, "")
			}
			return apierr.New(apierr.BadGzip, "body is not valid gzip: "+err.Error())
		}
		defer zr.Close()
		body = zr
	default:
		return apierr.Errorf(apierr.BadEncoding, "Content-Encoding %q is not supported; send gzip or none", enc)
	}
	n, err := buf.ReadFrom(io.LimitReader(body, max+1))
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return apierr.Errorf(apierr.BodyTimeout, "body not received within the server's read deadline (%d bytes arrived); send it faster or in smaller batches", n)
	case err != nil:
		return apierr.New(apierr.BadBody, "reading body: "+err.Error())
	case n > max:
		return apierr.Errorf(apierr.TooLarge, "body is over the %d byte limit", max)
	}
	return nil
}

// caller is who sent a request, as far as the Authorization header tells
// before the body is read.
type caller struct {
	keyed    bool // the header carried a known write key
	sourceID string
	trust    event.Trust
}

// headerCaller authenticates the write key of the Authorization header (the
// HTTP Basic user name: Segment's server SDKs, RudderStack), before the body
// is read. A request without one is not refused: analytics.js sends its key
// in the body (text/plain bodies avoid CORS pre-flights).
func (h *Handler) headerCaller(r *http.Request) (caller, error) {
	key, _, ok := r.BasicAuth()
	if !ok || key == "" {
		return caller{}, nil
	}
	id, trust, ok := h.Sources.Lookup(key)
	if !ok {
		return caller{}, apierr.New(apierr.BadWriteKey, "")
	}
	return caller{keyed: true, sourceID: id, trust: trust}, nil
}

// source returns the request's source: the header's, else the one of the
// body's writeKey.
func (h *Handler) source(c caller, bodyKey string) (string, event.Trust, error) {
	if c.keyed {
		return c.sourceID, c.trust, nil
	}
	if bodyKey == "" {
		return "", 0, apierr.New(apierr.NoWriteKey, "")
	}
	id, trust, ok := h.Sources.Lookup(bodyKey)
	if !ok {
		return "", 0, apierr.New(apierr.BadWriteKey, "")
	}
	return id, trust, nil
}

// readRequest authenticates the header's write key, then reads the body into
// a pooled buffer. When it returns a buffer, the caller returns it to bufPool
// (also with an error); ok is false when an answer was written.
func (h *Handler) readRequest(w http.ResponseWriter, r *http.Request, max int64) (c caller, buf *bytes.Buffer, ok bool) {
	c, err := h.headerCaller(r)
	if err != nil {
		h.refuse(w, r, err)
		return c, nil, false
	}
	if !c.keyed {
		limit := int64(h.BodyKeyedLimit)
		if limit <= 0 {
			limit = DefaultBodyKeyedLimit
		}
		if h.bodyKeyed.Add(1) > limit {
			h.bodyKeyed.Add(-1)
			w.Header().Set("Retry-After", "1")
			h.refuse(w, r, apierr.New(apierr.Busy, "too many requests are sending their write key in the body; retry, or send the key as the HTTP Basic user name"))
			return c, nil, false
		}
		defer h.bodyKeyed.Add(-1)
	}
	buf = bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := readBody(r, buf, max); err != nil {
		h.fail(w, r, err)
		return c, buf, false
	}
	return c, buf, true
}

func (h *Handler) serveSingle(w http.ResponseWriter, r *http.Request, typ event.Type) {
	start := h.now()
	c, buf, ok := h.readRequest(w, r, event.MaxMessageBytes)
	if buf != nil {
		defer bufPool.Put(buf)
	}
	if !ok {
		return
	}
	raw := buf.Bytes()
	meta := event.Meta{ReceivedAt: start, Type: typ, MessageID: newMessageID()}
	var e event.Event
	var decodeErr error
	err := event.Parse(raw, func(v *fastjson.Value) error {
		src, trust, err := h.source(c, string(v.GetStringBytes("writeKey")))
		if err != nil {
			return err
		}
		meta.SourceID, meta.Trust = src, trust
		e, decodeErr = event.DecodeValue(v, meta)
		return nil
	})
	if err != nil {
		h.failParse(w, r, c, raw, err, start)
		return
	}
	if decodeErr != nil {
		h.reject(meta.SourceID, r.URL.Path, []RejectedEvent{{Index: 0, Reason: decodeErr.Error(), Body: truncateBody(raw)}}, start)
		h.metrics.rejected.WithLabelValues(reasonLabel(decodeErr)).Inc()
		h.rejected.Add(1)
		h.fail(w, r, apierr.New(apierr.InvalidMessage, decodeErr.Error()))
		return
	}
	sc := getScratch()
	defer sc.release()
	if err := h.append(r.Context(), []*event.Event{&e}, [][]byte{raw}, []event.Meta{meta}, sc); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, start, map[string]any{"success": true})
}

// failParse answers an error from event.Parse's callback (authentication)
// or from parsing itself. A body that is not JSON cannot carry a write key,
// so only the header authenticates it; it is then kept in the rejected view.
func (h *Handler) failParse(w http.ResponseWriter, r *http.Request, c caller, raw []byte, err error, start time.Time) {
	var ve *event.Error
	if !errors.As(err, &ve) {
		h.fail(w, r, err)
		return
	}
	src, _, err := h.source(c, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reject(src, r.URL.Path, []RejectedEvent{{Index: -1, Reason: ve.Error(), Body: truncateBody(raw)}}, start)
	h.metrics.rejected.WithLabelValues(reasonLabel(ve)).Inc()
	h.rejected.Add(1)
	h.fail(w, r, apierr.New(apierr.InvalidJSON, ve.Error()))
}

type rejection struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// batchAnswer is the answer to a batch: 200 when at least one message was
// accepted, else 400 with Body set. Rejected lists the first
// MaxReportedRejections rejections; RejectedCount counts them all.
type batchAnswer struct {
	Success bool `json:"success"`
	*apierr.Body
	Accepted      int         `json:"accepted"`
	Rejected      []rejection `json:"rejected,omitempty"`
	RejectedCount int         `json:"rejected_count,omitempty"`
}

func (h *Handler) serveBatch(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	c, buf, ok := h.readRequest(w, r, event.MaxBatchBytes)
	if buf != nil {
		defer bufPool.Put(buf)
	}
	if !ok {
		return
	}
	raw := buf.Bytes()
	arena := bufPool.Get().(*bytes.Buffer)
	arena.Reset()
	defer bufPool.Put(arena)
	sc := getScratch()
	defer sc.release()
	var (
		src       string
		trust     event.Trust
		evs       []*event.Event
		raws      [][]byte
		metas     []event.Meta
		rejected  []rejection
		rejEvents []RejectedEvent
		nRejected int
		reasons   map[string]int // metric label -> count, added once per request
	)
	err := event.Parse(raw, func(root *fastjson.Value) error {
		var err error
		if src, trust, err = h.source(c, string(root.GetStringBytes("writeKey"))); err != nil {
			return err
		}
		if root.Type() != fastjson.TypeObject {
			return apierr.New(apierr.NoBatch, "")
		}
		batch := root.Get("batch")
		if batch == nil || batch.Type() != fastjson.TypeArray {
			return apierr.New(apierr.NoBatch, "")
		}
		base := event.Meta{SourceID: src, Trust: trust, ReceivedAt: start}
		if sv := root.Get("sentAt"); sv != nil && sv.Type() != fastjson.TypeNull {
			t, ok := event.ParseTime(string(sv.GetStringBytes()))
			if !ok {
				return apierr.Errorf(apierr.InvalidMessage, "sentAt: %s is not an ISO 8601 date", sv)
			}
			base.SentAt = t
		}
		if cv := root.Get("context"); cv != nil && cv.Type() != fastjson.TypeNull {
			if err := json.Unmarshal(cv.MarshalTo(nil), &base.Context); err != nil || cv.Type() != fastjson.TypeObject {
				return apierr.New(apierr.InvalidMessage, "context: must be a JSON object")
			}
		}
		msgs, _ := batch.Array()
		// Re-serialized messages go into one pooled arena (returned after
		// the append, when Pebble has copied them): no allocation per message.
		arena.Grow(len(raw))
		// Capped: a count of messages is not a count of valid ones, and a
		// small body can hold a huge array of invalid ones.
		evs, raws, metas = sc.evs[:0], sc.raws[:0], sc.metas[:0]
		for i, mv := range msgs {
			// The stored form is the message re-serialized from the parse
			// tree: the same JSON values, without the batch around it.
			start := arena.Len()
			arena.Write(mv.MarshalTo(arena.AvailableBuffer()))
			m := arena.Bytes()[start:]
			meta := base
			meta.MessageID = newMessageID()
			// e stays on the stack; only an accepted event moves to the heap.
			var e event.Event
			if len(m) > event.MaxMessageBytes {
				err = &event.Error{Reason: fmt.Sprintf("message is %d bytes, over the %d byte limit", len(m), event.MaxMessageBytes)}
			} else {
				e, err = event.DecodeValue(mv, meta)
			}
			if err != nil {
				// Every message is still validated (a valid one after
				// thousands of invalid ones is kept), but past the caps a
				// rejection costs a count, not text, storage or answer.
				nRejected++
				if reasons == nil {
					reasons = make(map[string]int)
				}
				reasons[reasonLabel(err)]++
				if len(rejected) < MaxReportedRejections {
					rejected = append(rejected, rejection{i, err.Error()})
				}
				if len(rejEvents) < MaxKeptRejections {
					rejEvents = append(rejEvents, RejectedEvent{Index: i, Reason: err.Error(), Body: truncateBody(m)})
				}
				arena.Truncate(start)
				continue
			}
			ep := new(event.Event)
			*ep = e
			evs = append(evs, ep)
			raws = append(raws, m)
			metas = append(metas, meta)
		}
		sc.evs, sc.raws, sc.metas = evs, raws, metas // grown: kept for the next request
		return nil
	})
	if err != nil {
		h.failParse(w, r, c, raw, err, start)
		return
	}
	for reason, n := range reasons {
		h.metrics.rejected.WithLabelValues(reason).Add(float64(n))
	}
	h.rejected.Add(uint64(nRejected))
	if n := len(rejEvents); n > 0 {
		rejEvents[n-1].More = nRejected - n
	}
	h.reject(src, r.URL.Path, rejEvents, start)
	if len(evs) == 0 && nRejected > 0 {
		body, status := apierr.NewBody(apierr.Tracking, apierr.Errorf(apierr.InvalidMessage, "all %d messages were rejected", nRejected))
		apierr.WriteJSON(w, status, batchAnswer{Body: &body, Rejected: rejected, RejectedCount: nRejected})
		h.metrics.requests.WithLabelValues(strconv.Itoa(status)).Inc()
		return
	}
	if err := h.append(r.Context(), evs, raws, metas, sc); err != nil {
		h.fail(w, r, err)
		return
	}
	h.ok(w, start, batchAnswer{Success: true, Accepted: len(evs), Rejected: rejected, RejectedCount: nRejected})
}

func (h *Handler) ok(w http.ResponseWriter, start time.Time, body any) {
	apierr.WriteJSON(w, http.StatusOK, body)
	h.metrics.requests.WithLabelValues("200").Inc()
	h.metrics.latency.Observe(h.now().Sub(start).Seconds())
}

// append builds log records and waits until they are durable. raws[i] is
// only valid during the call: AppendStored copies it.
func (h *Handler) append(ctx context.Context, evs []*event.Event, raws [][]byte, metas []event.Meta, sc *batchScratch) error {
	if len(evs) == 0 {
		return nil
	}
	parts := h.Log.Partitions()
	// The records' keys share one buffer. A key taken before the buffer
	// grows keeps the array it was cut from, which stays valid; after the
	// first requests the pooled buffer is big enough anyway.
	keys := sc.keys[:0]
	recs := slices.Grow(sc.recs[:0], len(evs))[:len(evs)]
	index := slices.Grow(sc.index[:0], len(evs))[:len(evs)]
	// Stored values share one pooled buffer: the log copies them into its
	// batch before Append returns.
	sb := bufPool.Get().(*bytes.Buffer)
	sb.Reset()
	defer bufPool.Put(sb)
	size := 0
	for _, r := range raws {
		size += len(r) + 64
	}
	sb.Grow(size)
	for i, e := range evs {
		if metas[i].MessageID != e.MessageID {
			metas[i].MessageID = "" // the client sent one: do not store ours
		}
		start := sb.Len()
		sb.Write(event.AppendStored(sb.AvailableBuffer(), raws[i], metas[i]))
		k := len(keys)
		keys = append(append(append(keys, e.SourceID...), 0), e.MessageID...)
		dedupe := keys[k:len(keys):len(keys)]
		// The timeline key is the primary identifier's key (kind:value),
		// which also picks the partition, then the time.
		pk := e.PrimaryID()
		k = len(keys)
		keys = append(append(append(keys, pk.Kind...), ':'), pk.Value...)
		part := partitionOf(keys[k:], parts)
		keys = eventlog.AppendIndexTime(keys, e.Timestamp)
		index[i] = keys[k:len(keys):len(keys)]
		recs[i] = eventlog.Record{
			Partition: part,
			Value:     sb.Bytes()[start:sb.Len():sb.Len()],
			DedupeKey: dedupe,
			Index:     index[i : i+1 : i+1],
			Payload:   e,
		}
	}
	sc.keys, sc.recs, sc.index = keys, recs, index // grown: kept for the next request
	res, err := h.Log.Append(ctx, recs)
	if err != nil {
		if errors.Is(err, eventlog.ErrClosed) {
			return apierr.New(apierr.ShuttingDown, "")
		}
		return fmt.Errorf("append %d events: %w", len(recs), err)
	}
	for i, r := range res {
		if r.Duplicate {
			h.metrics.duplicates.Inc()
			continue
		}
		h.metrics.events.WithLabelValues(string(evs[i].Type)).Inc()
		h.accepted.Add(1)
		if h.Live.Wants(evs[i].SourceID) {
			h.Live.Publish(liveEvent(evs[i], raws[i]))
		}
	}
	return nil
}

// liveEvent is e as the live debugger shows it. raw is copied: it lives in
// a pooled buffer.
func liveEvent(e *event.Event, raw []byte) *live.Event {
	name := e.Event
	if name == "" {
		name = e.Name
	}
	return &live.Event{Kind: live.KindAccepted, SourceID: e.SourceID, Type: string(e.Type), Event: name,
		MessageID: e.MessageID, UserID: e.UserID, AnonymousID: e.AnonymousID, ReceivedAt: e.ReceivedAt.UTC(),
		JSON: bytes.Clone(raw)}
}

// Counts is what ingest has done since start.
type Counts struct {
	Accepted uint64 // messages appended to the log (duplicates not counted)
	Rejected uint64 // messages refused by validation
}

// Counts returns the handler's counts.
func (h *Handler) Counts() Counts {
	return Counts{Accepted: h.accepted.Load(), Rejected: h.rejected.Load()}
}

func (h *Handler) reject(src, endpoint string, evs []RejectedEvent, at time.Time) {
	for i := range evs {
		evs[i].At, evs[i].SourceID, evs[i].Endpoint = at.UTC(), src, endpoint
		if h.Live.Wants(src) {
			e := evs[i]
			h.Live.Publish(&live.Event{Kind: live.KindRejected, SourceID: src, ReceivedAt: e.At, Endpoint: endpoint,
				Index: e.Index, Reason: e.Reason, Body: e.Body, More: e.More})
		}
	}
	h.Rejected.add(evs)
}

// partitionOf maps a profile routing key to its partition.
func partitionOf[K string | []byte](key K, n int) int {
	h := uint32(2166136261) // FNV-1a, inline: no hasher allocation per event
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

var knownReasons = map[string]bool{"type": true, "messageId": true, "userId": true, "anonymousId": true,
	"previousId": true, "groupId": true, "event": true, "name": true, "properties": true, "traits": true,
	"context": true, "timestamp": true, "originalTimestamp": true, "sentAt": true}

// reasonLabel keeps the metric's label set small: the field at fault.
func reasonLabel(err error) string {
	var ve *event.Error
	if errors.As(err, &ve) {
		if knownReasons[ve.Field] {
			return ve.Field
		}
		if strings.Contains(ve.Reason, "byte limit") {
			return "too_large"
		}
	}
	return "invalid"
}

// newMessageID is assigned to messages sent without one; it is stored with
// the message so replays keep it. It is prepared for every message (the
// decoder uses it only when the message has none), so it must be cheap: a
// random per-process prefix and a counter, no system call.
func newMessageID() string {
	return messageIDPrefix + strconv.FormatUint(messageIDCounter.Add(1), 36)
}

var (
	messageIDPrefix  = "tailor-" + randomHex(8) + "-"
	messageIDCounter atomic.Uint64
)

// AppendRaw appends messages produced in-process (demo store, tests) through
// the same validation as the HTTP API. It returns how many were accepted and
// the rejections by index.
func (h *Handler) AppendRaw(ctx context.Context, sourceID string, raws [][]byte) (int, []string, error) {
	now := h.now()
	evs := make([]*event.Event, 0, len(raws))
	keep := make([][]byte, 0, len(raws))
	metas := make([]event.Meta, 0, len(raws))
	var rejected []string
	for i, raw := range raws {
		meta := event.Meta{SourceID: sourceID, ReceivedAt: now, MessageID: newMessageID()}
		e, err := event.Decode(raw, meta)
		if err != nil {
			rejected = append(rejected, fmt.Sprintf("message %d: %v", i, err))
			continue
		}
		evs, keep, metas = append(evs, &e), append(keep, raw), append(metas, meta)
	}
	sc := getScratch()
	defer sc.release()
	return len(evs), rejected, h.append(ctx, evs, keep, metas, sc)
}
