package catalog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
)

// Body limits of the catalog API, in bytes.
const (
	MaxBulkBody    = 32 << 20 // POST /api/catalog/products
	MaxProductBody = 1 << 20  // PUT /api/catalog/products/{id}
)

// MaxListLimit is the largest page GET /api/catalog/products returns.
const MaxListLimit = 1000

// Handler serves the catalog admin API over s. Its patterns include the
// "/api/catalog" prefix, so it is mounted without stripping it; authentication
// is the mounting code's job. Every answer, errors included ({"error":"..."}),
// is JSON:
//
//	PUT    /api/catalog/products/{id}   one product; an id in the body must match
//	GET    /api/catalog/products/{id}   the product, or 404
//	DELETE /api/catalog/products/{id}   {"deleted":true,"id":...}, or 404
//	POST   /api/catalog/products        a JSON array, one object, or NDJSON
//	                                    (Content-Type application/x-ndjson), up to
//	                                    MaxBulkBody bytes (else 413); answers
//	                                    {"upserted":N,"rejected":[{"index","line","id","reason"}]}
//	GET    /api/catalog/products?category=C&limit=N&cursor=X
//	                                    {"products":[...],"next_cursor":"X or empty"}
//
// A bulk body stores its valid products even when others are rejected; it is
// answered 400 only when every product was rejected, or when the body is not
// well-formed JSON (then nothing is stored and the error names the line and
// column). Ids with "/" are addressed with it escaped as %2F.
func Handler(s *Store) http.Handler {
	h := &handler{s: s}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /api/catalog/products/{id}", h.put)
	mux.HandleFunc("GET /api/catalog/products/{id}", h.get)
	mux.HandleFunc("DELETE /api/catalog/products/{id}", h.delete)
	mux.HandleFunc("POST /api/catalog/products", h.bulk)
	mux.HandleFunc("GET /api/catalog/products", h.list)
	// Without these, ServeMux would answer wrong methods and unknown paths
	// in plain text.
	mux.HandleFunc("/api/catalog/products/{id}", methodNotAllowed("GET, HEAD, PUT, DELETE"))
	mux.HandleFunc("/api/catalog/products", methodNotAllowed("GET, HEAD, POST"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no catalog endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

type handler struct {
	s *Store
}

// rejection is one product of a bulk request that was not stored.
type rejection struct {
	Index  int    `json:"index"`
	Line   int    `json:"line"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

type bulkResult struct {
	Upserted int         `json:"upserted"`
	Rejected []rejection `json:"rejected"`
}

// bulk stores the valid products of a body holding many and reports the
// others. Valid products are kept even when others are rejected; the answer is
// 400 only when every product was rejected.
func (h *handler) bulk(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, MaxBulkBody)
	if !ok {
		return
	}
	ndjson := false
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil {
		ndjson = mt == "application/x-ndjson" || mt == "application/jsonl" || mt == "application/jsonlines"
	}
	items, err := decodeProducts(body, ndjson)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res := bulkResult{Rejected: []rejection{}}
	valid := make([]Product, 0, len(items))
	for _, it := range items {
		if it.Reason != "" {
			res.Rejected = append(res.Rejected, rejection{Index: it.Index, Line: it.Line, ID: it.Product.ID, Reason: it.Reason})
			continue
		}
		valid = append(valid, it.Product)
	}
	if len(valid) > 0 {
		if err := h.s.Put(r.Context(), valid); err != nil {
			internalError(w, r, err)
			return
		}
	}
	res.Upserted = len(valid)
	status := http.StatusOK
	if len(valid) == 0 && len(res.Rejected) > 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, res)
}

// put stores the one product of the body under the id of the path.
func (h *handler) put(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, ok := readBody(w, r, MaxProductBody)
	if !ok {
		return
	}
	items, err := decodeProducts(body, true)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(items) != 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("body must be one product object, got %d JSON values", len(items)))
		return
	}
	it := items[0]
	if !it.Parsed {
		writeError(w, http.StatusBadRequest, it.Reason)
		return
	}
	if it.Product.ID == "" { // optional in the body
		it.Product.ID = id
		it.check()
	}
	if it.Product.ID != id {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("id: body has %q but the path has %q", it.Product.ID, id))
		return
	}
	if it.Reason != "" {
		writeError(w, http.StatusBadRequest, it.Reason)
		return
	}
	if err := h.s.Put(r.Context(), []Product{it.Product}); err != nil {
		internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, it.Product)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, ok, err := h.s.Get(r.Context(), id)
	if err != nil {
		internalError(w, r, err)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("product %q not found", id))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := h.s.Delete(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("product %q not found", id))
		return
	}
	if err != nil {
		internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": true, "id": id})
}

type listResult struct {
	Products   []Product `json:"products"`
	NextCursor string    `json:"next_cursor"`
}

// list answers one page of products in id order. The cursor is opaque to
// clients (base64url of the last id of the previous page) so that it needs no
// escaping in a URL whatever the ids hold.
func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := ListOptions{Category: q.Get("category"), Limit: DefaultListLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: must be an integer from 1 to %d, got %q", MaxListLimit, v))
			return
		}
		opts.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		after, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(after) == 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("cursor: %q is not a cursor this API returned", c))
			return
		}
		opts.After = string(after)
	}
	products, next, err := h.s.List(r.Context(), opts)
	if err != nil {
		internalError(w, r, err)
		return
	}
	res := listResult{Products: products}
	if next != "" {
		res.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	writeJSON(w, http.StatusOK, res)
}

// readBody reads the whole body, answering 413 past limit bytes and 400 when
// the body cannot be read; ok is false when an answer was written.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, ok bool) {
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is %d bytes; the limit is %d", r.ContentLength, limit))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than the limit of %d bytes", limit))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return nil, false
	}
	return body, true
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; use %s", r.Method, r.URL.Path, allow))
	}
}

func internalError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		return
	}
	slog.Error("catalog request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error: "+err.Error())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeJSON answers v. HTML escaping is off so that categories and reasons
// read as written ("Apparel > Outerwear", "must be >= 0").
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error: encoding the answer failed"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
