package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tailor/internal/demo"
)

// The journey and template `bench journey --e2e` saves on the target.
const (
	e2eJourney  = "bench-e2e"
	e2eTemplate = "bench-e2e-hook"
	e2eTrigger  = "Bench Journey Trigger"
)

// benchJourneyE2E drives a running server with demo-shaped events at a
// paced rate, some of them triggers of a live journey whose one step is a
// webhook to a receiver in this process, and measures from each trigger's
// scheduled send to its webhook reaching the receiver: ingest, log,
// processor, journey engine, outbox, delivery worker and adapter, end to
// end, under that load.
func benchJourneyE2E(ctx context.Context, args []string) error {
	_, err := journeyE2E(ctx, args, os.Stdout)
	return err
}

// e2eReport is what a run of journeyE2E measured.
type e2eReport struct {
	Acked    int             // events acknowledged
	Latency  []time.Duration // trigger scheduled send -> webhook received
	Missing  int             // triggers acknowledged but not received
	Ceiling  float64         // events/s against a do-nothing server (0: not measured)
	Achieved float64         // events/s acknowledged by the target
}

func journeyE2E(ctx context.Context, args []string, out io.Writer) (*e2eReport, error) {
	fs := flag.NewFlagSet("bench journey --e2e", flag.ContinueOnError)
	target := fs.String("target", "", "base URL of the running server, e.g. http://127.0.0.1:8080 (required; start it with TAILOR_WEBHOOK_SECRET set, so that it has the webhook channel)")
	writeKey := fs.String("write-key", os.Getenv("TAILOR_WRITE_KEY"), "write key [TAILOR_WRITE_KEY] (required)")
	adminToken := fs.String("admin-token", os.Getenv("TAILOR_ADMIN_TOKEN"), "admin token, to save the bench's template and journey [TAILOR_ADMIN_TOKEN] (required)")
	rate := fs.Float64("rate", 10000, "offered load in events per second, triggers included")
	duration := fs.Duration("duration", 20*time.Second, "length of the measured run")
	batch := fs.Int("batch", 100, "events per request (/v1/batch); each request carries one trigger")
	concurrency := fs.Int("concurrency", 16, "requests in flight at most")
	customers := fs.Int("customers", 5000, "demo customers whose events are replayed as the load")
	ceiling := fs.Duration("ceiling", 5*time.Second, "first measure this load generator against an in-process do-nothing server for this long; 0 skips it")
	listen := fs.String("listen", "127.0.0.1:0", "address of the webhook receiver (the target must reach it)")
	if help, err := parseBenchFlags(fs, args); help || err != nil {
		return nil, err
	}
	switch {
	case *target == "" || *writeKey == "" || *adminToken == "":
		return nil, fmt.Errorf("%w: --target, --write-key and --admin-token are required", errUsage)
	case !(*rate > 0) || *duration <= 0 || *batch < 1 || *concurrency < 1 || *customers < 1 || *ceiling < 0:
		return nil, fmt.Errorf("%w: --rate, --duration, --batch, --concurrency and --customers must be positive, --ceiling not negative", errUsage)
	}
	base := strings.TrimRight(*target, "/")

	rcv := &e2eReceiver{sent: map[string]time.Time{}}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	hs := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	hookURL := "http://" + ln.Addr().String() + "/hook"

	rep := &e2eReport{}
	requests := int(*rate*duration.Seconds())/(*batch) + 1
	began := time.Now()
	bodies, err := e2eBodies(*customers, *batch, requests)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "pre-rendered %d requests of %d demo events in %.1fs\n", len(bodies), *batch-1, time.Since(began).Seconds())

	if *ceiling > 0 {
		null := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Write([]byte(`{"success":true}`))
		})}
		nl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		go null.Serve(nl)
		g := newE2EGen("http://"+nl.Addr().String(), *writeKey, bodies, *batch, *concurrency, nil)
		res := g.run(ctx, 0, *ceiling)
		null.Close()
		rep.Ceiling = res.perSec()
		fmt.Fprintf(out, "ceiling (this load generator against a do-nothing server, unpaced): %.0f events/s\n", res.perSec())
		if c := res.perSec(); c < *rate {
			fmt.Fprintf(out, "  note: the asked rate %.0f events/s is above that ceiling; requests will start late\n", *rate)
		}
	}

	if err := e2eSetup(ctx, base, *adminToken, hookURL); err != nil {
		return nil, err
	}
	g := newE2EGen(base, *writeKey, bodies, *batch, *concurrency, rcv)
	res := g.run(ctx, *rate, *duration)
	if res.acked == 0 {
		return nil, fmt.Errorf("the target acknowledged no event (%d requests failed; last error: %v)", res.failed, res.lastErr)
	}
	// Let the last triggers come through.
	end := time.Now().Add(30 * time.Second)
	for rcv.pending() > 0 && time.Now().Before(end) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	lat, missing := rcv.result()
	fmt.Fprintf(out, "offered %.0f events/s for %s: acknowledged %d events (%.0f/s), %d requests failed, %d started more than 5 ms late; ack p50 %s p99 %s\n",
		*rate, *duration, res.acked, res.perSec(), res.failed, res.late, pct(res.ack, 50), pct(res.ack, 99))
	fmt.Fprintf(out, "trigger scheduled send -> webhook at the receiver: %d triggers, p50 %s p90 %s p99 %s max %s; %d not received within 30s of the end\n",
		len(lat), pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100), missing)
	if err := e2eBreakdown(ctx, base, *adminToken, rcv, out); err != nil {
		fmt.Fprintf(out, "no breakdown by stage: %v\n", err)
	}
	rep.Acked, rep.Latency, rep.Missing, rep.Achieved = res.acked, lat, missing, res.perSec()
	return rep, interrupted(ctx.Err())
}

// e2eBreakdown splits the latency of a sample of triggers by stage, from
// what the server recorded: the trigger's received_at on the profile's
// timeline and its message's creation in the outbox.
func e2eBreakdown(ctx context.Context, base, token string, rcv *e2eReceiver, out io.Writer) error {
	rcv.mu.Lock()
	keys := slices.Clone(rcv.keys)
	rcv.mu.Unlock()
	const sample = 400
	if len(keys) == 0 {
		return errors.New("no trigger came back")
	}
	get := func(path string, v any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}
	var ingest, engine, deliver []time.Duration
	for i := 0; i < sample && i < len(keys); i++ {
		k := keys[i*len(keys)/min(sample, len(keys))]
		who := "user_id:bj-" + k.key
		var tl struct {
			Events []struct {
				Event      string    `json:"event"`
				ReceivedAt time.Time `json:"received_at"`
			} `json:"events"`
		}
		var ms struct {
			Messages []struct {
				Created time.Time `json:"created"`
			} `json:"messages"`
		}
		if err := get("/api/profiles/"+url.PathEscape(who)+"/timeline?limit=100", &tl); err != nil {
			return err
		}
		if err := get("/api/messages?profile="+url.QueryEscape(who), &ms); err != nil {
			return err
		}
		var recv time.Time
		for _, e := range tl.Events {
			if e.Event == e2eTrigger {
				recv = e.ReceivedAt
			}
		}
		if recv.IsZero() || len(ms.Messages) == 0 {
			continue
		}
		created := ms.Messages[0].Created
		ingest = append(ingest, recv.Sub(k.due))
		engine = append(engine, created.Sub(recv))
		deliver = append(deliver, k.at.Sub(created))
	}
	if len(ingest) == 0 {
		return errors.New("the sampled triggers have no timeline or message")
	}
	fmt.Fprintf(out, "  by stage, %d triggers sampled: scheduled send -> received by the server p50 %s p99 %s; received -> message in the outbox p50 %s p99 %s; outbox -> webhook received p50 %s p99 %s\n",
		len(ingest), pct(ingest, 50), pct(ingest, 99), pct(engine, 50), pct(engine, 99), pct(deliver, 50), pct(deliver, 99))
	return nil
}

// e2eSetup saves the bench's webhook template (pointing at this run's
// receiver) and its live journey.
func e2eSetup(ctx context.Context, base, token, hookURL string) error {
	do := func(method, path string, body any) (int, []byte, error) {
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(b))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out, nil
	}
	tpl := map[string]any{"id": e2eTemplate, "name": "Bench: trigger to webhook", "channel": "webhook", "url": hookURL,
		"json": `{"k":"{{ event.k }}"}`}
	code, out, err := do(http.MethodPost, "/api/templates", tpl)
	if err == nil && code == http.StatusConflict {
		code, out, err = do(http.MethodPut, "/api/templates/"+e2eTemplate, tpl)
	}
	if err != nil || code/100 != 2 {
		return fmt.Errorf("save the bench's template: %d %s %v", code, out, err)
	}
	j := map[string]any{"id": e2eJourney, "name": "Bench: trigger to webhook", "status": "live",
		"trigger": map[string]any{"type": "event", "event": e2eTrigger}, "entry": map[string]any{"rule": "every_time"},
		"start": "hook", "steps": []map[string]any{{"id": "hook", "type": "webhook", "template": e2eTemplate}}}
	code, out, err = do(http.MethodPost, "/api/journeys", j)
	if err != nil || (code/100 != 2 && code != http.StatusConflict) {
		return fmt.Errorf("save the bench's journey: %d %s %v", code, out, err)
	}
	return nil
}

// e2eBodies renders n request bodies of batch-1 demo events each (unique
// messageIds for this run), without their closing "]}": the trigger is
// appended when the request is sent.
func e2eBodies(customers, batch, n int) ([][]byte, error) {
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	// Each demo event rendered once without its messageId ("{" cut off):
	// a body puts a fresh one in front.
	var msgs [][]byte
	err := demo.New(demo.Config{Customers: customers, Seed: 1}).Messages(func(b []byte) error {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		delete(m, "messageId")
		x, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if len(x) > 2 {
			msgs = append(msgs, x[1:])
		}
		if len(msgs) >= n*(batch-1) {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, fmt.Errorf("demo events: %w", err)
	}
	if len(msgs) == 0 {
		return nil, errors.New("the demo store made no events")
	}
	bodies := make([][]byte, n)
	k := 0
	for i := range bodies {
		b := []byte(`{"batch":[`)
		for j := 0; j < batch-1; j++ {
			b = append(b, `{"messageId":"bj-`...)
			b = append(b, run...)
			b = append(b, '-')
			b = strconv.AppendInt(b, int64(k), 10)
			b = append(b, `",`...)
			b = append(append(b, msgs[k%len(msgs)]...), ',')
			k++
		}
		bodies[i] = b
	}
	return bodies, nil
}

var errEnough = errors.New("enough")

// e2eGen posts the bodies, paced or not.
type e2eGen struct {
	url, auth string
	bodies    [][]byte
	batch     int
	conc      int
	rcv       *e2eReceiver // nil: no triggers to note (the ceiling run)
	client    *http.Client
	runID     string
}

type e2eResult struct {
	acked, failed, late int
	elapsed             time.Duration
	ack                 []time.Duration
	lastErr             error
}

func (r e2eResult) perSec() float64 { return float64(r.acked) / r.elapsed.Seconds() }

func newE2EGen(base, writeKey string, bodies [][]byte, batch, conc int, rcv *e2eReceiver) *e2eGen {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	req.SetBasicAuth(writeKey, "")
	return &e2eGen{url: base + "/v1/batch", auth: req.Header.Get("Authorization"), bodies: bodies, batch: batch, conc: conc, rcv: rcv,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, runID: strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// run sends for d: at rate events/s on a fixed schedule (a request's
// latencies count from when it was due, so a slow server cannot hide the
// requests it kept waiting), or as fast as acks come back when rate is 0.
func (g *e2eGen) run(ctx context.Context, rate float64, d time.Duration) e2eResult {
	var next atomic.Int64
	interval := time.Duration(0)
	if rate > 0 {
		interval = time.Duration(float64(g.batch) / rate * float64(time.Second))
	}
	start := time.Now()
	stop := start.Add(d)
	var mu sync.Mutex
	var res e2eResult
	var wg sync.WaitGroup
	for range g.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ack []time.Duration
			acked, failed, late := 0, 0, 0
			var lastErr error
			buf := make([]byte, 0, 64<<10)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				due := time.Now()
				if interval > 0 {
					due = start.Add(time.Duration(i) * interval)
					if w := time.Until(due); w > 0 {
						time.Sleep(w)
					} else if w < -5*time.Millisecond {
						late++
					}
				}
				if !due.Before(stop) {
					break
				}
				key := g.runID + "-" + strconv.FormatInt(i, 10)
				buf = append(buf[:0], g.bodies[int(i)%len(g.bodies)]...)
				buf = fmt.Appendf(buf, `{"type":"track","event":%q,"userId":"bj-%s","messageId":"bj-t-%s","properties":{"k":"%s"}}]}`,
					e2eTrigger, key, key, key)
				if g.rcv != nil {
					g.rcv.expect(key, due)
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(buf))
				req.Header.Set("Authorization", g.auth)
				req.Header.Set("Content-Type", "application/json")
				resp, err := g.client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("HTTP %s", resp.Status)
					}
				}
				if err != nil {
					failed++
					lastErr = err
					if g.rcv != nil {
						g.rcv.forget(key)
					}
					continue
				}
				acked += g.batch
				ack = append(ack, time.Since(due))
			}
			mu.Lock()
			res.acked += acked
			res.failed += failed
			res.late += late
			res.ack = append(res.ack, ack...)
			if lastErr != nil {
				res.lastErr = lastErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// e2eReceiver is the webhook endpoint: it notes when each trigger's
// message arrives.
type e2eReceiver struct {
	mu   sync.Mutex
	sent map[string]time.Time // trigger key -> its scheduled send, until received
	lat  []time.Duration
	keys []e2eArrival // in arrival order
}

type e2eArrival struct {
	key     string
	due, at time.Time
}

func (r *e2eReceiver) expect(key string, at time.Time) {
	r.mu.Lock()
	r.sent[key] = at
	r.mu.Unlock()
}

func (r *e2eReceiver) forget(key string) {
	r.mu.Lock()
	delete(r.sent, key)
	r.mu.Unlock()
}

func (r *e2eReceiver) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

func (r *e2eReceiver) result() ([]time.Duration, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lat, len(r.sent)
}

func (r *e2eReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	var body struct{ K string }
	err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&body)
	w.WriteHeader(http.StatusOK)
	if err != nil {
		return
	}
	r.mu.Lock()
	if at, ok := r.sent[body.K]; ok {
		r.lat = append(r.lat, now.Sub(at))
		r.keys = append(r.keys, e2eArrival{body.K, at, now})
		delete(r.sent, body.K)
	}
	r.mu.Unlock()
}
