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
//     to a running SMTP server (a local Mailpit), against raw SMTP sends of
//     one fixed message over as many connections;
//   - broadcast: personalized messages rendered and enqueued per second,
//     against enqueue alone and render alone.
func benchDeliver(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench deliver", flag.ContinueOnError)
	smtpAddr := fs.String("smtp", "", "host:port of a running SMTP server to send to, e.g. a local Mailpit (required for the SMTP figure; empty skips it)")
	n := fs.Int("n", 5000, "messages sent through SMTP (each way)")
	broadcast := fs.Int("broadcast", 100000, "personalized messages rendered and enqueued")
	batch := fs.Int("batch", 1000, "messages per enqueue call (one synced batch)")
	workers := fs.Int("workers", 8, "delivery workers, and SMTP connections of the baseline")
	conns := fs.Int("smtp-conns", 8, "connections of the SMTP adapter (as --smtp-conns of serve)")
	dir := fs.String("dir", "", "directory for the temporary store (default: a new temporary directory)")
	if help, err := parseBenchFlags(fs, args); help || err != nil {
		return err
	}
	if *n < 1 || *broadcast < 1 || *batch < 1 || *workers < 1 || *conns < 1 {
		return fmt.Errorf("%w: --n, --broadcast, --batch, --workers and --smtp-conns must be at least 1", errUsage)
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
		if err := benchSMTP(ctx, os.Stdout, filepath.Join(base, "smtp"), *smtpAddr, *n, *workers, *conns); err != nil {
			return err
		}
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

func benchSMTP(ctx context.Context, w io.Writer, dir, addr string, n, workers, conns int) error {
	ad, err := deliver.NewSMTP(deliver.SMTPOptions{Addr: addr, From: "Bench <bench@bench.example>", TLS: "none", MaxConns: conns})
	if err != nil {
		return err
	}
	defer ad.Close()
	// Baseline: one fixed message, raw net/smtp, one connection per worker.
	// The message is one the pipeline renders (same parts, same size), so
	// the difference is the pipeline, not the server's parsing.
	rendered, err := benchRenderer().Render(ctx, deliver.RenderRequest{Template: "order_confirmation", Profile: "p0", Data: map[string]any{"order_id": 0}, SendKey: "fixed", BaseURL: "http://bench.example"})
	if err != nil {
		return err
	}
	fixed, err := ad.Build(deliver.Envelope{Rendered: rendered, Key: "fixed"}, &mail.Address{Address: "raw@bench.example"}, time.Now())
	if err != nil {
		return err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			c, err := smtp.Dial(addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Quit()
			for next.Add(1) <= int64(n) {
				if err := c.Mail("bench@bench.example"); err != nil {
					errs <- err
					return
				}
				if err := c.Rcpt("raw@bench.example"); err != nil {
					errs <- err
					return
				}
				dw, err := c.Data()
				if err != nil {
					errs <- err
					return
				}
				dw.Write(fixed)
				if err := dw.Close(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("raw SMTP baseline: %w", err)
	}
	raw := float64(n) / time.Since(start).Seconds()

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
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	start = time.Now()
	go func() { e.Run(rctx); close(done) }()
	for q.Depth() > 0 && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
	took := time.Since(start)
	cancel()
	<-done
	fmt.Fprintf(w, "smtp: %d personalized messages through outbox, policy, render and the SMTP adapter (%d workers, %d connections) in %v: %.0f messages/s\n", n, workers, conns, took.Round(time.Millisecond), float64(n)/took.Seconds())
	fmt.Fprintf(w, "smtp baseline: %d raw sends of one fixed message (a rendered one, %d bytes) over %d connections: %.0f messages/s (deliver reaches %.0f%% of it)\n", n, len(fixed), workers, raw, 100*float64(n)/took.Seconds()/raw)
	return nil
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
