package catalog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"

	"tailor/internal/apierr"
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
// is the mounting code's job. Every answer, errors included
// ({"error":"...","code":"..."}, see package apierr), is JSON:
//
//	PUT    /api/catalog/products/{id}   one product; an id in the body must match
//	GET    /api/catalog/products/{id}   the product, or 404
//	DELETE /api/catalog/products/{id}   {"deleted":true,"id":...}, or 404
//	POST   /api/catalog/products        a JSON array, one object, or NDJSON
//	                                    (Content-Type application/x-ndjson), up to
//	                                    MaxBulkBody bytes (else 413); answers
//	                                    {"upserted":N,"rejected":[{"index","line","id","reason"}]}
//	GET    /api/catalog/products?category=C&q=Q&limit=N&cursor=X
//	                                    {"products":[...],"next_cursor":"X or empty"}
//	GET    /api/catalog/categories      {"categories":[{"path","products","stock"}]}
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
	mux.HandleFunc("GET /api/catalog/categories", h.categories)
	// Without these, ServeMux would answer wrong methods and unknown paths
	// in plain text.
	mux.HandleFunc("/api/catalog/products/{id}", methodNotAllowed("GET, HEAD, PUT, DELETE"))
	mux.HandleFunc("/api/catalog/products", methodNotAllowed("GET, HEAD, POST"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, apierr.Errorf(apierr.NotFound, "no catalog endpoint %s %s", r.Method, r.URL.Path))
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
	// Error and Code are set when every product was rejected (a 400), so
	// that the answer reads like every other error.
	Error string      `json:"error,omitempty"`
	Code  apierr.Code `json:"code,omitempty"`
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
		fail(w, r, err)
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
			fail(w, r, err)
			return
		}
	}
	res.Upserted = len(valid)
	status := http.StatusOK
	if len(valid) == 0 && len(res.Rejected) > 0 {
		res.Code = apierr.InvalidProduct
		res.Error = fmt.Sprintf("all %d products were rejected", len(res.Rejected))
		status = res.Code.Status()
	}
	apierr.WriteJSON(w, status, res)
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
		fail(w, r, err)
		return
	}
	if len(items) != 1 {
		fail(w, r, apierr.Errorf(apierr.InvalidProduct, "body must be one product object, got %d JSON values", len(items)))
		return
	}
	it := items[0]
	if !it.Parsed {
		fail(w, r, apierr.New(apierr.InvalidProduct, it.Reason))
		return
	}
	if it.Product.ID == "" { // optional in the body
		it.Product.ID = id
		it.check()
	}
	if it.Product.ID != id {
		fail(w, r, apierr.Errorf(apierr.InvalidProduct, "id: body has %q but the path has %q", it.Product.ID, id))
		return
	}
	if it.Reason != "" {
		fail(w, r, apierr.New(apierr.InvalidProduct, it.Reason))
		return
	}
	if err := h.s.Put(r.Context(), []Product{it.Product}); err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, it.Product)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, ok, err := h.s.Get(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	if !ok {
		fail(w, r, apierr.Errorf(apierr.NotFound, "product %q not found", id))
		return
	}
	apierr.WriteJSON(w, http.StatusOK, p)
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := h.s.Delete(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		fail(w, r, apierr.Errorf(apierr.NotFound, "product %q not found", id))
		return
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"deleted": true, "id": id})
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
	opts := ListOptions{Category: q.Get("category"), Query: q.Get("q"), Limit: DefaultListLimit}
	if len(opts.Query) > maxQuery {
		fail(w, r, apierr.Errorf(apierr.BadRequest, "q: at most %d bytes, got %d", maxQuery, len(opts.Query)))
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			fail(w, r, apierr.Errorf(apierr.BadRequest, "limit: must be an integer from 1 to %d, got %q", MaxListLimit, v))
			return
		}
		opts.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		after, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(after) == 0 {
			fail(w, r, apierr.Errorf(apierr.BadRequest, "cursor: %q is not a cursor this API returned", c))
			return
		}
		opts.After = string(after)
	}
	products, next, err := h.s.List(r.Context(), opts)
	if err != nil {
		fail(w, r, err)
		return
	}
	res := listResult{Products: products}
	if next != "" {
		res.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	apierr.WriteJSON(w, http.StatusOK, res)
}

// maxQuery bounds ?q= (a search box, not a document).
const maxQuery = 200

func (h *handler) categories(w http.ResponseWriter, r *http.Request) {
	cs, err := h.s.Categories(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	apierr.WriteJSON(w, http.StatusOK, map[string]any{"categories": cs})
}

// readBody reads the whole body, answering 413 past limit bytes and 400 when
// the body cannot be read; ok is false when an answer was written.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, ok bool) {
	if r.ContentLength > limit {
		fail(w, r, apierr.Errorf(apierr.TooLarge, "body is %d bytes; the limit is %d", r.ContentLength, limit))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(w, r, apierr.Errorf(apierr.TooLarge, "body is larger than the limit of %d bytes", limit))
		return nil, false
	case errors.Is(err, os.ErrDeadlineExceeded):
		fail(w, r, apierr.Errorf(apierr.BodyTimeout, "body not received within the server's read deadline after %d bytes", len(body)))
		return nil, false
	case err != nil:
		fail(w, r, apierr.Errorf(apierr.BadBody, "reading body: %v", err))
		return nil, false
	}
	return body, true
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		fail(w, r, apierr.Errorf(apierr.MethodNotAllowed, "method %s not allowed on %s; use %s", r.Method, r.URL.Path, allow))
	}
}

// fail answers err in the catalog's error shape. A *SyntaxError is the
// client's malformed body; any other error that is not an *apierr.Error is
// the server's (logged, answered 500 without its text).
func fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *SyntaxError
	if errors.As(err, &se) {
		err = apierr.New(apierr.InvalidJSON, se.Error())
	}
	apierr.WriteError(w, r, apierr.Plain, err)
}
