package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"tailor/internal/deliver/smtptest"
)

func TestBenchDeliverRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no messages", []string{"--n", "0"}, "--n, --batch, --workers and --smtp-conns must be at least 1"},
		{"no connections", []string{"--smtp-conns", "0"}, "--n, --batch, --workers and --smtp-conns must be at least 1"},
		{"negative broadcast", []string{"--broadcast", "-1"}, "--broadcast must be at least 0"},
		{"argument", []string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := benchDeliver(context.Background(), tt.args)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
}

// The SMTP figure and its baseline speak the same way to the server: BDAT
// chunks where it offers PIPELINING and CHUNKING, DATA elsewhere; every
// message of both arrives, and the report names the way.
func TestBenchSMTPBaselineSpeaksAsTheAdapter(t *testing.T) {
	tests := []struct {
		name                 string
		pipelining, chunking bool
		wire                 string
		chunked              bool
	}{
		{"chunking", true, true, wireChunked, true},
		{"pipelining", true, false, wirePipelined, false},
		{"neither", false, false, wireOneAtATime, false},
		{"chunking without pipelining", false, true, wireOneAtATime, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.New(t, tt.pipelining, tt.chunking)
			const n = 40
			var out bytes.Buffer
			if err := benchSMTP(context.Background(), &out, filepath.Join(t.TempDir(), "smtp"), srv.Addr(), n, 4, 3, ""); err != nil {
				t.Fatal(err)
			}
			report := out.String()
			if got := strings.Count(report, "\n"); got != 3 || !strings.Contains(report, "("+tt.wire+")") {
				t.Errorf("report:\n%s\nwant 3 lines, the baseline's naming %q", report, tt.wire)
			}
			st := srv.Stats()
			if st.Messages != 2*n {
				t.Errorf("server took %d messages, want %d (baseline and pipeline)", st.Messages, 2*n)
			}
			if data := st.Messages - st.Chunked; tt.chunked && data != 0 || !tt.chunked && st.Chunked != 0 {
				t.Errorf("%d messages by DATA, %d by BDAT", data, st.Chunked)
			}
		})
	}
}
