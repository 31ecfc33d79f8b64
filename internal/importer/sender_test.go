package importer

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"
)

// fakeTracking plays the tracking side of the Tailor contract for
// POST /v1/import: write key as HTTP Basic user, gzip body {"batch":[...]},
// per-message rejections by index. Its knobs make it misbehave on purpose.
type fakeTracking struct {
	mu          sync.Mutex
	writeKey    string
	failFirst   int          // answer 503 to this many requests first
	rejectIndex int          // reject this index of every batch; -1 for none
	maxBatch    int          // answer 413 to batches longer than this; 0 for no limit
	failBatch   map[int]bool // answer 400 to these requests (1-based, counting all)
	requests    int
	accepted    []string // messageIds, in the order accepted
}

func (f *fakeTracking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	if r.Method != "POST" || r.URL.Path != "/v1/import" {
		reply(404, map[string]any{"success": false, "error": "not found"})
		return
	}
	if key, pass, ok := r.BasicAuth(); !ok || key != f.writeKey || pass != "" {
		reply(401, map[string]any{"success": false, "error": "unknown write key", "code": "bad_write_key"})
		return
	}
	if f.failFirst > 0 {
		f.failFirst--
		reply(503, map[string]any{"success": false, "error": "not ready", "code": "unavailable"})
		return
	}
	if f.failBatch[f.requests] {
		reply(400, map[string]any{"success": false, "error": "batch is broken", "code": "invalid_json"})
		return
	}
	if r.Header.Get("Content-Encoding") != "gzip" {
		reply(400, map[string]any{"success": false, "error": "want gzip"})
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		reply(400, map[string]any{"success": false, "error": err.Error()})
		return
	}
	var env struct {
		Batch []map[string]any `json:"batch"`
	}
	if err := json.NewDecoder(zr).Decode(&env); err != nil {
		reply(400, map[string]any{"success": false, "error": err.Error()})
		return
	}
	if f.maxBatch > 0 && len(env.Batch) > f.maxBatch {
		reply(413, map[string]any{"success": false, "error": "too large"})
		return
	}
	type rej struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	}
	var rejected []rej
	for i, m := range env.Batch {
		if i == f.rejectIndex {
			rejected = append(rejected, rej{i, "userId or anonymousId is required"})
			continue
		}
		f.accepted = append(f.accepted, fmt.Sprint(m["messageId"]))
	}
	res := map[string]any{"success": true, "accepted": len(env.Batch) - len(rejected)}
	if rejected != nil {
		res["rejected"] = rejected
	}
	reply(200, res)
}

// listReader yields fixed records.
type listReader struct {
	recs []rec
	i    int
}

type rec struct {
	line int
	bad  string // reason of a bad row
}

func (l *listReader) Next() (int, []byte, error) {
	if l.i == len(l.recs) {
		return 0, nil, io.EOF
	}
	r := l.recs[l.i]
	l.i++
	if r.bad != "" {
		return r.line, nil, rowErr(r.line, "%s", r.bad)
	}
	return r.line, fmt.Appendf(nil, `{"type":"track","userId":"u","event":"E","messageId":"m%d"}`, r.line), nil
}

func records(lines ...int) *listReader {
	l := &listReader{}
	for _, n := range lines {
		if n < 0 {
			l.recs = append(l.recs, rec{line: -n, bad: "bad row"})
		} else {
			l.recs = append(l.recs, rec{line: n})
		}
	}
	return l
}

func TestSenderContract(t *testing.T) {
	tests := []struct {
		name      string
		fake      *fakeTracking
		lines     []int // negative: a bad row on that line
		batch     int
		want      Stats
		reported  []string
		accepted  []string
		requests  int
		fatal     error
		sendTries int
	}{
		{
			name:  "accept some, reject index 1, fail once with 503",
			fake:  &fakeTracking{failFirst: 1, rejectIndex: 1},
			lines: []int{2, 3, -4, 5, 8, 9, 10, 12}, batch: 3,
			want:     Stats{Rows: 8, Imported: 5, Rejected: 3},
			reported: []string{"line 4: bad row", "line 3: userId or anonymousId is required", "line 9: userId or anonymousId is required"},
			accepted: []string{"m2", "m5", "m8", "m10", "m12"},
			requests: 4,
		},
		{
			name:  "a 4xx for a whole batch fails its lines and the import goes on",
			fake:  &fakeTracking{rejectIndex: -1, failBatch: map[int]bool{2: true}},
			lines: []int{1, 2, 3, 4, 5}, batch: 2,
			want: Stats{Rows: 5, Imported: 3, Rejected: 2},
			reported: []string{"line 3: server answered 400: batch is broken (invalid_json)",
				"line 4: server answered 400: batch is broken (invalid_json)"},
			accepted: []string{"m1", "m2", "m5"},
			requests: 3,
		},
		{
			name:  "a batch the server finds too large is split",
			fake:  &fakeTracking{rejectIndex: -1, maxBatch: 2},
			lines: []int{1, 2, 3, 4, 5}, batch: 5,
			want:     Stats{Rows: 5, Imported: 5},
			accepted: []string{"m1", "m2", "m3", "m4", "m5"},
			requests: 5, // 5 → 413; 2 ok; 3 → 413; 1 ok; 2 ok
		},
		{
			name:  "5xx on every try fails the batch only",
			fake:  &fakeTracking{rejectIndex: -1, failFirst: 2},
			lines: []int{1, 2, 3}, batch: 2, sendTries: 2,
			want: Stats{Rows: 3, Imported: 1, Rejected: 2},
			reported: []string{"line 1: server answered 503: not ready (unavailable)",
				"line 2: server answered 503: not ready (unavailable)"},
			accepted: []string{"m3"},
			requests: 3,
		},
		{
			name:  "a refused write key stops the import",
			fake:  &fakeTracking{rejectIndex: -1, writeKey: "other"},
			lines: []int{1, 2, 3}, batch: 2,
			want:     Stats{Rows: 2},
			requests: 1,
			fatal:    ErrRefused,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := tt.fake
			if fake.writeKey == "" {
				fake.writeKey = "wk"
			}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			s := NewEventSender(srv.URL+"/", "wk")
			s.Backoff = time.Millisecond
			if tt.sendTries > 0 {
				s.Tries = tt.sendTries
			}
			var reported []string
			st, err := Import(context.Background(), records(tt.lines...), s, tt.batch, func(e RowError) {
				reported = append(reported, e.Error())
			}, nil)
			if !errors.Is(err, tt.fatal) || (tt.fatal == nil && err != nil) {
				t.Fatalf("Import error = %v, want %v", err, tt.fatal)
			}
			if st != tt.want {
				t.Errorf("stats = %+v, want %+v", st, tt.want)
			}
			if !reflect.DeepEqual(reported, tt.reported) {
				t.Errorf("reported %q\nwant     %q", reported, tt.reported)
			}
			if !reflect.DeepEqual(fake.accepted, tt.accepted) {
				t.Errorf("server accepted %q, want %q", fake.accepted, tt.accepted)
			}
			if fake.requests != tt.requests {
				t.Errorf("server got %d requests, want %d", fake.requests, tt.requests)
			}
		})
	}
}
