package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrUnreachable is returned when the server could not be reached (or kept
// failing at the connection level) for all the tries of a batch.
var ErrUnreachable = errors.New("server unreachable")

// ErrRefused is returned when the server refuses the credentials (401, 403);
// no later batch would fare better, so the import stops.
var ErrRefused = errors.New("server refused the credentials")

// Batch is records to send together: Payloads[i] came from line Lines[i].
type Batch struct {
	Lines    []int
	Payloads [][]byte
	Bytes    int // sum of the payload sizes
}

// Add appends one record to b.
func (b *Batch) Add(line int, payload []byte) {
	b.Lines = append(b.Lines, line)
	b.Payloads = append(b.Payloads, payload)
	b.Bytes += len(payload)
}

// Len returns the number of records in b.
func (b *Batch) Len() int { return len(b.Lines) }

// Reset empties b for reuse.
func (b *Batch) Reset() {
	b.Lines, b.Payloads, b.Bytes = b.Lines[:0], b.Payloads[:0], 0
}

// slice returns the records i..j of b, sharing its storage.
func (b *Batch) slice(i, j int) *Batch {
	n := 0
	for _, p := range b.Payloads[i:j] {
		n += len(p)
	}
	return &Batch{Lines: b.Lines[i:j], Payloads: b.Payloads[i:j], Bytes: n}
}

// Result is the outcome of sending a batch: how many records the server
// took, and one RowError for each it did not.
type Result struct {
	Imported int
	Failed   []RowError
}

// Sender posts batches to one endpoint of a Tailor server. Make it with
// NewEventSender or NewProductSender; the exported fields may be changed
// before the first Send.
type Sender struct {
	Client *http.Client
	// Tries is how many times a batch is sent when the server cannot be
	// reached or answers 5xx or 429; Backoff is the first wait between tries,
	// doubled (with jitter) after each.
	Tries   int
	Backoff time.Duration
	// MaxBatchBytes is the payload size a caller should keep batches under;
	// the server's own limit may be lower, in which case a batch it refuses
	// as too large (413) is split in two and each half sent again.
	MaxBatchBytes int

	url      string
	auth     func(*http.Request)
	products bool // catalog NDJSON body and answer, not /v1/import
}

func newSender(url string) *Sender {
	return &Sender{
		Client:  &http.Client{Timeout: 2 * time.Minute},
		Tries:   5,
		Backoff: 250 * time.Millisecond,
		url:     url,
	}
}

// NewEventSender sends Segment messages to POST {target}/v1/import as a
// gzipped {"batch":[...]} body, authenticated with the write key.
func NewEventSender(target, writeKey string) *Sender {
	s := newSender(strings.TrimRight(target, "/") + "/v1/import")
	s.MaxBatchBytes = 480 << 10 // under the 500 KB batch limit of the Segment API
	s.auth = func(r *http.Request) { r.SetBasicAuth(writeKey, "") }
	return s
}

// NewProductSender sends catalog products to POST
// {target}/api/catalog/products as NDJSON, authenticated with the admin token.
func NewProductSender(target, adminToken string) *Sender {
	s := newSender(strings.TrimRight(target, "/") + "/api/catalog/products")
	s.MaxBatchBytes = 8 << 20 // well under the catalog's 32 MiB body limit
	s.products = true
	s.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminToken) }
	return s
}

// Send posts b and reports what the server did with each record. Records the
// server rejects, and whole batches it refuses with a 4xx or keeps failing
// with a 5xx, are in Result.Failed with their lines. The error is non-nil
// only when the import cannot go on: the context ended, the server cannot be
// reached (ErrUnreachable) or refuses the credentials (ErrRefused).
func (s *Sender) Send(ctx context.Context, b *Batch) (Result, error) {
	if b.Len() == 0 {
		return Result{}, nil
	}
	a, err := s.post(ctx, b)
	if err != nil {
		return Result{}, err
	}
	switch {
	case a.status == http.StatusRequestEntityTooLarge && b.Len() > 1:
		half := b.Len() / 2
		r1, err := s.Send(ctx, b.slice(0, half))
		if err != nil {
			return r1, err
		}
		r2, err := s.Send(ctx, b.slice(half, b.Len()))
		r1.Imported += r2.Imported
		r1.Failed = append(r1.Failed, r2.Failed...)
		return r1, err
	case a.status == http.StatusUnauthorized || a.status == http.StatusForbidden:
		return Result{}, fmt.Errorf("%w: %s answered %d: %s", ErrRefused, s.url, a.status, a.errorText())
	case a.status/100 == 2 || a.rejected != nil:
		// 2xx, or the catalog's 400 when every product was rejected: the
		// answer is per record.
		return a.result(b), nil
	default:
		reason := fmt.Sprintf("server answered %d: %s", a.status, a.errorText())
		res := Result{Failed: make([]RowError, b.Len())}
		for i, line := range b.Lines {
			res.Failed[i] = RowError{Line: line, Reason: reason}
		}
		return res, nil
	}
}

// answer is the server's answer to one batch.
type answer struct {
	status   int
	body     []byte
	rejected []rejected // nil when the answer has no "rejected" list
	header   http.Header
}

type rejected struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

func (a *answer) errorText() string {
	var v struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if json.Unmarshal(a.body, &v) == nil && v.Error != "" {
		if v.Code != "" {
			return v.Error + " (" + v.Code + ")"
		}
		return v.Error
	}
	t := strings.TrimSpace(string(a.body))
	if len(t) > 300 {
		t = t[:300] + "..."
	}
	if t == "" {
		t = http.StatusText(a.status)
	}
	return t
}

// result maps the rejected indexes of the answer back to the lines of b.
// Every record not rejected counts as imported: the server answers 2xx only
// once the accepted messages are durable.
func (a *answer) result(b *Batch) Result {
	var res Result
	seen := make(map[int]bool, len(a.rejected))
	for _, r := range a.rejected {
		if r.Index < 0 || r.Index >= b.Len() || seen[r.Index] {
			continue
		}
		seen[r.Index] = true
		reason := r.Reason
		if reason == "" {
			reason = "rejected by the server"
		}
		res.Failed = append(res.Failed, RowError{Line: b.Lines[r.Index], Reason: reason})
	}
	res.Imported = b.Len() - len(res.Failed)
	return res
}

// post sends b, trying again on connection errors, 5xx and 429 answers.
func (s *Sender) post(ctx context.Context, b *Batch) (*answer, error) {
	body, err := s.encode(b)
	if err != nil {
		return nil, err
	}
	tries := max(s.Tries, 1)
	wait := s.Backoff
	for try := 1; ; try++ {
		a, err := s.postOnce(ctx, body)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		retry := err != nil || a.status >= 500 || a.status == http.StatusTooManyRequests
		if !retry {
			return a, nil
		}
		if try == tries {
			if err != nil {
				return nil, fmt.Errorf("%w: %v (tried %d times)", ErrUnreachable, err, tries)
			}
			return a, nil // a 5xx: the batch fails, the import goes on
		}
		d := wait + rand.N(wait/2+1)
		if a != nil {
			if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err == nil && ra > 0 {
				d = min(time.Duration(ra)*time.Second, 30*time.Second)
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(d):
		}
		wait *= 2
	}
}

func (s *Sender) postOnce(ctx context.Context, body []byte) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if s.products {
		req.Header.Set("Content-Type", "application/x-ndjson")
	} else {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("User-Agent", "tailor-import")
	s.auth(req)
	res, err := s.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	a := &answer{status: res.StatusCode, body: rb, header: res.Header}
	var v struct {
		Rejected []rejected `json:"rejected"`
	}
	if json.Unmarshal(rb, &v) == nil && v.Rejected != nil {
		a.rejected = v.Rejected
	}
	return a, nil
}

// encode builds the request body of b. The payloads are JSON objects already,
// so they are written as they are.
func (s *Sender) encode(b *Batch) ([]byte, error) {
	if s.products {
		var buf bytes.Buffer
		buf.Grow(b.Bytes + b.Len())
		for _, p := range b.Payloads {
			buf.Write(p)
			buf.WriteByte('\n')
		}
		return buf.Bytes(), nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write([]byte(`{"batch":[`))
	for i, p := range b.Payloads {
		if i > 0 {
			zw.Write([]byte{','})
		}
		zw.Write(p)
	}
	zw.Write([]byte(`]}`))
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
