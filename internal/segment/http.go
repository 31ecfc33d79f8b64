package segment

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"tailor/internal/apierr"
)

// Limits of the segments API.
const (
	// MaxBody bounds a request body (a definition or a preview), in bytes;
	// a rule at its node limits is far smaller.
	MaxBody = 1 << 20
	// DefaultSample and MaxSample bound a preview's sample of profile ids.
	DefaultSample = 10
	MaxSample     = 100
	// DefaultMembersLimit and MaxMembersLimit bound a page of members.
	DefaultMembersLimit = 100
	MaxMembersLimit     = 1000
	// exportPage is how many members an export reads per hold of the
	// index's read lock, so that a long export never stalls the applier.
	exportPage = 1000
)

// HTTP serves the segments admin API over Engine.
type HTTP struct {
	Engine *Engine
	// Lookup resolves a profile id ("p_…", also of a merged profile) or an
	// identifier ("user_id:42", "email:a@b.c", as /api/profiles/{identifier}
	// takes) to the profile id the engine knows. Nil takes every identifier
	// as a profile id.
	Lookup func(identifier string) (profileID string, ok bool)

	// mu serializes the writes of definitions, so that create's check that
	// the id is free still holds when its Save runs.
	mu sync.Mutex
}

// Handler returns the routes. Patterns include the "/api/segments" prefix,
// so it is mounted without stripping it; authentication is the mounting
// code's job. Every answer but an export is JSON, errors included (package
// apierr); an error about a field of the body carries "path", a JSON
// Pointer to it ("/rule/and/1/op"):
//
//	GET    /api/segments                        {"segments":[Info…]}; ?history=N adds each one's last N days
//	POST   /api/segments                        create {id,name,description,rule}: 201 Info; 409 if the id is taken
//	GET    /api/segments/{id}                   Info
//	PUT    /api/segments/{id}                   create or replace (an id in the body must match): 200 Info
//	DELETE /api/segments/{id}                   {"deleted":true,"id":…}; 409 while other segments refer to it
//	POST   /api/segments/preview                {rule, at, sample, against}: Preview, with the rule as a tree and as text
//	GET    /api/segments/vocabulary             Vocabulary: event names and their properties, traits, computed fields
//	GET    /api/segments/{id}/members           ?limit=N&cursor=C: {"members":[…],"next_cursor":""}
//	GET    /api/segments/{id}/explain/{identifier}  how the rule decides for one profile
//	GET    /api/segments/{id}/export            ?format=csv|ndjson&fields=id,email,orders: every member, streamed;
//	                                            ?format=audience: hashed emails and phones for ad platforms
//	GET    /api/segments/{id}/history           ?days=30: {"segment":…,"days":[DaySize…]} oldest first
func (h *HTTP) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/segments", h.list)
	mux.HandleFunc("POST /api/segments", h.create)
	mux.HandleFunc("POST /api/segments/preview", h.preview)
	mux.HandleFunc("GET /api/segments/vocabulary", h.vocabulary)
	mux.HandleFunc("GET /api/segments/{id}", h.get)
	mux.HandleFunc("PUT /api/segments/{id}", h.put)
	mux.HandleFunc("DELETE /api/segments/{id}", h.delete)
	mux.HandleFunc("GET /api/segments/{id}/members", h.members)
	mux.HandleFunc("GET /api/segments/{id}/explain/{identifier}", h.explain)
	mux.HandleFunc("GET /api/segments/{id}/export", h.export)
	mux.HandleFunc("GET /api/segments/{id}/history", h.history)
	// Without these, ServeMux would answer wrong methods and unknown paths
	// in plain text.
	mux.HandleFunc("/api/segments", methodNotAllowed("GET, HEAD, POST"))
	mux.HandleFunc("/api/segments/{id}", methodNotAllowed("GET, HEAD, PUT, DELETE"))
	mux.HandleFunc("/api/segments/{id}/members", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/api/segments/{id}/explain/{identifier}", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/api/segments/{id}/export", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/api/segments/{id}/history", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, apierr.Errorf(apierr.NotFound, "no segments endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// definitionBody is what POST and PUT read. The read-only fields of Info
// are accepted and ignored, so that a GET answer can be edited and sent
// back as it is.
type definitionBody struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Rule        *Rule  `json:"rule"`
	// Text is the rule in its readable form, instead of Rule.
	Text string `json:"text"`

	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
	Size      json.RawMessage `json:"size"`
	Entered   json.RawMessage `json:"entered"`
	Exited    json.RawMessage `json:"exited"`
}

// routeID refuses the ids that name routes of their own: GET
// /api/segments/vocabulary would never reach a segment of that id.
func routeID(id string) error {
	if id == "vocabulary" {
		return &Error{Path: "/id", Msg: `"vocabulary" names GET /api/segments/vocabulary; choose another id`}
	}
	return nil
}

func (b *definitionBody) definition() (Definition, error) {
	rule, err := ruleOrText(b.Rule, b.Text)
	if err != nil {
		return Definition{}, err
	}
	return Definition{ID: b.ID, Name: b.Name, Description: b.Description, Rule: rule}, nil
}

// ruleOrText takes the rule from the tree or from its text form; both
// given must agree.
func ruleOrText(tree *Rule, text string) (*Rule, error) {
	if text == "" {
		return tree, nil
	}
	r, err := ParseText(text)
	if err != nil {
		return nil, &Error{Path: "/text", Msg: err.Error()}
	}
	if tree != nil && FormatText(tree) != FormatText(r) {
		return nil, &Error{Path: "/text", Msg: `"rule" and "text" say different things; send one of them`}
	}
	return r, nil
}

// listed is a segment of the list with, when asked, its size history.
type listed struct {
	Info
	History []DaySize `json:"history,omitempty"`
}

// list answers every segment; ?history=N adds each one's last N days, so
// that a list of sparklines costs one request instead of one per segment.
func (h *HTTP) list(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query().Get("history")
	if v == "" {
		apierr.WriteJSON(w, http.StatusOK, map[string]any{"segments": h.Engine.List()})
		return
	}
	days, err := strconv.Atoi(v)
	if err != nil || days < 1 || days > MaxHistoryDays {
		fail(w, r, apierr.Errorf(apierr.BadRequest, "history: must be an integer from 1 to %d, got %q", MaxHistoryDays, v))
		return
	}
	infos := h.Engine.List()
	out := make([]listed, 0, len(infos))
	for _, in := range infos {
		hist, err := h.Engine.History(in.ID, days)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since List
		}
		if err != nil {
			fail(w, r, fmt.Errorf("history of segment %q: %w", in.ID, err))
			return
		}
		out = append(out, listed{Info: in, History: hist})
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"segments": out})
}

// vocabulary answers the names a rule can use, for the rule builder.
func (h *HTTP) vocabulary(w http.ResponseWriter, r *http.Request) {
	apierr.WriteJSON(w, http.StatusOK, h.Engine.Vocabulary())
}

func (h *HTTP) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	info, ok := h.Engine.Get(id)
	if !ok {
		fail(w, r, notFound(id))
		return
	}
	apierr.WriteJSON(w, http.StatusOK, info)
}

func (h *HTTP) create(w http.ResponseWriter, r *http.Request) {
	var body definitionBody
	if err := decodeBody(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	def, err := body.definition()
	if err == nil {
		err = routeID(cmp.Or(def.ID, r.PathValue("id")))
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.Engine.Get(def.ID); ok {
		fail(w, r, apierr.Errorf(apierr.SegmentExists, "segment %q exists; PUT /api/segments/%s replaces it", def.ID, def.ID))
		return
	}
	info, err := h.Engine.Save(def)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/segments/"+info.ID)
	apierr.WriteJSON(w, http.StatusCreated, info)
}

func (h *HTTP) put(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body definitionBody
	if err := decodeBody(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	def, err := body.definition()
	if err == nil {
		err = routeID(cmp.Or(def.ID, r.PathValue("id")))
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	if def.ID == "" { // optional in the body
		def.ID = id
	}
	if def.ID != id {
		fail(w, r, &Error{Path: "/id", Msg: fmt.Sprintf("the body has %q but the path has %q", def.ID, id)})
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	info, err := h.Engine.Save(def)
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, info)
}

func (h *HTTP) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h.mu.Lock()
	defer h.mu.Unlock()
	switch err := h.Engine.Delete(id); {
	case errors.Is(err, ErrNotFound):
		fail(w, r, notFound(id))
	case errors.Is(err, ErrInUse):
		fail(w, r, apierr.Errorf(apierr.SegmentInUse, "segment %q is used by %s: change their rules or delete them first", id, strings.Join(h.referrers(id), ", ")))
	case err != nil:
		fail(w, r, fmt.Errorf("delete segment %q: %w", id, err))
	default:
		apierr.WriteJSON(w, http.StatusOK, map[string]any{"deleted": true, "id": id})
	}
}

// referrers lists the saved segments whose rules refer to id.
func (h *HTTP) referrers(id string) []string {
	var out []string
	for _, in := range h.Engine.List() {
		if in.ID != id && slices.Contains(in.Rule.Segments(), id) {
			out = append(out, strconv.Quote(in.ID))
		}
	}
	return out
}

// previewBody is what POST /api/segments/preview reads.
type previewBody struct {
	Rule *Rule `json:"rule"`
	// At is the instant to evaluate at: RFC 3339 or a date; now when empty.
	At string `json:"at"`
	// Sample is how many member ids to return; DefaultSample when absent.
	Sample *int `json:"sample"`
	// Against is a saved segment to compare with (entering, leaving).
	Against string `json:"against"`
	// Text is the rule in its readable form, instead of Rule.
	Text string `json:"text"`
}

func (h *HTTP) preview(w http.ResponseWriter, r *http.Request) {
	var body previewBody
	if err := decodeBody(w, r, &body); err != nil {
		fail(w, r, err)
		return
	}
	rule, err := ruleOrText(body.Rule, body.Text)
	if err != nil {
		fail(w, r, err)
		return
	}
	body.Rule = rule
	if body.Rule == nil {
		fail(w, r, &Error{Path: "/rule", Msg: "a preview needs a rule"})
		return
	}
	var at time.Time
	if body.At != "" {
		t, err := ParseTime(body.At)
		if err != nil {
			fail(w, r, &Error{Path: "/at", Msg: err.Error()})
			return
		}
		at = t
	}
	sample := DefaultSample
	if body.Sample != nil {
		sample = *body.Sample
		if sample < 0 || sample > MaxSample {
			fail(w, r, &Error{Path: "/sample", Msg: fmt.Sprintf("must be from 0 to %d, got %d", MaxSample, sample)})
			return
		}
	}
	p, err := h.Engine.Preview(body.Rule, at, sample, body.Against)
	switch {
	case errors.Is(err, ErrNotFound):
		fail(w, r, &Error{Path: "/against", Msg: fmt.Sprintf("no segment %q", body.Against)})
	case err != nil:
		fail(w, r, prefixPath(err, "/rule"))
	default:
		// The rule both ways, so that an editor of either form can show
		// the other (text parsed to a tree, a tree written as text).
		apierr.WriteJSON(w, http.StatusOK, previewAnswer{Preview: p, Rule: body.Rule, Text: FormatText(body.Rule)})
	}
}

// previewAnswer is a Preview with the rule it evaluated, as a tree and as
// text.
type previewAnswer struct {
	Preview
	Rule *Rule  `json:"rule"`
	Text string `json:"text"`
}

func (h *HTTP) members(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	limit := DefaultMembersLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxMembersLimit {
			fail(w, r, apierr.Errorf(apierr.BadRequest, "limit: must be an integer from 1 to %d, got %q", MaxMembersLimit, v))
			return
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if cursor != "" {
		// The engine's cursor is an ordinal; anything else was not
		// returned by this API.
		if _, err := strconv.ParseUint(cursor, 10, 32); err != nil {
			fail(w, r, apierr.Errorf(apierr.BadRequest, "cursor: %q is not a cursor this API returned; pass back next_cursor", cursor))
			return
		}
	}
	ids, next, err := h.Engine.Members(id, cursor, limit)
	if errors.Is(err, ErrNotFound) {
		fail(w, r, notFound(id))
		return
	}
	if err != nil {
		fail(w, r, fmt.Errorf("members of segment %q: %w", id, err))
		return
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"members": ids, "next_cursor": next})
}

// explanation is the answer of GET /api/segments/{id}/explain/{identifier}.
type explanation struct {
	Segment string `json:"segment"`
	Profile string `json:"profile"`
	// Member is the stored membership, Result the rule evaluated now; they
	// differ only while a time window's timer is about to fire.
	Member      bool         `json:"member"`
	Result      bool         `json:"result"`
	Explanation *Explanation `json:"explanation"`
}

func (h *HTTP) explain(w http.ResponseWriter, r *http.Request) {
	id, ident := r.PathValue("id"), r.PathValue("identifier")
	if _, ok := h.Engine.Get(id); !ok {
		fail(w, r, notFound(id))
		return
	}
	pid, ok := ident, true
	if h.Lookup != nil {
		pid, ok = h.Lookup(ident)
	}
	if !ok {
		fail(w, r, apierr.Errorf(apierr.NotFound, "no profile for %q (a profile id, or user_id:X, anonymous_id:X, email:X, phone:X)", ident))
		return
	}
	ex, member, err := h.Engine.Explain(id, pid)
	switch {
	case errors.Is(err, ErrNotFound):
		fail(w, r, notFound(id))
	case errors.Is(err, ErrNoProfile):
		fail(w, r, apierr.Errorf(apierr.NotFound, "profile %s has no events in the segment index yet", pid))
	case err != nil:
		fail(w, r, prefixPath(err, "/rule"))
	default:
		apierr.WriteJSON(w, http.StatusOK, explanation{Segment: id, Profile: pid, Member: member, Result: ex.Result, Explanation: ex})
	}
}

// exportFieldNames reads the fields query parameter of an export in
// format: the columns of a csv or ndjson export, the traits an audience
// reads.
func exportFieldNames(format string, q url.Values) ([]string, error) {
	if format == "audience" {
		if q.Has("fields") {
			return nil, apierr.New(apierr.BadRequest, "fields: not used with format=audience, whose columns are email_sha256 and phone_sha256")
		}
		return []string{TraitEmail, TraitPhone}, nil
	}
	v := q.Get("fields")
	if v == "" {
		return []string{ExportID}, nil
	}
	names := strings.Split(v, ",")
	if len(names) > MaxExportFields {
		return nil, apierr.Errorf(apierr.BadRequest, "fields: at most %d, got %d", MaxExportFields, len(names))
	}
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			return nil, apierr.Errorf(apierr.BadRequest, "fields: an empty name in %q", v)
		case seen[n]:
			return nil, apierr.Errorf(apierr.BadRequest, "fields: %q is listed twice", n)
		}
		seen[n] = true
		names[i] = n
	}
	return names, nil
}

// export streams every member of a segment. Members are read a page at a
// time, each page at its own instant: a profile that joins or leaves during
// the export may or may not be in it, and none appears twice.
func (h *HTTP) export(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	format := cmp.Or(q.Get("format"), "csv")
	if format != "csv" && format != "ndjson" && format != "audience" {
		fail(w, r, apierr.Errorf(apierr.BadRequest, "format: csv, ndjson or audience, got %q", format))
		return
	}
	fields, err := exportFieldNames(format, q)
	if err != nil {
		fail(w, r, err)
		return
	}
	// An audience reads email and phone whether or not any profile has them.
	strict := format != "audience"
	// The first page is read before anything is written, so that a missing
	// segment or an unknown field still gets its 4xx.
	rows, next, err := h.Engine.exportPage(id, "", exportPage, fields, strict)
	var fe *FieldError
	switch {
	case errors.Is(err, ErrNotFound):
		fail(w, r, notFound(id))
		return
	case errors.As(err, &fe):
		fail(w, r, apierr.New(apierr.BadRequest, "fields: "+fe.Error()))
		return
	case err != nil:
		fail(w, r, fmt.Errorf("export segment %q: %w", id, err))
		return
	}
	name, ctype := id+".csv", "text/csv; charset=utf-8"
	switch format {
	case "ndjson":
		name, ctype = id+".ndjson", "application/x-ndjson"
	case "audience":
		name = id + "-audience.csv"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`) // ids are [a-z0-9_-]
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	cw := csv.NewWriter(bw)
	rec := make([]string, len(fields))
	// Write errors stick in bw (cw writes through it) and are checked per
	// page.
	write := func(row []any) {
		switch format {
		case "csv":
			for i, v := range row {
				rec[i] = csvValue(v)
			}
			_ = cw.Write(rec)
		case "audience":
			if e, p, ok := audienceRow(row[0], row[1]); ok {
				_ = cw.Write([]string{e, p})
			}
		default:
			bw.WriteByte('{')
			for i, f := range fields {
				if i > 0 {
					bw.WriteByte(',')
				}
				writeJSONString(bw, f)
				bw.WriteByte(':')
				writeJSONValue(bw, row[i])
			}
			bw.WriteString("}\n")
		}
	}
	switch format {
	case "csv":
		_ = cw.Write(fields)
	case "audience":
		_ = cw.Write([]string{"email_sha256", "phone_sha256"})
	}
	n := 0
	for {
		for _, row := range rows {
			write(row)
		}
		n += len(rows)
		cw.Flush()
		if next == "" {
			break
		}
		if err := bw.Flush(); err != nil || r.Context().Err() != nil {
			return // the client went away
		}
		rows, next, err = h.Engine.exportPage(id, next, exportPage, fields, strict)
		if err != nil {
			// Headers are out: abort the connection so that the client
			// sees a broken transfer rather than a short, clean file.
			slog.Warn("segment export cut short", "segment", id, "exported", n, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	_ = bw.Flush()
}

// csvValue is a field's value in a CSV cell: strings as they are, absent
// as empty, anything else as its JSON text.
func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func writeJSONValue(w *bufio.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null") // values come from JSON: they encode
	}
	w.Write(b)
}

// history answers a segment's size per day.
func (h *HTTP) history(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	days := DefaultHistoryDays
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxHistoryDays {
			fail(w, r, apierr.Errorf(apierr.BadRequest, "days: must be an integer from 1 to %d, got %q", MaxHistoryDays, v))
			return
		}
		days = n
	}
	out, err := h.Engine.History(id, days)
	switch {
	case errors.Is(err, ErrNotFound):
		fail(w, r, notFound(id))
	case err != nil:
		fail(w, r, fmt.Errorf("history of segment %q: %w", id, err))
	default:
		apierr.WriteJSON(w, http.StatusOK, map[string]any{"segment": id, "days": out})
	}
}

func writeJSONString(w *bufio.Writer, s string) {
	b, _ := json.Marshal(s) // a string always encodes
	w.Write(b)
}

func notFound(id string) error {
	return apierr.Errorf(apierr.SegmentNotFound, "no segment %q", id)
}

// ruleErrorBody is the answer to an invalid definition or rule: the usual
// error fields and the JSON Pointer of the offending field in the body.
type ruleErrorBody struct {
	apierr.Body
	Path string `json:"path"`
}

// fail answers err. An *Error is the client's definition or rule, answered
// 400 invalid_rule with its path; anything else goes through apierr (an
// error that is not an *apierr.Error is the server's: logged, answered 500).
func fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *Error
	if errors.As(err, &re) {
		msg := re.Msg
		if re.Path != "" {
			msg = re.Path + ": " + msg
		}
		body, status := apierr.NewBody(apierr.Plain, apierr.New(apierr.InvalidRule, msg))
		apierr.WriteJSON(w, status, ruleErrorBody{Body: body, Path: re.Path})
		return
	}
	apierr.WriteError(w, r, apierr.Plain, err)
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		fail(w, r, apierr.Errorf(apierr.MethodNotAllowed, "method %s not allowed on %s; use %s", r.Method, r.URL.Path, allow))
	}
}

// decodeBody reads a JSON object of at most MaxBody bytes into v (a
// pointer to a struct), refusing unknown fields. Its error is an
// *apierr.Error for a body that cannot be read or is not well-formed JSON,
// and an *Error with the path of the field for one that does not fit v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength > MaxBody {
		return apierr.Errorf(apierr.TooLarge, "body is %d bytes; the limit is %d", r.ContentLength, MaxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return apierr.Errorf(apierr.TooLarge, "body is larger than the limit of %d bytes", MaxBody)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return apierr.Errorf(apierr.BodyTimeout, "body not received within the server's read deadline after %d bytes", len(body))
	case err != nil:
		return apierr.Errorf(apierr.BadBody, "reading body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return apierr.New(apierr.InvalidJSON, "empty body: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		line, col := position(body, se.Offset)
		return apierr.Errorf(apierr.InvalidJSON, "invalid JSON at line %d, column %d: %v", line, col, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apierr.New(apierr.InvalidJSON, "invalid JSON: the body ends in the middle of a value")
	case err != nil:
		// Well-formed JSON of the wrong shape: find where, which
		// encoding/json does not say in a form a client can use.
		var doc any
		if json.Unmarshal(body, &doc) == nil {
			if p, msg, bad := misfit(reflect.TypeOf(v).Elem(), doc, ""); bad {
				return &Error{Path: p, Msg: msg}
			}
		}
		return &Error{Msg: err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return apierr.New(apierr.InvalidJSON, "invalid JSON: data after the object")
	}
	return nil
}

// position turns a byte offset into a 1-based line and column.
func position(b []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(b)))
	before := b[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, max(col, 1)
}

// misfit finds the first place (in key order) where the JSON value v does
// not fit type t, as encoding/json decodes: an unknown field (matched
// case-insensitively, as encoding/json does) or a value of another type.
// It reads t's fields from their json tags, so it follows the rule types
// as they change.
func misfit(t reflect.Type, v any, path string) (p, msg string, bad bool) {
	if v == nil {
		return "", "", false // null leaves the zero value
	}
	switch t.Kind() {
	case reflect.Pointer:
		return misfit(t.Elem(), v, path)
	case reflect.Interface:
		return "", "", false
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok && path == "" {
			return path, "the body must be a JSON object, got " + jsonKind(v), true
		}
		if !ok {
			return path, "want an object, got " + jsonKind(v), true
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			kp := path + "/" + pointerEscape(k)
			i := slices.IndexFunc(fields, func(f field) bool { return strings.EqualFold(f.name, k) })
			if i < 0 {
				names := make([]string, len(fields))
				for j, f := range fields {
					names[j] = f.name
				}
				return kp, fmt.Sprintf("unknown field %q (known: %s)", k, strings.Join(names, ", ")), true
			}
			if p, msg, bad := misfit(fields[i].typ, obj[k], kp); bad {
				return p, msg, bad
			}
		}
	case reflect.Slice:
		if t == reflect.TypeFor[json.RawMessage]() {
			return "", "", false
		}
		arr, ok := v.([]any)
		if !ok {
			return path, "want a list, got " + jsonKind(v), true
		}
		for i, el := range arr {
			if p, msg, bad := misfit(t.Elem(), el, path+"/"+strconv.Itoa(i)); bad {
				return p, msg, bad
			}
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return path, "want a string, got " + jsonKind(v), true
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return path, "want true or false, got " + jsonKind(v), true
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := v.(float64)
		if !ok {
			return path, "want a whole number, got " + jsonKind(v), true
		}
		unsigned := t.Kind() >= reflect.Uint
		if f != math.Trunc(f) || math.Abs(f) >= 1<<53 || unsigned && f < 0 {
			return path, fmt.Sprintf("want a whole number, got %v", f), true
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(float64); !ok {
			return path, "want a number, got " + jsonKind(v), true
		}
	}
	return "", "", false
}

type field struct {
	name string
	typ  reflect.Type
}

// jsonFields lists the fields encoding/json decodes into t, by JSON name.
func jsonFields(t reflect.Type) []field {
	var out []field
	for _, sf := range reflect.VisibleFields(t) {
		if !sf.IsExported() || sf.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, field{name, sf.Type})
	}
	return out
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "true or false"
	}
	return "null"
}

// pointerEscape escapes a key for a JSON Pointer (RFC 6901).
func pointerEscape(k string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}
