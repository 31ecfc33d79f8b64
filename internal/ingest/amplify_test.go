package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"tailor/internal/store/storetest"
)

// invalidBatch is a batch of n empty messages (each rejected: no userId or
// anonymousId), gzip-compressed: about 1 KB on the wire for 170,000
// messages.
func invalidBatch(tb testing.TB, n int) []byte {
	var raw bytes.Buffer
	raw.WriteString(`{"batch":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			raw.WriteByte(',')
		}
		raw.WriteString("{}")
	}
	raw.WriteString(`]}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		tb.Fatal(err)
	}
	zw.Close()
	return gz.Bytes()
}

func newRejectedHandler(tb testing.TB) (*Handler, *Rejected) {
	db := storetest.MemDB(tb)
	src := &Sources{}
	src.Add("wk", "default")
	rej := NewRejected(db)
	return NewHandler(&memLog{}, src, rej, nil), rej
}

// BenchmarkBatchAllRejected measures what a tiny gzip body of 170,000
// invalid messages costs: allocated bytes (-benchmem) and the answer size.
func BenchmarkBatchAllRejected(b *testing.B) {
	body := invalidBatch(b, 170000)
	h, _ := newRejectedHandler(b)
	b.ReportAllocs()
	var answer int
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/batch", bytes.NewReader(body))
		req.Header.Set("Content-Encoding", "gzip")
		req.SetBasicAuth("wk", "")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 400 || !strings.Contains(w.Body.String(), "170000") {
			b.Fatalf("status %d: %.200s", w.Code, w.Body)
		}
		answer = w.Body.Len()
	}
	b.ReportMetric(float64(len(body)), "request-B")
	b.ReportMetric(float64(answer), "answer-B")
}

// TestBatchRejectionsBounded checks that a batch of many invalid messages
// gets an answer and rejected-view writes bounded by the caps, with the
// totals counted, and that a valid message among them is still kept.
func TestBatchRejectionsBounded(t *testing.T) {
	tests := []struct {
		name    string
		invalid int
		valid   bool
		status  int
	}{
		{"few invalid, one valid", 3, true, 200},
		{"many invalid, one valid at the end", 5000, true, 200},
		{"many invalid only", 5000, false, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, rej := newRejectedHandler(t)
			l := h.Log.(*memLog)
			msgs := strings.Repeat(`{},`, tt.invalid)
			if tt.valid {
				msgs += `{"type":"track","userId":"u","event":"Kept"}`
			} else {
				msgs = strings.TrimSuffix(msgs, ",")
			}
			req := httptest.NewRequest("POST", "/v1/batch", strings.NewReader(`{"batch":[`+msgs+`]}`))
			req.SetBasicAuth("wk", "")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			var ans struct {
				Success       bool         `json:"success"`
				Code          string       `json:"code"`
				Accepted      int          `json:"accepted"`
				Rejected      []rejectionT `json:"rejected"`
				RejectedCount int          `json:"rejected_count"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || w.Code != tt.status {
				t.Fatalf("status %d (want %d), %v: %.300s", w.Code, tt.status, err, w.Body)
			}
			if want := min(tt.invalid, MaxReportedRejections); len(ans.Rejected) != want || ans.RejectedCount != tt.invalid {
				t.Errorf("answer lists %d rejections and counts %d, want %d and %d", len(ans.Rejected), ans.RejectedCount, want, tt.invalid)
			}
			if len(ans.Rejected) > 0 && (ans.Rejected[0].Index != 0 || ans.Rejected[len(ans.Rejected)-1].Index != len(ans.Rejected)-1) {
				t.Errorf("answer does not list the first rejections: %+v", ans.Rejected)
			}
			if w.Body.Len() > 20<<10 {
				t.Errorf("answer is %d bytes for a %d-message batch", w.Body.Len(), tt.invalid)
			}
			if tt.valid && (ans.Accepted != 1 || len(l.recs) != 1) {
				t.Errorf("valid message not kept: accepted %d, stored %d", ans.Accepted, len(l.recs))
			}
			if !tt.valid && (ans.Success || ans.Code != "invalid_message") {
				t.Errorf("all-rejected answer: success %v code %q", ans.Success, ans.Code)
			}
			kept, err := rej.List(MaxRejected)
			if err != nil {
				t.Fatal(err)
			}
			if want := min(tt.invalid, MaxKeptRejections); len(kept) != want {
				t.Fatalf("rejected view kept %d, want %d", len(kept), want)
			}
			more := 0
			for _, e := range kept {
				more += e.More
			}
			if len(kept)+more != tt.invalid {
				t.Errorf("rejected view accounts for %d kept + %d more, want %d", len(kept), more, tt.invalid)
			}
		})
	}
}

type rejectionT struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// BenchmarkBatchValid is the hot path the rejection caps must not slow: a
// batch of 100 valid messages.
func BenchmarkBatchValid(b *testing.B) {
	var body bytes.Buffer
	body.WriteString(`{"batch":[`)
	for i := 0; i < 100; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(`{"type":"track","userId":"user-` + strings.Repeat("x", i%7) + `","event":"Product Viewed","properties":{"product_id":"sku-1","price":12.5}}`)
	}
	body.WriteString(`]}`)
	h, _ := newRejectedHandler(b)
	l := h.Log.(*memLog)
	b.ReportAllocs()
	for b.Loop() {
		l.recs = l.recs[:0]
		req := httptest.NewRequest("POST", "/v1/batch", bytes.NewReader(body.Bytes()))
		req.SetBasicAuth("wk", "")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
