package deliver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSMTP is a minimal SMTP server: it offers PIPELINING and CHUNKING
// when told, refuses recipients at reject.example with 550, and counts
// connections and messages.
type fakeSMTP struct {
	ln         net.Listener
	pipelining bool
	chunking   bool

	mu              sync.Mutex
	open, maxOpen   int
	conns, messages int
	bodies          []string
	grouped         int // MAIL, RCPT and DATA (or BDAT) that arrived in one read
	chunked         int // messages that came in BDAT chunks
}

func newFakeSMTP(t *testing.T, pipelining, chunking bool) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMTP{ln: ln, pipelining: pipelining, chunking: chunking}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakeSMTP) serve(c net.Conn) {
	defer c.Close()
	f.mu.Lock()
	f.open++
	f.conns++
	f.maxOpen = max(f.maxOpen, f.open)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.open--; f.mu.Unlock() }()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	reply := func(s string) { w.WriteString(s + "\r\n") }
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
			if f.pipelining {
				reply("250-PIPELINING")
			}
			if f.chunking {
				reply("250-CHUNKING")
			}
			reply("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL FROM"):
			if r.Buffered() > 0 && (strings.Contains(peek(r), "DATA") || strings.Contains(peek(r), "BDAT")) {
				f.mu.Lock()
				f.grouped++
				f.mu.Unlock()
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
			f.mu.Lock()
			f.messages++
			f.bodies = append(f.bodies, body.String())
			f.mu.Unlock()
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
			f.mu.Lock()
			f.messages++
			f.chunked++
			f.bodies = append(f.bodies, string(chunk))
			f.mu.Unlock()
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

func peek(r *bufio.Reader) string {
	b, _ := r.Peek(r.Buffered())
	return strings.ToUpper(string(b))
}

// Concurrent sends share at most MaxConns connections, reused from
// message to message; with PIPELINING a message's MAIL, RCPT and DATA go
// in one write, with CHUNKING too MAIL, RCPT and the message as one BDAT
// chunk; a refused recipient is a bounce and the connection after it
// works.
func TestSMTPSendsOnFewConnectionsPipelined(t *testing.T) {
	for _, ext := range []struct{ pipelining, chunking bool }{{false, false}, {true, false}, {true, true}, {false, true}} {
		pipelining := ext.pipelining
		t.Run(fmt.Sprintf("pipelining=%v,chunking=%v", ext.pipelining, ext.chunking), func(t *testing.T) {
			f := newFakeSMTP(t, ext.pipelining, ext.chunking)
			s, err := NewSMTP(SMTPOptions{Addr: f.ln.Addr().String(), From: "Shop <news@shop.example>", TLS: "none", MaxConns: 3})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const n = 60
			send := func(i int, domain string) error {
				_, err := s.Send(context.Background(), Envelope{Rendered: Rendered{To: fmt.Sprintf("p%d@%s", i, domain), Subject: "hi", Text: "hello ." + fmt.Sprint(i)}, Key: fmt.Sprint("k", i)})
				return err
			}
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() { errs[i] = send(i, "example.com") })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("send %d: %v", i, err)
				}
			}
			// A refused recipient is a bounce; its connection is dropped
			// and the next message goes on a good one.
			if err := send(n, "reject.example"); !isBounce(err) {
				t.Errorf("send to a refused recipient: %v, want a bounce", err)
			}
			if err := send(n+1, "example.com"); err != nil {
				t.Errorf("send after a bounce: %v", err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.messages != n+1 {
				t.Errorf("server took %d messages, want %d", f.messages, n+1)
			}
			if f.maxOpen > 3 {
				t.Errorf("%d connections open at once, want at most MaxConns 3", f.maxOpen)
			}
			if f.conns > 3+1 {
				t.Errorf("%d connections for %d messages, want them reused (at most 4)", f.conns, n+2)
			}
			if pipelining && f.grouped < n+1 {
				t.Errorf("%d of %d transactions pipelined", f.grouped, n+2)
			}
			if !pipelining && f.grouped != 0 {
				t.Errorf("%d transactions pipelined to a server without PIPELINING", f.grouped)
			}
			// BDAT only where commands may be pipelined: without it the
			// chunk would wait for MAIL's and RCPT's replies anyway.
			wantChunked := 0
			if ext.pipelining && ext.chunking {
				wantChunked = n + 1
			}
			if f.chunked != wantChunked {
				t.Errorf("%d messages in BDAT chunks, want %d", f.chunked, wantChunked)
			}
			for _, b := range f.bodies {
				if !strings.Contains(b, "Message-Id: <") && !strings.Contains(b, "Message-ID: <") {
					t.Errorf("message without its Message-ID:\n%s", b)
					break
				}
			}
		})
	}
}

// A message sent in a BDAT chunk is the built message byte for byte: CRLF
// line ends, a line starting with a dot not doubled (a chunk has no dot
// stuffing), nothing after it; and after a recipient refused in the same
// write the server has read the whole chunk, so the next message on a
// connection arrives whole.
func TestSMTPChunkIsTheBuiltMessage(t *testing.T) {
	f := newFakeSMTP(t, true, true)
	s, err := NewSMTP(SMTPOptions{Addr: f.ln.Addr().String(), From: "Shop <news@shop.example>", TLS: "none", MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Longer than the connection's 4 KiB write buffer: the chunk goes out
	// in several writes.
	long := strings.Repeat("a line of the long part of the message\n", 200)
	env := Envelope{Rendered: Rendered{To: "ann@example.com", Subject: "Grüße", Text: "first line\n.a line that starts with a dot\n..and two\n" + long + "last"}, Key: "k1"}
	if _, err := s.Send(context.Background(), Envelope{Rendered: Rendered{To: "bob@reject.example", Subject: "x", Text: "refused"}, Key: "k0"}); !isBounce(err) {
		t.Fatalf("send to a refused recipient: %v, want a bounce", err)
	}
	if _, err := s.Send(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.messages != 1 || f.chunked != 1 {
		t.Fatalf("server took %d messages, %d chunked, want the one after the refused one", f.messages, f.chunked)
	}
	got := f.bodies[0]
	to, _ := mail.ParseAddress(env.To)
	want, err := s.Build(env, to, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Equal but for the Date header, built a moment apart.
	date := regexp.MustCompile(`(?m)^Date: [^\r]*\r$`)
	if date.ReplaceAllString(got, "Date: -\r") != date.ReplaceAllString(string(want), "Date: -\r") {
		t.Errorf("chunk:\n%q\nwant the built message:\n%q", got, want)
	}
	if strings.Contains(strings.ReplaceAll(got, "\r\n", ""), "\n") {
		t.Errorf("chunk holds a bare line feed:\n%q", got)
	}
	if !strings.Contains(got, "\r\n.a line that starts with a dot") || strings.Contains(got, "\r\n..a line") {
		t.Errorf("the dotted line was changed:\n%q", got)
	}
}
