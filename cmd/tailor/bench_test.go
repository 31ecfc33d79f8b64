package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestBenchIngestRejectsBadRate(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"negative", []string{"--rate", "-5"}, "--rate must be a number of events per second"},
		{"not a number", []string{"--rate", "NaN"}, "--rate must be a number of events per second"},
		{"infinite", []string{"--rate", "Inf"}, "--rate must be a number of events per second"},
		{"not numeric", []string{"--rate", "fast"}, `invalid value "fast" for flag -rate`},
		{"no request within the duration", []string{"--rate", "10", "--batch", "100", "--duration", "5s"},
			"--rate 10 with --batch 100 starts one request every 10s; make --duration at least that"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--target", "http://127.0.0.1:1", "--write-key", "wk"}, tt.args...)
			err := benchIngest(context.Background(), args)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
}

// TestBenchIngestRatePacesTheRun checks that --rate reaches the load
// generator: unpaced, a do-nothing server would see thousands of requests.
func TestBenchIngestRatePacesTheRun(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			http.NotFound(w, r)
			return
		}
		requests.Add(1)
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"success":true}`)
	}))
	defer srv.Close()
	err := benchIngest(context.Background(), []string{"--target", srv.URL, "--write-key", "wk",
		"--rate", "500", "--batch", "1", "--duration", "200ms", "--ceiling", "0", "--metrics", "none", "--customers", "20"})
	if err != nil {
		t.Fatal(err)
	}
	// 500 events/s in single events schedule 100 requests over 200ms; a
	// stalled machine may leave a few of them unsent at the end.
	if n := requests.Load(); n > 100 || n < 90 {
		t.Errorf("the server saw %d requests, want the 100 scheduled", n)
	}
}
