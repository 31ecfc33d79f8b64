package apierr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTableIsComplete(t *testing.T) {
	for code, r := range table {
		if r.status < 400 || r.status > 599 {
			t.Errorf("%s: status %d is not an error status", code, r.status)
		}
		if r.text == "" {
			t.Errorf("%s: no default text", code)
		}
		if code.Status() != r.status {
			t.Errorf("%s: Status() = %d, table says %d", code, code.Status(), r.status)
		}
	}
}

// captureLog sends slog's default logger to a buffer for the test.
func captureLog(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

func TestWriteError(t *testing.T) {
	secret := errors.New("open /data/pebble/000123.sst: permission denied")
	tests := []struct {
		name    string
		shape   Shape
		err     error
		status  int
		body    string
		logged  bool
		noEchos string
	}{
		{"client error", Plain, Errorf(NotFound, "no profile for %q", "u1"), 404,
			`{"error":"no profile for \"u1\"","code":"not_found"}`, false, ""},
		{"default text", Plain, New(Busy, ""), 503,
			`{"error":"server is busy; retry in a moment","code":"busy"}`, false, ""},
		{"wrapped client error", Plain, fmt.Errorf("loading: %w", New(TooLarge, "body is over the 10 byte limit")), 413,
			`{"error":"body is over the 10 byte limit","code":"too_large"}`, false, ""},
		{"tracking shape", Tracking, New(BadWriteKey, ""), 401,
			`{"success":false,"error":"unknown write key","code":"bad_write_key"}`, false, ""},
		{"internal error is logged, not echoed", Plain, secret, 500,
			`{"error":"internal error","code":"internal"}`, true, "permission denied"},
		{"internal error, tracking shape", Tracking, fmt.Errorf("append: %w", secret), 500,
			`{"success":false,"error":"internal error","code":"internal"}`, true, "000123"},
		{"unknown code is internal", Plain, New(Code("made_up"), "leak"), 500,
			`{"error":"internal error","code":"internal"}`, true, "leak"},
		{"no html escaping", Plain, New(BadRequest, "price: must be >= 0"), 400,
			`{"error":"price: must be >= 0","code":"bad_request"}`, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := captureLog(t)
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/api/x", nil)
			if got := WriteError(w, r, tt.shape, tt.err); got != tt.status || w.Code != tt.status {
				t.Errorf("status returned %d, written %d, want %d", got, w.Code, tt.status)
			}
			if got := strings.TrimSpace(w.Body.String()); got != tt.body {
				t.Errorf("body %s\nwant %s", got, tt.body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			logged := strings.Contains(logs.String(), "level=ERROR")
			if logged != tt.logged {
				t.Errorf("logged = %v, want %v: %s", logged, tt.logged, logs)
			}
			if tt.logged && !(strings.Contains(logs.String(), "method=POST") && strings.Contains(logs.String(), "path=/api/x")) {
				t.Errorf("log line lacks method and path: %s", logs)
			}
			if tt.noEchos != "" && strings.Contains(w.Body.String(), tt.noEchos) {
				t.Errorf("answer echoes internal text %q: %s", tt.noEchos, w.Body)
			}
		})
	}
}

func TestWriteJSONUnencodable(t *testing.T) {
	captureLog(t)
	w := httptest.NewRecorder()
	WriteJSON(w, http.StatusOK, map[string]any{"x": math.NaN()})
	var b Body
	if w.Code != 500 || json.Unmarshal(w.Body.Bytes(), &b) != nil || b.Code != Internal {
		t.Fatalf("unencodable value answered %d %s, want a clean 500", w.Code, w.Body)
	}
}
