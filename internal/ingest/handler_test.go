package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"tailor/internal/event"
	"tailor/internal/eventlog"
)

// memLog is an in-memory Appender for handler unit tests (the durable log is
// tested in eventlog and end to end in server and test/e2e).
type memLog struct{ recs []eventlog.Record }

func (m *memLog) Partitions() int { return 4 }
func (m *memLog) Append(_ context.Context, recs []eventlog.Record) ([]eventlog.Result, error) {
	m.recs = append(m.recs, recs...)
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
		if back.Context["locale"] != "fr-FR" || back.MessageID == "" {
			t.Fatalf("batch context or assigned messageId lost: %+v", back)
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
