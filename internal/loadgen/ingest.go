package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// IngestConfig configures `tailor bench ingest`.
type IngestConfig struct {
	Target      string        // base URL of the server, e.g. http://127.0.0.1:8080
	WriteKey    string        // sent as the HTTP Basic user name
	Duration    time.Duration // of the measured run against Target
	Batch       int           // messages per request; 1 posts to /v1/{type}, more to /v1/batch
	Concurrency int           // workers, each with one request in flight: with Rate, the cap
	Rate        float64       // events/s started on a fixed schedule (see pacer); 0 sends as fast as acks come back
	Customers   int           // demo customers (when Source is nil)
	Ceiling     time.Duration // run first against an in-process do-nothing server; 0 skips it
	MetricsURL  string        // "" means Target + "/metrics"; "none" disables lag sampling

	Source         Source        // default DemoSource(Customers)
	MaxMessages    int           // corpus limit, default DefaultMaxMessages
	MaxBytes       int           // corpus limit, default DefaultMaxBytes
	RequestTimeout time.Duration // default 30s
	DrainTimeout   time.Duration // how long to wait for the processor lag to reach 0; default 60s
	Progress       io.Writer     // per-second progress lines and notes; nil discards
}

func (c *IngestConfig) defaults() error {
	if c.Duration <= 0 {
		return fmt.Errorf("duration must be positive, got %s", c.Duration)
	}
	if c.Batch < 1 || c.Concurrency < 1 {
		return fmt.Errorf("batch and concurrency must be at least 1, got %d and %d", c.Batch, c.Concurrency)
	}
	if math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0 {
		return fmt.Errorf("rate must be a number of events per second, 0 or more, got %g", c.Rate)
	}
	if c.Rate > 0 && c.Duration.Seconds()*c.Rate < float64(c.Batch) {
		return fmt.Errorf("rate %g events/s in batches of %d starts one request every %s; the duration (%s) must be at least that",
			c.Rate, c.Batch, time.Duration(float64(c.Batch)/c.Rate*1e9).Round(time.Millisecond), c.Duration)
	}
	if c.Ceiling < 0 {
		return fmt.Errorf("ceiling must not be negative, got %s", c.Ceiling)
	}
	if c.Source == nil {
		if c.Customers < 1 {
			return fmt.Errorf("customers must be at least 1, got %d", c.Customers)
		}
		c.Source = DemoSource(c.Customers)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 60 * time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return nil
}

// IngestReport is what `tailor bench ingest` measured.
type IngestReport struct {
	Corpus  *Corpus
	Ceiling *Result    // nil when skipped
	Target  *Result    // nil if the ceiling run was interrupted
	Lag     *LagReport // nil when the metrics endpoint did not answer
}

// RunIngest pre-renders the bodies, runs the ceiling measurement (unless
// disabled), then the measured run against the target, then waits for the
// processor lag to drain. A cancelled ctx ends the current run early; the
// report then holds what was measured and the error is ctx's.
func RunIngest(ctx context.Context, cfg IngestConfig) (*IngestReport, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	target, err := parseTarget(cfg.Target)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	corpus, err := BuildCorpus(CorpusConfig{Source: cfg.Source, Batch: cfg.Batch, MaxMessages: cfg.MaxMessages, MaxBytes: cfg.MaxBytes})
	if err != nil {
		return nil, fmt.Errorf("pre-render bodies: %w", err)
	}
	fmt.Fprintf(cfg.Progress, "bench: pre-rendered %d messages in %d bodies (%.1f MB) in %.1fs, run id %s\n",
		corpus.Messages(), corpus.Bodies(), float64(corpus.Bytes())/1e6, time.Since(began).Seconds(), corpus.RunID)
	rep := &IngestReport{Corpus: corpus}

	var lag *lagSampler
	if cfg.MetricsURL != "none" {
		mu := cfg.MetricsURL
		if mu == "" {
			mu = target.String() + "/metrics"
		}
		lag = newLagSampler(mu)
		switch g, err := lag.fetch(ctx); {
		case err != nil:
			fmt.Fprintf(cfg.Progress, "bench: no processor lag figures: %v\n", err)
			lag = nil
		case g.events > 0:
			fmt.Fprintf(cfg.Progress, "bench: note: the server is still applying %.0f events from before this run\n", g.events)
		}
	}

	if cfg.Ceiling > 0 {
		srv, err := startNullServer()
		if err != nil {
			return rep, fmt.Errorf("ceiling server: %w", err)
		}
		base, _ := parseTarget(srv.url)
		rep.Ceiling = runHTTP(ctx, "ceiling", base, cfg, corpus, cfg.Ceiling, 0, nil)
		srv.close()
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if c := rep.Ceiling.EventsPerSec(); cfg.Rate > c {
			fmt.Fprintf(cfg.Progress, "bench: note: the asked rate %.0f events/s is above what this load generator reached against a do-nothing server (%.0f events/s); requests will start late\n", cfg.Rate, c)
		}
	}

	if lag == nil {
		rep.Target = runHTTP(ctx, "target", target, cfg, corpus, cfg.Duration, cfg.Rate, nil)
	} else {
		// A failed reading only loses the CPU figure and the first
		// second's filing.
		start, err := lag.fetch(ctx)
		if err == nil {
			lag.seed(start)
		}
		pctx, stopPoll := context.WithCancel(ctx)
		polled := make(chan struct{})
		if cfg.Progress == nil {
			go func() { defer close(polled); lag.poll(pctx, time.Second) }()
		} else {
			close(polled) // each second's progress line takes the reading
		}
		progress := func(sec *HistSnapshot) string { return lag.progress(ctx, sec) }
		rep.Target = runHTTP(ctx, "target", target, cfg, corpus, cfg.Duration, cfg.Rate, progress)
		stopped := time.Now()
		stopPoll()
		<-polled
		rep.Lag = lag.drain(ctx, start, stopped, cfg.DrainTimeout)
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if rep.Target.Events == 0 {
		return rep, fmt.Errorf("the target acknowledged no event (%s)", rep.Target.errorSummary())
	}
	return rep, nil
}

func parseTarget(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("target %q: want an http:// or https:// URL", s)
	}
	return u, nil
}

// runHTTP runs one timed load against base with a fresh client and cursor,
// paced at rate events/s unless rate is 0.
func runHTTP(ctx context.Context, name string, base *url.URL, cfg IngestConfig, corpus *Corpus, d time.Duration, rate float64, extra func(sec *HistSnapshot) string) *Result {
	l := newHTTPLoad(base, cfg, corpus)
	defer l.close()
	if rate > 0 {
		l.pace = newPacer(rate, cfg.Batch, d)
	}
	r := run(ctx, runSpec{
		name:        name,
		duration:    d,
		concurrency: cfg.Concurrency,
		progress:    cfg.Progress,
		work:        l.work,
		pace:        l.pace,
		extra:       extra,
	})
	r.Stalls = l.cur.stalls.Load()
	return r
}

// httpLoad is what every worker of one HTTP run shares, all prepared before
// the clock starts.
type httpLoad struct {
	client *http.Client
	urls   []*url.URL // by path index
	header http.Header
	cur    *cursor
	pace   *pacer // nil: unpaced
}

func newHTTPLoad(base *url.URL, cfg IngestConfig, corpus *Corpus) *httpLoad {
	transport := &http.Transport{
		Proxy: nil, // measure the server, not a proxy
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        cfg.Concurrency,
		MaxIdleConnsPerHost: cfg.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      16 << 10,
	}
	l := &httpLoad{
		client: &http.Client{Transport: transport, Timeout: cfg.RequestTimeout},
		header: http.Header{
			"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.WriteKey+":"))},
			"Content-Type":  {"application/json"},
			"User-Agent":    {"tailor-bench"},
		},
		cur: newCursor(corpus),
	}
	for _, p := range paths {
		u := *base
		u.Path = strings.TrimRight(base.Path, "/") + p
		l.urls = append(l.urls, &u)
	}
	return l
}

func (l *httpLoad) close() {
	l.cur.close()
	l.client.CloseIdleConnections()
}

// work is one worker's loop.
func (l *httpLoad) work(w *workerStats, errs *errorLog, stop *stopSignal) {
	buf := make([]byte, 4096)
	if l.pace == nil {
		for !stop.stopped() {
			l.send(w, errs, buf, time.Time{})
		}
		return
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for idle := l.pace.start; !stop.stopped(); idle = time.Now() {
		due, ok := l.pace.wait(w, stop, timer, idle)
		if !ok {
			return
		}
		l.send(w, errs, buf, due)
	}
}

// send posts the next body and records the outcome. buf receives the start of
// the answer (to read "accepted" counts and error bodies). Latency counts from
// due, a paced request's scheduled start, or else from now. It allocates only
// what a request needs: the http.Request, its body reader, the GetBody
// closure, and the transport's per-request state; never the body itself.
func (l *httpLoad) send(w *workerStats, errs *errorLog, buf []byte, due time.Time) {
	ls := l.cur.body()
	defer l.cur.release(ls)
	body, events := ls.body, ls.events
	u := l.urls[ls.path]
	req := &http.Request{
		Method:        http.MethodPost,
		URL:           u,
		Host:          u.Host,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        l.header, // shared, read-only
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		// GetBody lets the transport resend a request that found its idle
		// connection closed before anything was written.
		GetBody: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
	}
	start := due
	if start.IsZero() {
		start = time.Now()
	}
	resp, err := l.client.Do(req)
	if err != nil {
		w.errors.Add(1)
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the same failure on every path counts as one sample
		}
		errs.add("transport", err.Error())
		time.Sleep(10 * time.Millisecond) // a down server must not spin the CPU
		return
	}
	n, err := readAnswer(resp.Body, buf)
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil {
		w.errors.Add(1)
		errs.add("transport", "reading the answer: "+err.Error())
		return
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		w.errors.Add(1)
		errs.add("status "+strconv.Itoa(resp.StatusCode), strings.TrimSpace(string(buf[:n])))
		return
	}
	acked := acceptedEvents(buf[:n], events)
	w.hist.Record(elapsed)
	w.requests.Add(1)
	w.events.Add(uint64(acked))
	if acked < events {
		w.rejected.Add(uint64(events - acked))
	}
}

// readAnswer reads the first len(buf) bytes of an answer into buf and
// discards the rest, so the connection can be reused.
func readAnswer(r io.Reader, buf []byte) (int, error) {
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return n, nil
	case err != nil:
		return n, err
	}
	_, err = io.Copy(io.Discard, r)
	return n, err
}

// acceptedEvents returns how many of a request's events a 2xx answer
// accepted: all of them, unless the answer reports rejected messages
// (`{"success":true,"accepted":N,"rejected":[...]}`).
func acceptedEvents(answer []byte, events int) int {
	i := bytes.Index(answer, []byte(`"accepted":`))
	if i < 0 {
		return events
	}
	rest := bytes.TrimLeft(answer[i+len(`"accepted":`):], " ")
	n := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return min(n, events)
}

// nullServer is the do-nothing server of the ceiling measurement.
type nullServer struct {
	url string
	srv *http.Server
	ln  net.Listener
}

var nullAnswer = []byte(`{"success":true}`)

func startNullServer() (*nullServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &nullServer{url: "http://" + ln.Addr().String(), ln: ln}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Write(nullAnswer)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *nullServer) close() { s.srv.Close() }

// WriteSummary prints the final lines; the last one is "<N> events/s" for the
// target run.
func (r *IngestReport) WriteSummary(w io.Writer) {
	if c := r.Ceiling; c != nil {
		fmt.Fprintf(w, "ceiling (do-nothing server): %.0f events/s, p99 %s%s\n",
			c.EventsPerSec(), fmtDur(c.Latency.Quantile(0.99)), c.notes())
	}
	t := r.Target
	if t == nil {
		return
	}
	for _, s := range t.Samples {
		fmt.Fprintf(w, "target error: %.300s\n", s)
	}
	var line string
	if t.Rate > 0 {
		fmt.Fprintln(w, "target pacing: "+t.pacingSummary())
		line = fmt.Sprintf("target: offered %.0f events/s, achieved %.0f events/s over %.1fs (%.0f req/s), ack from scheduled start %s, %s",
			t.Rate, t.EventsPerSec(), t.Elapsed.Seconds(), t.RequestsPerSec(), t.latencySummary(), t.errorSummary())
	} else {
		line = fmt.Sprintf("target: %.0f events/s over %.1fs (%.0f req/s), ack %s, %s",
			t.EventsPerSec(), t.Elapsed.Seconds(), t.RequestsPerSec(), t.latencySummary(), t.errorSummary())
	}
	if t.Rejected > 0 {
		line += fmt.Sprintf(", %d events rejected", t.Rejected)
	}
	if r.Lag != nil {
		line += ", " + r.Lag.String()
	}
	fmt.Fprintln(w, line+t.notes())
	fmt.Fprintf(w, "%.0f events/s\n", t.EventsPerSec())
}

// notes flags conditions that make a figure less trustworthy.
func (r *Result) notes() string {
	s := ""
	if r.Stalls > 0 {
		s += fmt.Sprintf(" [workers waited %d times for bodies to be rendered]", r.Stalls)
	}
	if n := r.lateOrUnstarted(); n > 0 {
		s += fmt.Sprintf(" [%d of %d scheduled requests started late or never: see pacing]", n, r.Scheduled)
	}
	if r.Interrupted {
		s += " [interrupted]"
	}
	return s
}

func (r *Result) lateOrUnstarted() uint64 {
	if r.LateStarts == nil {
		return 0
	}
	return r.LateStarts.N + r.Unstarted()
}

// pacingSummary is how a paced run kept its schedule, e.g. "24000 requests
// came due; 120 started late because the concurrency cap (8 in flight) was
// reached, by p50 1.20ms p99 30.0ms max 45.0ms, 3 never started; the others
// started p50 0.66ms p99 1.90ms after their time (the generator's timer)".
func (r *Result) pacingSummary() string {
	s := fmt.Sprintf("%d requests came due", r.Scheduled)
	if h := r.LateStarts; h.N == 0 {
		s += "; none started late"
	} else {
		s += fmt.Sprintf("; %d started late because the concurrency cap (%d in flight) was reached, by p50 %s p99 %s max %s",
			h.N, r.Concurrency, fmtDur(h.Quantile(0.5)), fmtDur(h.Quantile(0.99)), fmtDur(time.Duration(h.Max)))
	}
	if n := r.Unstarted(); n > 0 {
		s += fmt.Sprintf(", %d never started", n)
	}
	if h := r.StartLag; h.N > 0 {
		s += fmt.Sprintf("; the others started p50 %s p99 %s after their time (the generator's timer)",
			fmtDur(h.Quantile(0.5)), fmtDur(h.Quantile(0.99)))
	}
	return s
}
