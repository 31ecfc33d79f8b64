package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"net/smtp"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"tailor/internal/deliver"
	"tailor/internal/outbox"
	"tailor/internal/store"
)

// benchDeliver measures delivery in process, each figure beside a baseline
// of the same run:
//   - SMTP: messages/s through the outbox, workers, renderer and SMTP adapter
//     to a running SMTP server (a local Mailpit, or postfix through
//     scripts/postfix-bench.sh), against raw SMTP sends of one fixed message
//     over as many connections;
//   - broadcast: personalized messages rendered and enqueued per second,
//     against enqueue alone and render alone.
func benchDeliver(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench deliver", flag.ContinueOnError)
	smtpAddr := fs.String("smtp", "", "host:port of a running SMTP server to send to, e.g. a local Mailpit (required for the SMTP figure; empty skips it)")
	n := fs.Int("n", 5000, "messages sent through SMTP (each way)")
	broadcast := fs.Int("broadcast", 100000, "personalized messages rendered and enqueued (0 skips the broadcast figures)")
	batch := fs.Int("batch", 1000, "messages per enqueue call (one synced batch)")
	workers := fs.Int("workers", 8, "delivery workers")
	conns := fs.Int("smtp-conns", 8, "connections of the SMTP adapter (as --smtp-conns of serve), and of the raw baseline")
	dir := fs.String("dir", "", "directory for the temporary store (default: a new temporary directory)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the SMTP pipeline's run (not the baseline's) to this file")
	if help, err := parseBenchFlags(fs, args); help || err != nil {
		return err
	}
	if *n < 1 || *batch < 1 || *workers < 1 || *conns < 1 {
		return fmt.Errorf("%w: --n, --batch, --workers and --smtp-conns must be at least 1", errUsage)
	}
	if *broadcast < 0 {
		return fmt.Errorf("%w: --broadcast must be at least 0 (0 skips the broadcast figures)", errUsage)
	}
	base := *dir
	if base == "" {
		d, err := os.MkdirTemp("", "tailor-bench-deliver-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		base = d
	}
	if *smtpAddr != "" {
		if err := benchSMTP(ctx, os.Stdout, filepath.Join(base, "smtp"), *smtpAddr, *n, *workers, *conns, *cpuprofile); err != nil {
			return err
		}
	}
	if *broadcast == 0 {
		return nil
	}
	return benchBroadcast(ctx, os.Stdout, filepath.Join(base, "broadcast"), *broadcast, *batch)
}

// benchTraits are the traits the bench renders against.
func benchTraits(id string) (map[string]any, bool) {
	return map[string]any{"email": id + "@bench.example", "first_name": "Customer " + id}, true
}

func benchRenderer() *deliver.BasicRenderer {
	return &deliver.BasicRenderer{Traits: benchTraits, Secret: []byte("bench"), Templates: deliver.BasicTemplates}
}

func benchSMTP(ctx context.Context, w io.Writer, dir, addr string, n, workers, conns int, cpuprofile string) error {
	ad, err := deliver.NewSMTP(deliver.SMTPOptions{Addr: addr, From: "Bench <bench@bench.example>", TLS: "none", MaxConns: conns})
	if err != nil {
		return err
	}
	defer ad.Close()
	// Baseline: one fixed message over as many connections as the adapter
	// has, speaking the same protocol (PIPELINING and CHUNKING when
	// offered). The
	// message is one the pipeline renders (same parts, same size), so the
	// difference is the pipeline, not the server's parsing or the wire.
	rendered, err := benchRenderer().Render(ctx, deliver.RenderRequest{Template: "order_confirmation", Profile: "p0", Data: map[string]any{"order_id": 0}, SendKey: "fixed", BaseURL: "http://bench.example"})
	if err != nil {
		return err
	}
	fixed, err := ad.Build(deliver.Envelope{Rendered: rendered, Key: "fixed"}, &mail.Address{Address: "raw@bench.example"}, time.Now())
	if err != nil {
		return err
	}
	cpu0, cpuOK := processCPU()
	start := time.Now()
	wire, err := rawSMTP(addr, n, conns, fixed)
	if err != nil {
		return fmt.Errorf("raw SMTP baseline: %w", err)
	}
	rawTook := time.Since(start)
	cpu1, _ := processCPU()

	db, err := store.Open(filepath.Join(dir, "pebble"), 64<<20)
	if err != nil {
		return err
	}
	defer db.Close()
	q, err := outbox.Open(db)
	if err != nil {
		return err
	}
	msgs := make([]outbox.Message, n)
	for i := range msgs {
		msgs[i] = outbox.Message{Key: fmt.Sprint("bench-", i), Profile: fmt.Sprint("p", i), Channel: "email", Purpose: outbox.PurposeTransactional, Template: "order_confirmation", Data: map[string]any{"order_id": i}}
	}
	if err := q.Enqueue(ctx, msgs); err != nil {
		return err
	}
	e := deliver.New(deliver.Options{Queue: q, Renderer: benchRenderer(), Adapters: map[string]deliver.Adapter{"email": ad}, Workers: workers, BaseURL: "http://bench.example"})
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return fmt.Errorf("bench deliver: --cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench deliver: --cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	cpu2, _ := processCPU()
	start = time.Now()
	go func() { e.Run(rctx); close(done) }()
	for q.Depth() > 0 && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
	took := time.Since(start)
	cpu3, _ := processCPU()
	cancel()
	<-done
	if err := ctx.Err(); err != nil {
		return err
	}
	perMsg := func(d time.Duration) string {
		if !cpuOK {
			return ""
		}
		return fmt.Sprintf(", %v of this process's CPU a message", (d / time.Duration(n)).Round(time.Microsecond))
	}
	rate, rawRate := float64(n)/took.Seconds(), float64(n)/rawTook.Seconds()
	fmt.Fprintf(w, "smtp: %d personalized messages through outbox, policy, render and the SMTP adapter (%d workers, %d connections) in %v: %.0f messages/s%s\n", n, workers, conns, took.Round(time.Millisecond), rate, perMsg(cpu3-cpu2))
	fmt.Fprintf(w, "smtp baseline: %d raw sends of one fixed message (a rendered one, %d bytes) over %d connections (%s) in %v: %.0f messages/s%s\n", n, len(fixed), conns, wire, rawTook.Round(time.Millisecond), rawRate, perMsg(cpu1-cpu0))
	fmt.Fprintf(w, "smtp ratio: deliver reaches %.0f%% of the raw rate\n", 100*rate/rawRate)
	return nil
}

// The ways rawSMTP speaks, as the adapter picks them from the server's
// extensions.
const (
	wireOneAtATime = "one command a round trip"
	wirePipelined  = "MAIL, RCPT and DATA pipelined"
	wireChunked    = "MAIL, RCPT and BDAT with the message in one write"
)

// rawSMTP sends msg n times over conns connections, each reused from
// message to message, speaking as the adapter does: MAIL, RCPT and DATA in
// one write when the server offers PIPELINING, and the message as one BDAT
// chunk in that write when it offers CHUNKING too. wire says which.
func rawSMTP(addr string, n, conns int, msg []byte) (wire string, err error) {
	var next atomic.Int64
	var used atomic.Value
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Go(func() {
			c, err := smtp.Dial(addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Quit()
			if err := c.Hello("bench.example"); err != nil {
				errs <- err
				return
			}
			pipe, _ := c.Extension("PIPELINING")
			chunk, _ := c.Extension("CHUNKING")
			w := wireOneAtATime
			switch {
			case pipe && chunk:
				w = wireChunked
			case pipe:
				w = wirePipelined
			}
			used.Store(w)
			for next.Add(1) <= int64(n) {
				if err := rawSend(c, w, msg); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	wire, _ = used.Load().(string)
	return wire, <-errs
}

func rawSend(c *smtp.Client, wire string, msg []byte) error {
	t := c.Text
	switch wire {
	case wireChunked:
		fmt.Fprintf(t.W, "MAIL FROM:<bench@bench.example>\r\nRCPT TO:<raw@bench.example>\r\nBDAT %d LAST\r\n", len(msg))
		t.W.Write(msg)
		if err := t.W.Flush(); err != nil {
			return err
		}
		for range 3 {
			if _, _, err := t.ReadResponse(250); err != nil {
				return err
			}
		}
		return nil
	case wireOneAtATime:
		if err := c.Mail("bench@bench.example"); err != nil {
			return err
		}
		if err := c.Rcpt("raw@bench.example"); err != nil {
			return err
		}
		dw, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := dw.Write(msg); err != nil {
			return err
		}
		return dw.Close()
	}
	t.W.WriteString("MAIL FROM:<bench@bench.example>\r\nRCPT TO:<raw@bench.example>\r\nDATA\r\n")
	if err := t.W.Flush(); err != nil {
		return err
	}
	for _, code := range []int{250, 250, 354} {
		if _, _, err := t.ReadResponse(code); err != nil {
			return err
		}
	}
	dw := t.DotWriter()
	if _, err := dw.Write(msg); err != nil {
		return err
	}
	if err := dw.Close(); err != nil {
		return err
	}
	_, _, err := t.ReadResponse(250)
	return err
}

func benchBroadcast(ctx context.Context, w io.Writer, dir string, n, batch int) error {
	db, err := store.Open(filepath.Join(dir, "pebble"), 64<<20)
	if err != nil {
		return err
	}
	defer db.Close()
	q, err := outbox.Open(db)
	if err != nil {
		return err
	}
	r := benchRenderer()
	msg := func(i int, prefix string) outbox.Message {
		return outbox.Message{Key: fmt.Sprint(prefix, i), Profile: fmt.Sprint("p", i), Channel: "email", Template: "broadcast", Journey: "bench", Step: "s1"}
	}
	// Render alone.
	start := time.Now()
	for i := range n {
		if _, err := r.Render(ctx, deliver.RenderRequest{Template: "broadcast", Profile: fmt.Sprint("p", i), SendKey: fmt.Sprint("r-", i), BaseURL: "http://bench.example"}); err != nil {
			return err
		}
	}
	renderRate := float64(n) / time.Since(start).Seconds()
	// Enqueue alone.
	start = time.Now()
	for i := 0; i < n; i += batch {
		msgs := make([]outbox.Message, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			msgs = append(msgs, msg(j, "e-"))
		}
		if err := q.Enqueue(ctx, msgs); err != nil {
			return err
		}
	}
	enqRate := float64(n) / time.Since(start).Seconds()
	// Render and enqueue, as a broadcast does.
	start = time.Now()
	for i := 0; i < n; i += batch {
		msgs := make([]outbox.Message, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			if _, err := r.Render(ctx, deliver.RenderRequest{Template: "broadcast", Profile: fmt.Sprint("p", j), SendKey: fmt.Sprint("b-", j), BaseURL: "http://bench.example"}); err != nil {
				return err
			}
			msgs = append(msgs, msg(j, "b-"))
		}
		if err := q.Enqueue(ctx, msgs); err != nil {
			return err
		}
	}
	took := time.Since(start)
	fmt.Fprintf(w, "broadcast: %d personalized emails rendered and enqueued (batches of %d) in %v: %.0f messages/s\n", n, batch, took.Round(time.Millisecond), float64(n)/took.Seconds())
	fmt.Fprintf(w, "broadcast baselines: render alone %.0f messages/s, enqueue alone %.0f messages/s\n", renderRate, enqRate)
	// The queue lives on disk: the heap after a collection does not grow
	// with its depth, and a claim reads only the queue's head.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	start = time.Now()
	recs, _, err := q.Claim(time.Now(), 16)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "outbox: depth %d, Go heap in use %d MB, a claim of %d at that depth %v\n", q.Depth(), ms.HeapInuse>>20, len(recs), time.Since(start).Round(time.Microsecond))
	return nil
}
