package deliver

import (
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"tailor/internal/deliver/smtptest"
)

// Concurrent sends share at most MaxConns connections, reused from
// message to message; with PIPELINING a message's MAIL, RCPT and DATA go
// in one write, with CHUNKING too MAIL, RCPT and the message as one BDAT
// chunk; a refused recipient is a bounce and the connection after it
// works.
func TestSMTPSendsOnFewConnectionsPipelined(t *testing.T) {
	for _, ext := range []struct{ pipelining, chunking bool }{{false, false}, {true, false}, {true, true}, {false, true}} {
		pipelining := ext.pipelining
		t.Run(fmt.Sprintf("pipelining=%v,chunking=%v", ext.pipelining, ext.chunking), func(t *testing.T) {
			f := smtptest.New(t, ext.pipelining, ext.chunking)
			s, err := NewSMTP(SMTPOptions{Addr: f.Addr(), From: "Shop <news@shop.example>", TLS: "none", MaxConns: 3})
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
			st := f.Stats()
			if st.Messages != n+1 {
				t.Errorf("server took %d messages, want %d", st.Messages, n+1)
			}
			if st.MaxOpen > 3 {
				t.Errorf("%d connections open at once, want at most MaxConns 3", st.MaxOpen)
			}
			if st.Conns > 3+1 {
				t.Errorf("%d connections for %d messages, want them reused (at most 4)", st.Conns, n+2)
			}
			if pipelining && st.Grouped < n+1 {
				t.Errorf("%d of %d transactions pipelined", st.Grouped, n+2)
			}
			if !pipelining && st.Grouped != 0 {
				t.Errorf("%d transactions pipelined to a server without PIPELINING", st.Grouped)
			}
			// BDAT only where commands may be pipelined: without it the
			// chunk would wait for MAIL's and RCPT's replies anyway.
			wantChunked := 0
			if ext.pipelining && ext.chunking {
				wantChunked = n + 1
			}
			if st.Chunked != wantChunked {
				t.Errorf("%d messages in BDAT chunks, want %d", st.Chunked, wantChunked)
			}
			for _, b := range st.Bodies {
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
	f := smtptest.New(t, true, true)
	s, err := NewSMTP(SMTPOptions{Addr: f.Addr(), From: "Shop <news@shop.example>", TLS: "none", MaxConns: 1})
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
	st := f.Stats()
	if st.Messages != 1 || st.Chunked != 1 {
		t.Fatalf("server took %d messages, %d chunked, want the one after the refused one", st.Messages, st.Chunked)
	}
	got := st.Bodies[0]
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
