// Package smtptest is a minimal SMTP server for tests of the SMTP adapter
// and of the delivery benchmark: one fake, so that both speak to the same
// server. The tests that prove delivery use a real one (Mailpit).
package smtptest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// Server offers PIPELINING and CHUNKING when told, refuses recipients at
// reject.example with 550, and counts connections and messages.
type Server struct {
	ln         net.Listener
	pipelining bool
	chunking   bool

	mu sync.Mutex
	st Stats
}

// Stats is what a Server saw.
type Stats struct {
	Open, MaxOpen   int // connections open now, and at most at once
	Conns, Messages int
	Bodies          []string
	Grouped         int // MAIL, RCPT and DATA (or BDAT) that arrived in one read
	Chunked         int // messages that came in BDAT chunks
}

// New starts a Server on a free local port, closed when the test ends.
func New(t testing.TB, pipelining, chunking bool) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln, pipelining: pipelining, chunking: chunking}
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

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stats returns a copy of what the server saw so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Bodies = append([]string(nil), s.st.Bodies...)
	return st
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	s.mu.Lock()
	s.st.Open++
	s.st.Conns++
	s.st.MaxOpen = max(s.st.MaxOpen, s.st.Open)
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.st.Open--; s.mu.Unlock() }()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	reply := func(line string) { w.WriteString(line + "\r\n") }
	reply("220 fake ESMTP")
	w.Flush()
	rcptOK := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			reply("250-fake")
			if s.pipelining {
				reply("250-PIPELINING")
			}
			if s.chunking {
				reply("250-CHUNKING")
			}
			reply("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL FROM"):
			if r.Buffered() > 0 && (strings.Contains(peek(r), "DATA") || strings.Contains(peek(r), "BDAT")) {
				s.mu.Lock()
				s.st.Grouped++
				s.mu.Unlock()
			}
			rcptOK = false
			reply("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO"):
			if strings.Contains(cmd, "REJECT.EXAMPLE") {
				reply("550 no such user")
			} else {
				rcptOK = true
				reply("250 ok")
			}
		case cmd == "DATA":
			if !rcptOK {
				reply("554 no valid recipients")
				break
			}
			reply("354 go on")
			w.Flush()
			var body strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				body.WriteString(l)
			}
			s.took(body.String(), false)
			reply("250 queued")
		case strings.HasPrefix(cmd, "BDAT ") && strings.HasSuffix(cmd, " LAST"):
			var n int
			if _, err := fmt.Sscanf(cmd, "BDAT %d LAST", &n); err != nil {
				reply("501 bad chunk size")
				break
			}
			// The chunk is read whatever the replies before it.
			chunk := make([]byte, n)
			if _, err := io.ReadFull(r, chunk); err != nil {
				return
			}
			if !rcptOK {
				reply("554 no valid recipients")
				break
			}
			s.took(string(chunk), true)
			reply("250 queued")
		case cmd == "QUIT":
			reply("221 bye")
			w.Flush()
			return
		default:
			reply("250 ok")
		}
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
}

func (s *Server) took(body string, chunked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Messages++
	if chunked {
		s.st.Chunked++
	}
	s.st.Bodies = append(s.st.Bodies, body)
}

func peek(r *bufio.Reader) string {
	b, _ := r.Peek(r.Buffered())
	return strings.ToUpper(string(b))
}
