package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fastjson"

	"tailor/internal/event"
	"tailor/internal/eventlog"
)

// Appender is the part of the event log ingest needs.
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

	metrics *metrics
	mux     *http.ServeMux
}

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
		status, msg := http.StatusNotFound, fmt.Sprintf("no Tracking API endpoint %s; use /v1/identify, track, page, screen, group, alias, batch or import", r.URL.Path)
		if _, ok := event.ParseType(strings.TrimPrefix(r.URL.Path, "/v1/")); ok || r.URL.Path == "/v1/batch" || r.URL.Path == "/v1/import" {
			status, msg = http.StatusMethodNotAllowed, r.Method+" is not allowed here; send POST"
			w.Header().Set("Allow", "POST, OPTIONS")
		}
		h.fail(w, &apiError{status, "not_found", msg})
	})
	h.mux = mux
	return h
}

// ServeHTTP adds CORS headers (pages on any origin send events) and routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	if o := r.Header.Get("Origin"); o != "" {
		hd.Set("Access-Control-Allow-Origin", o)
		hd.Set("Access-Control-Allow-Credentials", "true")
		hd.Add("Vary", "Origin")
	} else {
		hd.Set("Access-Control-Allow-Origin", "*")
	}
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

// apiError is a request-level failure answered with a JSON body.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func (h *Handler) fail(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{http.StatusInternalServerError, "internal", "internal error: " + err.Error()}
		slog.Error("ingest", "err", err)
	}
	writeJSON(w, ae.status, map[string]any{"success": false, "error": ae.msg, "code": ae.code})
	h.metrics.requests.WithLabelValues(fmt.Sprint(ae.status)).Inc()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads the (possibly gzip-compressed) body, refusing more than max
// bytes after decompression.
func readBody(r *http.Request, buf *bytes.Buffer, max int64) error {
	var body io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return &apiError{http.StatusBadRequest, "bad_gzip", "body is not valid gzip: " + err.Error()}
		}
		defer zr.Close()
		body = zr
	default:
		return &apiError{http.StatusUnsupportedMediaType, "bad_encoding", fmt.Sprintf("Content-Encoding %q is not supported; send gzip or none", enc)}
	}
	n, err := buf.ReadFrom(io.LimitReader(body, max+1))
	if err != nil {
		return &apiError{http.StatusBadRequest, "bad_body", "reading body: " + err.Error()}
	}
	if n > max {
		return &apiError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body is over the %d byte limit", max)}
	}
	return nil
}

// source authenticates the request: the write key is the HTTP Basic user
// name (Segment's server SDKs, RudderStack) or a writeKey field of the body
// (analytics.js, which sends text/plain bodies to avoid CORS pre-flights).
func (h *Handler) source(r *http.Request, bodyKey string) (string, event.Trust, error) {
	key, _, ok := r.BasicAuth()
	if !ok || key == "" {
		key = bodyKey
	}
	if key == "" {
		return "", 0, &apiError{http.StatusUnauthorized, "no_write_key", "missing write key: send it as the HTTP Basic user name (or writeKey in the body)"}
	}
	id, trust, ok := h.Sources.Lookup(key)
	if !ok {
		return "", 0, &apiError{http.StatusUnauthorized, "bad_write_key", "unknown write key"}
	}
	return id, trust, nil
}

func (h *Handler) serveSingle(w http.ResponseWriter, r *http.Request, typ event.Type) {
	start := h.now()
	buf, err := readRequest(r, event.MaxMessageBytes)
	defer bufPool.Put(buf)
	if err != nil {
		h.fail(w, err)
		return
	}
	raw := buf.Bytes()
	meta := event.Meta{ReceivedAt: start, Type: typ, MessageID: newMessageID()}
	var e event.Event
	var decodeErr error
	err = event.Parse(raw, func(v *fastjson.Value) error {
		// analytics.js sends the write key in the body, not in a header.
		src, trust, err := h.source(r, string(v.GetStringBytes("writeKey")))
		if err != nil {
			return err
		}
		meta.SourceID, meta.Trust = src, trust
		e, decodeErr = event.DecodeValue(v, meta)
		return nil
	})
	if err != nil {
		h.failParse(w, r, raw, err, start)
		return
	}
	if decodeErr != nil {
		h.reject(meta.SourceID, r.URL.Path, []RejectedEvent{{Index: 0, Reason: decodeErr.Error(), Body: string(raw)}}, start)
		h.metrics.rejected.WithLabelValues(reasonLabel(decodeErr)).Inc()
		h.fail(w, &apiError{http.StatusBadRequest, "invalid_message", decodeErr.Error()})
		return
	}
	if err := h.append(r.Context(), []*event.Event{&e}, [][]byte{raw}, []event.Meta{meta}); err != nil {
		h.fail(w, err)
		return
	}
	h.ok(w, start, map[string]any{"success": true})
}

// readRequest reads the body into a pooled buffer, which the caller returns
// to bufPool (also on error).
func readRequest(r *http.Request, max int64) (*bytes.Buffer, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	return buf, readBody(r, buf, max)
}

// failParse answers an error from event.Parse's callback (authentication)
// or from parsing itself. A body that is not JSON cannot carry a write key,
// so only the header authenticates it; it is then kept in the rejected view.
func (h *Handler) failParse(w http.ResponseWriter, r *http.Request, raw []byte, err error, start time.Time) {
	var ve *event.Error
	if !errors.As(err, &ve) {
		h.fail(w, err)
		return
	}
	src, _, err := h.source(r, "")
	if err != nil {
		h.fail(w, err)
		return
	}
	h.reject(src, r.URL.Path, []RejectedEvent{{Index: -1, Reason: ve.Error(), Body: string(raw)}}, start)
	h.metrics.rejected.WithLabelValues(reasonLabel(ve)).Inc()
	h.fail(w, &apiError{http.StatusBadRequest, "invalid_json", ve.Error()})
}

type rejection struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

func (h *Handler) serveBatch(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	buf, err := readRequest(r, event.MaxBatchBytes)
	defer bufPool.Put(buf)
	if err != nil {
		h.fail(w, err)
		return
	}
	raw := buf.Bytes()
	arena := bufPool.Get().(*bytes.Buffer)
	arena.Reset()
	defer bufPool.Put(arena)
	var (
		src       string
		trust     event.Trust
		evs       []*event.Event
		raws      [][]byte
		metas     []event.Meta
		rejected  []rejection
		rejEvents []RejectedEvent
	)
	err = event.Parse(raw, func(root *fastjson.Value) error {
		var err error
		if src, trust, err = h.source(r, string(root.GetStringBytes("writeKey"))); err != nil {
			return err
		}
		if root.Type() != fastjson.TypeObject {
			return &apiError{http.StatusBadRequest, "no_batch", `body must be {"batch":[...messages]}`}
		}
		batch := root.Get("batch")
		if batch == nil || batch.Type() != fastjson.TypeArray {
			return &apiError{http.StatusBadRequest, "no_batch", `body must be {"batch":[...messages]}`}
		}
		base := event.Meta{SourceID: src, Trust: trust, ReceivedAt: start}
		if sv := root.Get("sentAt"); sv != nil && sv.Type() != fastjson.TypeNull {
			t, ok := event.ParseTime(string(sv.GetStringBytes()))
			if !ok {
				return &apiError{http.StatusBadRequest, "invalid_message", fmt.Sprintf("sentAt: %s is not an ISO 8601 date", sv)}
			}
			base.SentAt = t
		}
		if cv := root.Get("context"); cv != nil && cv.Type() != fastjson.TypeNull {
			if err := json.Unmarshal(cv.MarshalTo(nil), &base.Context); err != nil || cv.Type() != fastjson.TypeObject {
				return &apiError{http.StatusBadRequest, "invalid_message", "context: must be a JSON object"}
			}
		}
		msgs, _ := batch.Array()
		// Re-serialized messages go into one pooled arena (returned after
		// the append, when Pebble has copied them): no allocation per message.
		arena.Grow(len(raw))
		evs = make([]*event.Event, 0, len(msgs))
		raws = make([][]byte, 0, len(msgs))
		metas = make([]event.Meta, 0, len(msgs))
		for i, mv := range msgs {
			// The stored form is the message re-serialized from the parse
			// tree: the same JSON values, without the batch around it.
			start := arena.Len()
			arena.Write(mv.MarshalTo(arena.AvailableBuffer()))
			m := arena.Bytes()[start:]
			meta := base
			meta.MessageID = newMessageID()
			var e event.Event
			if len(m) > event.MaxMessageBytes {
				err = &event.Error{Reason: fmt.Sprintf("message is %d bytes, over the %d byte limit", len(m), event.MaxMessageBytes)}
			} else {
				e, err = event.DecodeValue(mv, meta)
			}
			if err != nil {
				rejected = append(rejected, rejection{i, err.Error()})
				rejEvents = append(rejEvents, RejectedEvent{Index: i, Reason: err.Error(), Body: string(m)})
				h.metrics.rejected.WithLabelValues(reasonLabel(err)).Inc()
				continue
			}
			evs = append(evs, &e)
			raws = append(raws, m)
			metas = append(metas, meta)
		}
		return nil
	})
	if err != nil {
		h.failParse(w, r, raw, err, start)
		return
	}
	h.reject(src, r.URL.Path, rejEvents, start)
	if len(evs) == 0 && len(rejected) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "code": "invalid_message",
			"error": fmt.Sprintf("all %d messages were rejected", len(rejected)), "accepted": 0, "rejected": rejected})
		h.metrics.requests.WithLabelValues("400").Inc()
		return
	}
	if err := h.append(r.Context(), evs, raws, metas); err != nil {
		h.fail(w, err)
		return
	}
	resp := map[string]any{"success": true, "accepted": len(evs)}
	if len(rejected) > 0 {
		resp["rejected"] = rejected
	}
	h.ok(w, start, resp)
}

func (h *Handler) ok(w http.ResponseWriter, start time.Time, body any) {
	writeJSON(w, http.StatusOK, body)
	h.metrics.requests.WithLabelValues("200").Inc()
	h.metrics.latency.Observe(h.now().Sub(start).Seconds())
}

// append builds log records and waits until they are durable. raws[i] is
// only valid during the call: AppendStored copies it.
func (h *Handler) append(ctx context.Context, evs []*event.Event, raws [][]byte, metas []event.Meta) error {
	if len(evs) == 0 {
		return nil
	}
	parts := h.Log.Partitions()
	recs := make([]eventlog.Record, len(evs))
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
		pk := e.PrimaryID().Key()
		start := sb.Len()
		sb.Write(event.AppendStored(sb.AvailableBuffer(), raws[i], metas[i]))
		recs[i] = eventlog.Record{
			Partition: partitionOf(pk, parts),
			Value:     sb.Bytes()[start:sb.Len():sb.Len()],
			DedupeKey: []byte(e.SourceID + "\x00" + e.MessageID),
			Index:     [][]byte{eventlog.IndexKey(pk, e.Timestamp)},
			Payload:   e,
		}
	}
	res, err := h.Log.Append(ctx, recs)
	if err != nil {
		if errors.Is(err, eventlog.ErrClosed) {
			return &apiError{http.StatusServiceUnavailable, "shutting_down", "server is shutting down; retry"}
		}
		return err
	}
	for i, r := range res {
		if r.Duplicate {
			h.metrics.duplicates.Inc()
			continue
		}
		h.metrics.events.WithLabelValues(string(evs[i].Type)).Inc()
	}
	return nil
}

func (h *Handler) reject(src, endpoint string, evs []RejectedEvent, at time.Time) {
	for i := range evs {
		evs[i].At, evs[i].SourceID, evs[i].Endpoint = at.UTC(), src, endpoint
	}
	h.Rejected.add(evs)
}

// partitionOf maps a profile routing key to its partition.
func partitionOf(key string, n int) int {
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
	return len(evs), rejected, h.append(ctx, evs, keep, metas)
}
