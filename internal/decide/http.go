package decide

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"

	"tailor/internal/apierr"
)

// HTTP serves the decision API (/v1/decide, /v1/decide/events, the web
// snippet) and the placements' admin routes.
type HTTP struct {
	Engine *Engine
	// Stats answers the placements' figures (nil: none); the server
	// registers it with the processor, which feeds it the log.
	Stats *Stats
	// WriteKey says whether key is a source's write key (ingest's Sources).
	WriteKey func(key string) bool
	// Record appends Tailor's own messages to the event log and waits until
	// they are durable (ingest's AppendInternal).
	Record func(ctx context.Context, msgs [][]byte) error
	// Lookup resolves a profile identifier of the dashboard ("p_…",
	// "user_id:42", a bare userId or email) to a store key, for previews.
	Lookup func(identifier string) (key string, ok bool)
	// BodyKeyedLimit bounds the requests reading a body before their write
	// key is known (0: DefaultBodyKeyedLimit). Set it before serving.
	BodyKeyedLimit int

	bodyKeyed atomic.Int64
}

// Body limits: a decision request names a few placements and a URL; an
// events request a few dozen tokens.
const (
	MaxDecideBody  = 16 << 10
	MaxEventsBody  = 64 << 10
	MaxEvents      = 100
	MaxTokenAge    = 30 * 24 * time.Hour
	maxAdminBody   = 256 << 10
	snippetMaxAge  = "300"
	corsAllowHeads = "Authorization, Content-Type"
)

//go:embed assets/tailor-offers.js
var snippetJS []byte

// snippetGzip is snippetJS compressed once, for the browsers that take gzip
// (all of them): a few KB less on every shop page.
var snippetGzip = func() []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write(snippetJS)
	_ = zw.Close()
	return b.Bytes()
}()

// Public returns the routes pages call: POST /v1/decide, POST
// /v1/decide/events (and their CORS pre-flights) and GET /v1/snippet.js.
func (h *HTTP) Public() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/decide", h.serveDecide)
	mux.HandleFunc("POST /v1/decide/events", h.serveEvents)
	mux.HandleFunc("OPTIONS /v1/decide", preflight)
	mux.HandleFunc("OPTIONS /v1/decide/events", preflight)
	mux.HandleFunc("GET /v1/snippet.js", func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Type", "text/javascript; charset=utf-8")
		hd.Set("Cache-Control", "public, max-age="+snippetMaxAge)
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			hd.Set("Content-Encoding", "gzip")
			_, _ = w.Write(snippetGzip)
			return
		}
		_, _ = w.Write(snippetJS)
	})
	mux.HandleFunc("/v1/decide", methodNotAllowed)
	mux.HandleFunc("/v1/decide/events", methodNotAllowed)
	return mux
}

// preflight answers CORS pre-flights. Like the Tracking API, every origin
// is allowed and credentials never are: the write key is the credential,
// and no cookie of this host should ride along from another site.
func preflight(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", corsAllowHeads)
	hd.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// fail answers err; a busy refusal says when to retry.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Code == apierr.Busy {
		w.Header().Set("Retry-After", "1")
	}
	apierr.WriteError(w, r, apierr.Plain, err)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Allow", "POST, OPTIONS")
	apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.MethodNotAllowed, r.Method+" is not allowed here; send POST"))
}

var (
	parserPool fastjson.ParserPool
	bufPool    = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// readBody reads at most max bytes of r's body into buf.
func readBody(r *http.Request, buf *bytes.Buffer, max int64) error {
	n, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return apierr.New(apierr.BodyTimeout, "")
	case err != nil:
		return apierr.New(apierr.BadBody, "reading body: "+err.Error())
	case n > max:
		return apierr.Errorf(apierr.TooLarge, "body is over the %d byte limit", max)
	}
	return nil
}

// The write key is checked as the Tracking API checks it (package ingest):
// a key in the Authorization header (the HTTP Basic user name) before the
// body is read, so a wrong one is refused at once; otherwise the body's
// "writeKey" (a text/plain body with the key inside needs no CORS
// pre-flight, as with analytics.js). Bodies read before their key is known
// are bounded in number (BodyKeyedLimit), so that clients without a key
// cannot hold every connection with slow uploads.

// headerKey reports whether r carries a write key in its Authorization
// header, and refuses a wrong one.
func (h *HTTP) headerKey(r *http.Request) (keyed bool, err error) {
	key, _, ok := r.BasicAuth()
	if !ok || key == "" {
		return false, nil
	}
	if h.WriteKey == nil || !h.WriteKey(key) {
		return false, apierr.New(apierr.BadWriteKey, "")
	}
	return true, nil
}

// bodyKey checks the body's writeKey of a request without a header key.
func (h *HTTP) bodyKey(v *fastjson.Value) error {
	key := string(v.GetStringBytes("writeKey"))
	if key == "" {
		return apierr.New(apierr.NoWriteKey, "")
	}
	if h.WriteKey == nil || !h.WriteKey(key) {
		return apierr.New(apierr.BadWriteKey, "")
	}
	return nil
}

// DefaultBodyKeyedLimit is the default of HTTP.BodyKeyedLimit.
const DefaultBodyKeyedLimit = 256

// read authenticates and parses a request: the header's key, then the
// body (within the body-keyed bound when the header has none), then the
// body's key. The caller releases p and buf.
func (h *HTTP) read(r *http.Request, max int64) (*fastjson.Value, *fastjson.Parser, *bytes.Buffer, error) {
	keyed, err := h.headerKey(r)
	if err != nil {
		return nil, nil, nil, err
	}
	if !keyed {
		limit := int64(h.BodyKeyedLimit)
		if limit <= 0 {
			limit = DefaultBodyKeyedLimit
		}
		if h.bodyKeyed.Add(1) > limit {
			h.bodyKeyed.Add(-1)
			return nil, nil, nil, apierr.New(apierr.Busy, "too many requests are sending their write key in the body; retry, or send the key as the HTTP Basic user name")
		}
		defer h.bodyKeyed.Add(-1)
	}
	v, p, buf, err := parse(r, max)
	if err == nil && !keyed {
		err = h.bodyKey(v)
	}
	return v, p, buf, err
}

// parse reads and parses a JSON object body; the caller returns buf to
// bufPool and p to parserPool.
func parse(r *http.Request, max int64) (*fastjson.Value, *fastjson.Parser, *bytes.Buffer, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc != "" && enc != "identity" {
		// Decision bodies are a few hundred bytes: compression is not worth a pre-flight.
		return nil, nil, buf, apierr.Errorf(apierr.BadEncoding, "Content-Encoding %q is not supported here; send the body uncompressed", enc)
	}
	if err := readBody(r, buf, max); err != nil {
		return nil, nil, buf, err
	}
	p := parserPool.Get()
	v, err := p.ParseBytes(buf.Bytes())
	if err != nil {
		return nil, p, buf, apierr.New(apierr.InvalidJSON, "body is not valid JSON: "+err.Error())
	}
	if v.Type() != fastjson.TypeObject {
		return nil, p, buf, apierr.New(apierr.InvalidJSON, "body must be a JSON object")
	}
	return v, p, buf, nil
}

func release(p *fastjson.Parser, buf *bytes.Buffer) {
	if p != nil {
		parserPool.Put(p)
	}
	if buf != nil && buf.Cap() <= 64<<10 {
		bufPool.Put(buf)
	}
}

func (h *HTTP) serveDecide(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	v, p, buf, err := h.read(r, MaxDecideBody)
	defer release(p, buf)
	var req Request
	var names [MaxPlacements]string
	if err == nil {
		err = decodeRequest(v, &req, names[:0])
	}
	if err == nil && req.Country == "" {
		req.Country = headerCountry(r)
	}
	out := bufPool.Get().(*bytes.Buffer)
	out.Reset()
	defer release(nil, out)
	if err == nil {
		err = h.Engine.Decide(r.Context(), &req, out)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(out.Bytes())
}

// headerCountry is the visitor's country as a CDN or proxy in front of
// Tailor tells it.
func headerCountry(r *http.Request) string {
	for _, h := range [...]string{"X-Country", "CF-IPCountry", "CloudFront-Viewer-Country"} {
		if c := r.Header.Get(h); len(c) == 2 && isCountry(c) {
			return c
		}
	}
	return ""
}

// decodeRequest fills req from the body:
//
//	{"userId"|"anonymousId", "placements":["id",...],
//	 "context":{"url","country","lat","lon","itemId"}}
func decodeRequest(v *fastjson.Value, req *Request, names []string) error {
	req.UserID = string(v.GetStringBytes("userId"))
	req.AnonymousID = string(v.GetStringBytes("anonymousId"))
	if len(req.UserID) > 255 || len(req.AnonymousID) > 255 {
		return apierr.New(apierr.BadRequest, "userId and anonymousId must be at most 255 bytes")
	}
	switch pl := v.Get("placements"); {
	case pl == nil && len(v.GetStringBytes("placement")) > 0:
		req.Placements = append(names, string(v.GetStringBytes("placement")))
	case pl == nil:
		return apierr.New(apierr.BadRequest, `placements: name at least one placement id, e.g. "placements":["home_hero"]`)
	default:
		arr, err := pl.Array()
		if err != nil {
			return apierr.New(apierr.BadRequest, "placements: want a list of placement ids")
		}
		if len(arr) > MaxPlacements {
			return apierr.Errorf(apierr.BadRequest, "placements: at most %d per request, got %d", MaxPlacements, len(arr))
		}
		for i, x := range arr {
			s, err := x.StringBytes()
			if err != nil {
				return apierr.Errorf(apierr.BadRequest, "placements[%d]: want a placement id string", i)
			}
			names = append(names, string(s))
		}
		req.Placements = names
	}
	c := v.Get("context")
	if c == nil {
		return nil
	}
	if c.Type() != fastjson.TypeObject {
		return apierr.New(apierr.BadRequest, "context: want an object")
	}
	req.URL = string(c.GetStringBytes("url"))
	req.ItemID = string(c.GetStringBytes("itemId"))
	if cc := c.GetStringBytes("country"); len(cc) > 0 {
		if !isCountry(string(cc)) {
			return apierr.Errorf(apierr.BadRequest, "context.country %q: want a 2-letter ISO 3166 code such as DE", cc)
		}
		req.Country = string(cc)
	}
	lat, lon := c.Get("lat"), c.Get("lon")
	if lat != nil || lon != nil {
		if lat == nil || lon == nil || lat.Type() != fastjson.TypeNumber || lon.Type() != fastjson.TypeNumber {
			return apierr.New(apierr.BadRequest, "context.lat and context.lon: send both, as numbers")
		}
		req.Lat, req.Lon = lat.GetFloat64(), lon.GetFloat64()
		if req.Lat < -90 || req.Lat > 90 || req.Lon < -180 || req.Lon > 180 {
			return apierr.New(apierr.BadRequest, "context.lat must be within ±90 and context.lon within ±180")
		}
		req.HasLoc = true
	}
	return nil
}

// Event names of what comes back on tokens.
const (
	EventViewed    = "Placement Viewed"
	EventClicked   = "Placement Clicked"
	EventConverted = "Placement Converted"
)

var eventKinds = map[string]string{"impression": EventViewed, "click": EventClicked, "conversion": EventConverted}

type rejection struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// serveEvents turns {"events":[{"token","type"}]} into events of the
// token's visitor in the log. Valid events are kept and each rejected one
// is reported by index; a request with none valid is refused.
func (h *HTTP) serveEvents(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	v, p, buf, err := h.read(r, MaxEventsBody)
	defer release(p, buf)
	var arr []*fastjson.Value
	if err == nil {
		if arr, err = v.Get("events").Array(); err != nil || len(arr) == 0 {
			err = apierr.New(apierr.BadRequest, `events: want a list like [{"token":"…","type":"impression"}]`)
		} else if len(arr) > MaxEvents {
			err = apierr.Errorf(apierr.BadRequest, "events: at most %d per request, got %d", MaxEvents, len(arr))
		}
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	now := h.Engine.now()
	var msgs [][]byte
	rejected := []rejection{}
	for i, x := range arr {
		kind := string(x.GetStringBytes("type"))
		name, ok := eventKinds[kind]
		if !ok {
			rejected = append(rejected, rejection{i, fmt.Sprintf("type %q: use impression, click or conversion", kind)})
			continue
		}
		raw := string(x.GetStringBytes("token"))
		t, err := h.Engine.Signer.Verify(raw)
		if err != nil {
			rejected = append(rejected, rejection{i, err.Error()})
			continue
		}
		if now.Sub(t.Issued) > MaxTokenAge {
			rejected = append(rejected, rejection{i, "tracking token expired (older than 30 days)"})
			continue
		}
		msgs = append(msgs, eventMessage(name, kind, raw, &t, now))
	}
	if len(msgs) == 0 {
		apierr.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": "no event was valid", "code": apierr.BadToken, "rejected": rejected})
		return
	}
	if err := h.Record(r.Context(), msgs); err != nil {
		apierr.WriteError(w, r, apierr.Plain, fmt.Errorf("decide: record events: %w", err))
		return
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"accepted": len(msgs), "rejected": rejected})
}

// eventMessage is the track event of one token. Its messageId comes from
// the token and kind, so a page that reports the same impression twice
// (a retry, a re-render) records it once.
func eventMessage(name, kind, raw string, t *Token, now time.Time) []byte {
	sum := sha256.Sum256([]byte(kind + "\x00" + raw))
	props := map[string]any{"placement_id": t.Placement, "variant_id": t.Variant}
	if t.Experiment != "" {
		props["experiment_id"], props["experiment_variant"] = t.Experiment, t.Arm
	}
	if t.Item != "" {
		props["product_id"], props["position"] = t.Item, t.Position
	}
	m := map[string]any{"type": "track", "event": name, "properties": props,
		"messageId": "dc-" + hex.EncodeToString(sum[:12]), "timestamp": now.UTC().Format(time.RFC3339Nano)}
	if t.UserID != "" {
		m["userId"] = t.UserID
	} else {
		m["anonymousId"] = t.AnonymousID
	}
	b, _ := json.Marshal(m) // only strings and ints: cannot fail
	return b
}

// Admin returns the admin routes: /api/placements CRUD, a placement's
// preview and figures, and /api/decide/geo. The server mounts them behind
// the admin guard.
func (h *HTTP) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/placements", func(w http.ResponseWriter, r *http.Request) {
		apierr.WriteJSON(w, http.StatusOK, map[string]any{"placements": h.Engine.Placements.List()})
	})
	mux.HandleFunc("POST /api/placements", func(w http.ResponseWriter, r *http.Request) { h.put(w, r, "", true) })
	mux.HandleFunc("GET /api/placements/{id}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := h.Engine.Placements.Get(r.PathValue("id"))
		if !ok {
			apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.PlacementNotFound, "no placement %q", r.PathValue("id")))
			return
		}
		apierr.WriteJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("PUT /api/placements/{id}", func(w http.ResponseWriter, r *http.Request) { h.put(w, r, r.PathValue("id"), false) })
	mux.HandleFunc("DELETE /api/placements/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := h.Engine.Placements.Delete(r.PathValue("id")); err != nil {
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/placements/{id}/preview", h.preview)
	mux.HandleFunc("GET /api/placements/{id}/stats", h.stats)
	mux.HandleFunc("GET /api/decide/geo", func(w http.ResponseWriter, r *http.Request) {
		apierr.WriteJSON(w, http.StatusOK, h.Engine.Placements.Geo())
	})
	mux.HandleFunc("PUT /api/decide/geo", func(w http.ResponseWriter, r *http.Request) {
		var g Geo
		if err := apierr.DecodeJSON(w, r, maxAdminBody, &g, nil); err != nil {
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
		if err := h.Engine.Placements.SetGeo(g); err != nil {
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
		apierr.WriteJSON(w, http.StatusOK, h.Engine.Placements.Geo())
	})
	return mux
}

func (h *HTTP) put(w http.ResponseWriter, r *http.Request, id string, create bool) {
	var p Placement
	if err := apierr.DecodeJSON(w, r, maxAdminBody, &p, nil); err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	if id != "" {
		if p.ID != "" && p.ID != id {
			apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.InvalidPlacement, "id %q in the body differs from %q in the path", p.ID, id))
			return
		}
		p.ID = id
	}
	saved, err := h.Engine.Placements.Put(p, create)
	if err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	status := http.StatusOK
	if create {
		status = http.StatusCreated
	}
	apierr.WriteJSON(w, status, saved)
}

// preview answers {"profile": identifier, "country"?, "lat"?, "lon"?} with
// the decision for that profile, without tokens.
func (h *HTTP) preview(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Profile string   `json:"profile"`
		Country string   `json:"country"`
		Lat     *float64 `json:"lat"`
		Lon     *float64 `json:"lon"`
		ItemID  string   `json:"item_id"`
	}
	if err := apierr.DecodeJSON(w, r, maxAdminBody, &in, nil); err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	req := Request{Placements: []string{r.PathValue("id")}, Country: in.Country, ItemID: in.ItemID}
	if in.Country != "" && !isCountry(in.Country) {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.BadRequest, "country %q: want a 2-letter ISO 3166 code", in.Country))
		return
	}
	if in.Lat != nil && in.Lon != nil {
		req.Lat, req.Lon, req.HasLoc = *in.Lat, *in.Lon, true
	}
	switch {
	case strings.TrimSpace(in.Profile) == "":
		// A new visitor: nobody by that key exists.
		req.ProfileKey = "anonymous_id:\x00preview"
	case h.Lookup != nil:
		key, ok := h.Lookup(in.Profile)
		if !ok {
			apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.ProfileNotFound, "no profile %q; leave it empty to preview a new visitor", in.Profile))
			return
		}
		req.ProfileKey = key
	default:
		req.ProfileKey = in.Profile
	}
	var out bytes.Buffer
	if err := h.Engine.Decide(r.Context(), &req, &out); err != nil {
		apierr.WriteError(w, r, apierr.Plain, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out.Bytes())
}

func (h *HTTP) stats(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := h.Engine.Placements.Get(id); !ok {
		apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.PlacementNotFound, "no placement %q", id))
		return
	}
	days := 30
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 365 {
			apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.BadRequest, "days %q: want a whole number from 1 to 365", s))
			return
		}
		days = n
	}
	var series []DayCounts
	if h.Stats != nil {
		series = h.Stats.Days(id, h.Engine.now(), days)
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"placement": id, "days": series})
}
