package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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

// sinkSMTP is an SMTP server that takes every message, offering the
// extensions it is given, and counts the messages by how they came.
type sinkSMTP struct {
	ln   net.Listener
	exts []string

	mu          sync.Mutex
	data, bdats int
}

func newSinkSMTP(t *testing.T, exts ...string) *sinkSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sinkSMTP{ln: ln, exts: exts}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *sinkSMTP) serve(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	fmt.Fprint(w, "220 sink\r\n")
	w.Flush()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			fmt.Fprint(w, "250-sink\r\n") // the first line names the server, not an extension
			for _, e := range s.exts {
				fmt.Fprintf(w, "250-%s\r\n", e)
			}
			fmt.Fprint(w, "250 8BITMIME\r\n")
		case cmd == "DATA":
			fmt.Fprint(w, "354 go on\r\n")
			w.Flush()
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			s.mu.Lock()
			s.data++
			s.mu.Unlock()
			fmt.Fprint(w, "250 queued\r\n")
		case strings.HasPrefix(cmd, "BDAT "):
			var n int64
			if _, err := fmt.Sscanf(cmd, "BDAT %d LAST", &n); err != nil {
				fmt.Fprint(w, "501 want BDAT n LAST\r\n")
				break
			}
			if _, err := io.CopyN(io.Discard, r, n); err != nil {
				return
			}
			s.mu.Lock()
			s.bdats++
			s.mu.Unlock()
			fmt.Fprint(w, "250 queued\r\n")
		case cmd == "QUIT":
			fmt.Fprint(w, "221 bye\r\n")
			w.Flush()
			return
		default:
			fmt.Fprint(w, "250 ok\r\n")
		}
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
}

// The SMTP figure and its baseline speak the same way to the server: BDAT
// chunks where it offers PIPELINING and CHUNKING, DATA elsewhere; every
// message of both arrives, and the report names the way.
func TestBenchSMTPBaselineSpeaksAsTheAdapter(t *testing.T) {
	tests := []struct {
		name    string
		exts    []string
		wire    string
		chunked bool
	}{
		{"chunking", []string{"PIPELINING", "CHUNKING"}, wireChunked, true},
		{"pipelining", []string{"PIPELINING"}, wirePipelined, false},
		{"neither", nil, wireOneAtATime, false},
		{"chunking without pipelining", []string{"CHUNKING"}, wireOneAtATime, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSinkSMTP(t, tt.exts...)
			const n = 40
			var out bytes.Buffer
			if err := benchSMTP(context.Background(), &out, filepath.Join(t.TempDir(), "smtp"), srv.ln.Addr().String(), n, 4, 3, ""); err != nil {
				t.Fatal(err)
			}
			report := out.String()
			if got := strings.Count(report, "\n"); got != 3 || !strings.Contains(report, "("+tt.wire+")") {
				t.Errorf("report:\n%s\nwant 3 lines, the baseline's naming %q", report, tt.wire)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if got := srv.data + srv.bdats; got != 2*n {
				t.Errorf("server took %d messages, want %d (baseline and pipeline)", got, 2*n)
			}
			if tt.chunked && srv.data != 0 || !tt.chunked && srv.bdats != 0 {
				t.Errorf("%d messages by DATA, %d by BDAT", srv.data, srv.bdats)
			}
		})
	}
}
