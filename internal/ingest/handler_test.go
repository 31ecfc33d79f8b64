package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"tailor/internal/event"
	"tailor/internal/eventlog"
)

// memLog is an in-memory Appender for handler unit tests (the durable log is
// tested in eventlog and end to end in server and test/e2e).
// It keeps copies of the records, as the real log does (Appender).
type memLog struct{ recs []eventlog.Record }

func (m *memLog) Partitions() int { return 4 }
func (m *memLog) Append(_ context.Context, recs []eventlog.Record) ([]eventlog.Result, error) {
	for _, r := range recs {
		r.Value, r.DedupeKey = bytes.Clone(r.Value), bytes.Clone(r.DedupeKey)
		r.Index = slices.Clone(r.Index)
		for i := range r.Index {
			r.Index[i] = bytes.Clone(r.Index[i])
		}
		m.recs = append(m.recs, r)
	}
	res := make([]eventlog.Result, len(recs))
	for i := range res {
		res[i].Seq = uint64(len(m.recs) - len(recs) + i + 1)
	}
	return res, nil
}

func newTestHandler() (*Handler, *memLog) {
	src := &Sources{}
	src.Add("wk", "default")
	l := &memLog{}
	return NewHandler(l, src, nil, nil), l
}

func TestStoredFormReplays(t *testing.T) {
	h, l := newTestHandler()
	body := `{"batch":[{"type":"track","userId":"u","event":"E","properties":{"n":1.5,"s":"\u00e9"}},{"type":"identify","anonymousId":"a","traits":{"email":"A@B.co"}}],"sentAt":"2026-11-24T10:00:00Z","context":{"locale":"fr-FR"}}`
	req := httptest.NewRequest("POST", "/v1/batch", bytes.NewBufferString(body))
	req.SetBasicAuth("wk", "")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || len(l.recs) != 2 {
		t.Fatalf("status %d, %d records: %s", w.Code, len(l.recs), w.Body)
	}
	for i, r := range l.recs {
		live := r.Payload.(*event.Event)
		back, err := event.DecodeStored(r.Value)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		lj, _ := json.Marshal(live)
		bj, _ := json.Marshal(back)
		if !bytes.Equal(lj, bj) {
			t.Fatalf("record %d replays differently:\nlive   %s\nreplay %s", i, lj, bj)
		}
		if back.Context.Map()["locale"] != "fr-FR" || back.Context.Locale != "fr-FR" || back.MessageID == "" {
			t.Fatalf("batch context or assigned messageId lost: %+v", back)
		}
	}
}

// TestRecordKeys: the keys ingest builds for each record in its pooled
// buffer (de-duplication, timeline, partition) are the ones the reference
// functions make, over consecutive requests that reuse the buffers with
// messages of other sizes and identities.
func TestRecordKeys(t *testing.T) {
	h, l := newTestHandler()
	var want []eventlog.Record
	for req := range 4 {
		var msgs []string
		for i := range 3 + 40*(req%2) {
			id := `"userId":"user-` + strconv.Itoa(req*1000+i) + `"`
			if i%3 == 1 {
				id = `"anonymousId":"anon-` + strings.Repeat("x", i) + `"`
			}
			mid := ""
			if i%2 == 0 {
				mid = `,"messageId":"m-` + strconv.Itoa(req) + "-" + strconv.Itoa(i) + `"`
			}
			msgs = append(msgs, `{"type":"track","event":"E",`+id+mid+`,"timestamp":"2026-11-2`+strconv.Itoa(i%10)+`T10:00:00Z"}`)
		}
		n := len(l.recs)
		req := httptest.NewRequest("POST", "/v1/batch", strings.NewReader(`{"batch":[`+strings.Join(msgs, ",")+`]}`))
		req.SetBasicAuth("wk", "")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 || len(l.recs) != n+len(msgs) {
			t.Fatalf("status %d, %d records: %s", w.Code, len(l.recs)-n, w.Body)
		}
		for _, r := range l.recs[n:] {
			e := r.Payload.(*event.Event)
			pk := e.PrimaryID().Key()
			want = append(want, eventlog.Record{
				Partition: partitionOf(pk, 4),
				DedupeKey: []byte(e.SourceID + "\x00" + e.MessageID),
				Index:     [][]byte{eventlog.IndexKey(pk, e.Timestamp)},
			})
		}
	}
	for i, r := range l.recs {
		if r.Partition != want[i].Partition || !bytes.Equal(r.DedupeKey, want[i].DedupeKey) || len(r.Index) != 1 || !bytes.Equal(r.Index[0], want[i].Index[0]) {
			t.Fatalf("record %d: partition %d, dedupe %q, index %q; want %d, %q, %q",
				i, r.Partition, r.DedupeKey, r.Index, want[i].Partition, want[i].DedupeKey, want[i].Index)
		}
	}
}

// FuzzBatch posts arbitrary bodies: the handler must answer 2xx or 4xx with a
// JSON body, never panic, and every stored record must replay.
func FuzzBatch(f *testing.F) {
	for _, s := range []string{
		`{"batch":[{"type":"track","userId":"u","event":"E"}]}`,
		`{"batch":[{"type":"track"},{"type":"page","anonymousId":"a","properties":{"x":[1,{"y":null}]}}],"sentAt":"2026-01-01T00:00:00Z"}`,
		`{"batch":{}}`, `[]`, `{"batch":[1,"x",null]}`, `{"writeKey":"wk","batch":[]}`, `{"batch":[{"userId":1e999,"type":"identify"}]}`,
	} {
		f.Add([]byte(s))
	}
	h, l := newTestHandler()
	f.Fuzz(func(t *testing.T, body []byte) {
		l.recs = l.recs[:0]
		req := httptest.NewRequest("POST", "/v1/batch", bytes.NewReader(body))
		req.SetBasicAuth("wk", "")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 || w.Code < 200 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", w.Body)
		}
		for _, r := range l.recs {
			if _, err := event.DecodeStored(r.Value); err != nil {
				t.Fatalf("stored record does not replay: %v", err)
			}
		}
		if w.Code == http.StatusOK && len(l.recs) == 0 && bytes.Contains(w.Body.Bytes(), []byte(`"accepted":1`)) {
			t.Fatal("accepted a message but stored nothing")
		}
	})
}

func TestCORSWithoutCredentials(t *testing.T) {
	h, _ := newTestHandler()
	tests := []struct {
		name, method, path, origin, body string
	}{
		{"preflight from a shop", "OPTIONS", "/v1/t", "https://shop.example.com", ""},
		{"post from any site", "POST", "/v1/track", "https://evil.example.net", `{"userId":"u","event":"e"}`},
		{"post without origin", "POST", "/v1/track", "", `{"userId":"u","event":"e"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			req.SetBasicAuth("wk", "")
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			hd := w.Header()
			if got := hd.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Allow-Origin %q, want *", got)
			}
			if got := hd.Values("Access-Control-Allow-Credentials"); len(got) != 0 {
				t.Errorf("Allow-Credentials %q: any site could send the visitor's cookies", got)
			}
			if w.Code >= 300 {
				t.Errorf("status %d: %s", w.Code, w.Body)
			}
		})
	}
}

// countingBody records whether the handler read the body.
type countingBody struct {
	io.Reader
	read bool
}

func (b *countingBody) Read(p []byte) (int, error) { b.read = true; return b.Reader.Read(p) }

func TestHeaderKeyCheckedBeforeBody(t *testing.T) {
	h, _ := newTestHandler()
	tests := []struct {
		name     string
		user     string // Basic user name; "" sends no Authorization
		body     string
		status   int
		code     string
		readBody bool
	}{
		{"unknown header key", "nope", `{"writeKey":"wk","userId":"u","event":"e"}`, 401, "bad_write_key", false},
		{"known header key", "wk", `{"userId":"u","event":"e"}`, 200, "", true},
		{"key in the body", "", `{"writeKey":"wk","userId":"u","event":"e"}`, 200, "", true},
		{"unknown key in the body", "", `{"writeKey":"nope","userId":"u","event":"e"}`, 401, "bad_write_key", true},
		{"no key at all", "", `{"userId":"u","event":"e"}`, 401, "no_write_key", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &countingBody{Reader: strings.NewReader(tt.body)}
			req := httptest.NewRequest("POST", "/v1/track", body)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, "")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			var ans struct {
				Success *bool  `json:"success"`
				Code    string `json:"code"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil || w.Code != tt.status || ans.Code != tt.code || ans.Success == nil {
				t.Errorf("status %d %s, want %d with code %q", w.Code, w.Body, tt.status, tt.code)
			}
			if body.read != tt.readBody {
				t.Errorf("body read = %v, want %v", body.read, tt.readBody)
			}
		})
	}
}

// TestBodyKeyedBudget checks that requests with the write key in the body
// read their bodies within their own budget: past it they are refused at
// once (503, Retry-After), while requests keyed in the header are served.
func TestBodyKeyedBudget(t *testing.T) {
	h, _ := newTestHandler()
	h.BodyKeyedLimit = 1
	// A slow upload: its body does not end until the test closes pr.
	pr, pw := io.Pipe()
	slowDone := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/v1/t", pr))
		slowDone <- w.Code
	}()
	pw.Write([]byte(`{"writeKey":"wk",`))
	waitFor(t, time.Second, func() bool { return h.bodyKeyed.Load() == 1 })

	post := func(user string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/t", strings.NewReader(`{"writeKey":"wk","userId":"u","event":"e"}`))
		if user != "" {
			req.SetBasicAuth(user, "")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := post(""); w.Code != 503 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"code":"busy"`) {
		t.Errorf("body-keyed request over the budget: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w := post("wk"); w.Code != 200 {
		t.Errorf("header-keyed request while the budget is full: %d %s", w.Code, w.Body)
	}
	pw.Write([]byte(`"userId":"u","event":"e"}`))
	pw.Close()
	if code := <-slowDone; code != 200 {
		t.Errorf("slow upload: %d", code)
	}
	if w := post(""); w.Code != 200 {
		t.Errorf("body-keyed request after the budget freed: %d %s", w.Code, w.Body)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// dedupeLog is a memLog that answers a de-duplication key it has seen
// before as a duplicate, as the durable log does.
type dedupeLog struct {
	memLog
	seen map[string]bool
}

func (d *dedupeLog) Append(ctx context.Context, recs []eventlog.Record) ([]eventlog.Result, error) {
	res := make([]eventlog.Result, len(recs))
	var fresh []eventlog.Record
	for i, r := range recs {
		if d.seen[string(r.DedupeKey)] {
			res[i].Duplicate = true
			continue
		}
		d.seen[string(r.DedupeKey)] = true
		fresh = append(fresh, r)
	}
	_, err := d.memLog.Append(ctx, fresh)
	return res, err
}

// Accepted events are counted by type, duplicates apart, over requests of
// one type and of mixed types.
func TestEventsCountedByType(t *testing.T) {
	src := &Sources{}
	src.Add("wk", "default")
	h := NewHandler(&dedupeLog{seen: map[string]bool{}}, src, nil, nil)
	send := func(msgs ...string) {
		t.Helper()
		req := httptest.NewRequest("POST", "/v1/batch", strings.NewReader(`{"batch":[`+strings.Join(msgs, ",")+`]}`))
		req.SetBasicAuth("wk", "")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	msg := func(typ, id string) string {
		return `{"type":"` + typ + `","userId":"u","previousId":"p","event":"E","messageId":"` + id + `"}`
	}
	send(msg("track", "1"), msg("identify", "2"), msg("track", "3"), msg("page", "4"), msg("track", "5"))
	send(msg("track", "1"), msg("alias", "6"), msg("identify", "2"), msg("identify", "7")) // 1 and 2 again
	send(msg("screen", "8"))
	value := func(c prometheus.Counter) float64 {
		var m dto.Metric
		if err := c.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	for typ, want := range map[string]float64{"track": 3, "identify": 2, "page": 1, "alias": 1, "screen": 1, "group": 0} {
		if got := value(h.metrics.events.WithLabelValues(typ)); got != want {
			t.Errorf("%s: %v events counted, want %v", typ, got, want)
		}
	}
	if got := value(h.metrics.duplicates); got != 2 {
		t.Errorf("%v duplicates counted, want 2", got)
	}
	if c := h.Counts(); c.Accepted != 8 {
		t.Errorf("accepted %d, want 8", c.Accepted)
	}
}
