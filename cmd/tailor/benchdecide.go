package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"tailor/internal/catalog"
	"tailor/internal/decide"
	"tailor/internal/event"
	"tailor/internal/loadgen"
	"tailor/internal/profile"
	"tailor/internal/recommend"
	"tailor/internal/segment"
	"tailor/internal/server"
	"tailor/internal/store"
)

func init() {
	extraBench["decide"] = subcommand{
		usage: "tailor bench decide [--profiles N --products N --rate R --duration D]  p99 of POST /v1/decide at a paced rate and its saturation throughput, against a do-nothing handler's",
		run:   benchDecide,
	}
}

// decideBenchConfig is one run of `tailor bench decide`.
type decideBenchConfig struct {
	Profiles, Products int
	Rate               float64
	Duration           time.Duration
	Concurrency        int // closed-loop workers of the saturation runs
	Bodies             int // distinct pre-rendered request bodies
	Recs               int // products in the recommendation placement
	DataDir            string
	CPUProfile         string
}

func benchDecide(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench decide", flag.ContinueOnError)
	cfg := decideBenchConfig{}
	fs.IntVar(&cfg.Profiles, "profiles", 1_000_000, "profiles in the store (identified customers; one in three with orders)")
	fs.IntVar(&cfg.Products, "products", 100_000, "products in the catalog")
	fs.Float64Var(&cfg.Rate, "rate", 2000, "requests per second of the paced runs")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of each run")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "closed-loop workers of the saturation runs")
	fs.IntVar(&cfg.Bodies, "bodies", 20_000, "distinct pre-rendered request bodies")
	fs.IntVar(&cfg.Recs, "recs", 10, "recommended products in the second placement")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the measured runs to this file")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory for the catalog, segments and placements store (default: a temporary one, removed after)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tailor bench decide [flags]\n\nBuilds a store in process (profiles, their segment index, a catalog), serves POST /v1/decide with two placements\n(an exit offer by segment and spend tier; a row of --recs products with geo prices and signed tokens) on a\nloopback listener, and measures a paced run and a saturated one, each also against a handler that only\nreads the body and answers {} (the load generator's own ceiling on this machine).\n\nflags:\n")
		fs.PrintDefaults()
	}
	if help, err := parseBenchFlags(fs, args); help || err != nil {
		return err
	}
	switch {
	case cfg.Profiles < 1 || cfg.Profiles > 20_000_000:
		return fmt.Errorf("%w: --profiles must be between 1 and 20000000", errUsage)
	case cfg.Products < 1 || cfg.Products > 10_000_000:
		return fmt.Errorf("%w: --products must be between 1 and 10000000", errUsage)
	case cfg.Rate <= 0 || cfg.Duration < time.Second || cfg.Concurrency < 1 || cfg.Bodies < 1:
		return fmt.Errorf("%w: --rate, --concurrency and --bodies must be positive and --duration at least 1s", errUsage)
	case cfg.Recs < 1 || cfg.Recs > decide.MaxRecLimit:
		return fmt.Errorf("%w: --recs must be between 1 and %d", errUsage, decide.MaxRecLimit)
	}
	cfg.CPUProfile = *cpuprofile
	return interrupted(runDecideBench(ctx, cfg, os.Stdout))
}

const benchWriteKey = "bench-write-key"

func runDecideBench(ctx context.Context, cfg decideBenchConfig, out io.Writer) error {
	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "tailor-bench-decide-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	db, err := store.Open(filepath.Join(dir, "pebble"), 64<<20)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(out, "tailor bench decide: %s profiles, %s products, %d CPUs, %s\n",
		thousands(int64(cfg.Profiles)), thousands(int64(cfg.Products)), runtime.NumCPU(), loadAverage())

	// The store: profiles through the profile store and the segment engine,
	// as the processor applies events.
	start := time.Now()
	st := profile.NewStore()
	now := time.Now().UTC()
	segs := segment.NewEngine(segment.Options{DB: db, Profiles: st, Now: func() time.Time { return now }})
	countries := []string{"US", "US", "US", "GB", "DE", "FR", "CA", "JP", "ES", "IT"}
	meta := event.Meta{ReceivedAt: now, SourceID: "bench"}
	var seq uint64
	var msg []byte
	var pid string
	apply := func() error {
		e, err := event.Decode(msg, meta)
		if err != nil {
			return fmt.Errorf("bench decide: build: %w", err)
		}
		seq++
		e.Seq = seq
		r := st.Apply(&e)
		segs.Apply(&e, r)
		pid = r.Profile
		return nil
	}
	cat := catalog.NewStore(db)
	recEng := recommend.New(recommend.Options{Catalog: cat, Membership: segs, Now: func() time.Time { return now }})
	shop := newBenchShopper(cfg.Products, now, recEng)
	ts := now.Add(-time.Hour).Format(time.RFC3339)
	for i := range cfg.Profiles {
		msg = fmt.Appendf(msg[:0], `{"type":"identify","userId":"u%07d","messageId":"i%d","timestamp":%q,"traits":{"country":%q,"plan":%q}}`,
			i, i, ts, countries[i%len(countries)], []string{"free", "pro"}[i%2])
		if err := apply(); err != nil {
			return err
		}
		if i%3 == 0 {
			msg = fmt.Appendf(msg[:0], `{"type":"track","userId":"u%07d","messageId":"o%d","timestamp":%q,"event":"Order Completed","properties":{"order_id":"o%d","revenue":%d}}`,
				i, i, ts, i, 20+i%700)
			if err := apply(); err != nil {
				return err
			}
		}
		seq += uint64(shop.feed(pid, i%3 == 0))
		if i%100_000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	rule, err := segment.ParseText(`total_spend > 600`)
	if err != nil {
		return err
	}
	if _, err := segs.Save(segment.Definition{ID: "big-spenders", Name: "Big spenders", Rule: rule}); err != nil {
		return fmt.Errorf("bench decide: segment: %w", err)
	}
	batch := make([]catalog.Product, 0, 1000)
	for i := range cfg.Products {
		stock := int64(i % 50)
		batch = append(batch, catalog.Product{ID: fmt.Sprintf("sku-%06d", i), Name: fmt.Sprintf("Product %d", i),
			Category: fmt.Sprintf("Cat %d > Sub %d", i%20, i%200), Price: float64(5 + i%300), Stock: &stock, URL: fmt.Sprintf("https://shop.example/p/%d", i)})
		if len(batch) == cap(batch) || i == cfg.Products-1 {
			if err := cat.Put(ctx, batch); err != nil {
				return fmt.Errorf("bench decide: catalog: %w", err)
			}
			batch = batch[:0]
		}
	}
	members, _ := segs.Count(rule, now)
	fmt.Fprintf(out, "build: %s profiles (%s events, %s of them views, cart additions and orders with products for the recommendation engine) with their segment index, segment big-spenders of %s, %s products, in %s; heap in use %s, %s\n",
		thousands(int64(st.Len())), thousands(int64(seq)), thousands(shop.events), thousands(int64(members)), thousands(int64(cfg.Products)),
		time.Since(start).Round(100*time.Millisecond), mib(int64(heapInUse())), procMemory())

	ps, err := decide.OpenPlacements(db)
	if err != nil {
		return err
	}
	ps.SegmentExists = func(id string) bool { _, ok := segs.Get(id); return ok }
	for _, p := range benchPlacements(cfg.Recs) {
		if _, err := ps.Put(p, false); err != nil {
			return err
		}
	}
	if err := ps.SetGeo(decide.DemoGeo()); err != nil {
		return err
	}
	recs, err := newBenchRecs(ctx, cat)
	if err != nil {
		return err
	}
	signer, err := decide.NewSigner(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		return err
	}
	// The same decisions twice: with the stand-in list (the cost of
	// deciding alone) and with the recommendation engine (what a server
	// does), so that the difference is the recommendations' cost.
	standIn := &decide.Engine{Placements: ps, Profiles: benchFacts{st}, Membership: segs, Recommender: recs, Signer: signer}
	real := &decide.Engine{Placements: ps, Profiles: benchFacts{st}, Membership: segs, Recommender: server.DecideRecommender(recEng), Signer: signer}
	writeKey := func(k string) bool { return k == benchWriteKey }
	hStandIn := (&decide.HTTP{Engine: standIn, WriteKey: writeKey}).Public()
	hReal := (&decide.HTTP{Engine: real, WriteKey: writeKey}).Public()

	bodies := renderDecideBodies(cfg)
	// Check one answer of each before measuring: a wrong setup must not be
	// timed.
	for _, h := range []http.Handler{hStandIn, hReal} {
		rec := &bufferWriter{header: http.Header{}}
		req, _ := http.NewRequest("POST", "/v1/decide", bytes.NewReader(bodies[0]))
		h.ServeHTTP(rec, req)
		var probe struct {
			Placements []struct{ Items []json.RawMessage }
		}
		if rec.status != 0 && rec.status != 200 || json.Unmarshal(rec.buf.Bytes(), &probe) != nil || len(probe.Placements) != 2 || len(probe.Placements[1].Items) != cfg.Recs {
			return fmt.Errorf("bench decide: a probe answer is not two placements with %d products: %d %.300s", cfg.Recs, rec.status, rec.buf.Bytes())
		}
		fmt.Fprintf(out, "request: %d placements, %d products with tokens; %s distinct pre-rendered bodies (2/3 known customers, 1/3 unknown visitors); answer %d bytes\n",
			2, cfg.Recs, thousands(int64(len(bodies))), rec.buf.Len())
	}

	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("bench decide: --cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench decide: --cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	for _, e := range []struct {
		name     string
		eng      *decide.Engine
		distinct int
	}{
		{"stand-in recommendations", standIn, 4096},
		// 4,096 requests repeat within the second, as visitors come back:
		// the engine's answer cache serves most of them.
		{"recommendation engine, 4,096 requests", real, 4096},
		// Every request another visitor: each answer computed afresh.
		{"recommendation engine, no repeats", real, 1 << 20},
	} {
		if err := engineOnly(ctx, e.name, e.eng, e.distinct, cfg, out); err != nil {
			return err
		}
	}
	null := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}\n"))
	})
	targets := []struct {
		name string
		h    http.Handler
	}{{"do-nothing handler (load generator ceiling)", null}, {"POST /v1/decide, stand-in recommendations", hStandIn}, {"POST /v1/decide, recommendation engine", hReal}}
	fmt.Fprintf(out, "%-50s %-10s %12s %9s %9s %9s %9s %7s %4s %11s\n", "target", "load", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "GCs", "CPU µs/req")
	for _, mode := range []struct {
		name string
		rate float64
	}{{fmt.Sprintf("%g/s", cfg.Rate), cfg.Rate}, {fmt.Sprintf("%d conns", cfg.Concurrency), 0}} {
		for _, tg := range targets {
			// Each run starts from a collected heap, so that a collection
			// the previous run's garbage is due for does not land in it;
			// GCs counts those the run itself caused (each marks the whole
			// store's heap).
			runtime.GC()
			var gc0, gc1 runtime.MemStats
			runtime.ReadMemStats(&gc0)
			c0, _ := processCPU()
			r, err := loadDecide(ctx, tg.h, bodies, mode.rate, cfg)
			if err != nil {
				return err
			}
			c1, _ := processCPU()
			runtime.ReadMemStats(&gc1)
			// Server and load generator share the process: the do-nothing
			// handler's figure is the generator's and net/http's share.
			perReq := float64(c1-c0) / 1e3 / max(float64(r.hist.N), 1)
			fmt.Fprintf(out, "%-50s %-10s %12s %9s %9s %9s %9s %7d %4d %11.1f\n", tg.name, mode.name, thousands(int64(r.rps)),
				millis(r.hist.Quantile(0.5)), millis(r.hist.Quantile(0.99)), millis(r.hist.Quantile(0.999)), millis(time.Duration(r.hist.Max)), r.errors, gc1.NumGC-gc0.NumGC, perReq)
		}
	}
	fmt.Fprintf(out, "at the end: %s; paced latencies run from each request's scheduled start; the load generator shares the CPUs with the server\n", loadAverage())
	return nil
}

// benchPlacements are the two placements every request asks for: an exit
// offer by segment and spend tier, and a row of products with geo prices.
func benchPlacements(recs int) []decide.Placement {
	var exit, row decide.Placement
	for _, p := range decide.DemoPlacements() {
		switch p.ID {
		case "exit_offer":
			exit = p
		case "home_recs":
			row = p
		}
	}
	exit.Rules[0].Segment = "big-spenders"
	row.Recommendations = &decide.RecSlot{Strategy: "for_you", Limit: recs, Filter: decide.RecFilter{ExcludePurchased: true, InStockOnly: true}}
	return []decide.Placement{exit, row}
}

func renderDecideBodies(cfg decideBenchConfig) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	bodies := make([][]byte, cfg.Bodies)
	for i := range bodies {
		var who string
		if i%3 == 2 {
			who = fmt.Sprintf(`"anonymousId":"anon-%d"`, r.Uint64())
		} else {
			who = fmt.Sprintf(`"userId":"u%07d"`, r.IntN(cfg.Profiles))
		}
		bodies[i] = fmt.Appendf(nil, `{"writeKey":%q,%s,"placements":["exit_offer","home_recs"],"context":{"url":"https://shop.example/p/%d"}}`,
			benchWriteKey, who, i)
	}
	return bodies
}

type loadResult struct {
	rps    float64
	hist   *loadgen.HistSnapshot
	errors uint64
}

// loadDecide serves h on a loopback listener and sends bodies to it for
// cfg.Duration: paced at rate (latency from each request's scheduled
// start, so that a stall counts for every request it delays), or closed
// loop with cfg.Concurrency workers when rate is 0.
func loadDecide(ctx context.Context, h http.Handler, bodies [][]byte, rate float64, cfg decideBenchConfig) (loadResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return loadResult{}, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/v1/decide"
	workers := cfg.Concurrency
	if rate > 0 {
		// Enough to absorb a stall of ~50 ms without falling behind.
		workers = max(32, int(rate/20))
	}
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	hists := make([]loadgen.Histogram, workers)
	var errs, ticket atomic.Uint64
	var wg, ready sync.WaitGroup
	ready.Add(workers)
	var begin, end time.Time
	var once sync.Once
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			rd := bytes.NewReader(nil)
			send := func(body []byte) bool {
				rd.Reset(body)
				req, _ := http.NewRequestWithContext(ctx, "POST", url, rd)
				req.Header.Set("Content-Type", "text/plain")
				resp, err := client.Do(req)
				if err != nil {
					return false
				}
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
				}
				resp.Body.Close()
				return resp.StatusCode == 200
			}
			// One untimed request opens this worker's connection.
			send(bodies[w%len(bodies)])
			ready.Done()
			ready.Wait()
			once.Do(func() { begin = time.Now(); end = begin.Add(cfg.Duration) })
			for ctx.Err() == nil {
				i := ticket.Add(1) - 1
				due := time.Now()
				if rate > 0 {
					due = begin.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					if due.After(end) {
						return
					}
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				} else if due.After(end) {
					return
				} else if due.Before(begin) {
					time.Sleep(time.Until(begin))
					due = time.Now()
				}
				if !send(bodies[i%uint64(len(bodies))]) {
					errs.Add(1)
				}
				hists[w].Record(time.Since(due))
			}
		}()
	}
	wg.Wait()
	took := time.Since(begin)
	var snap loadgen.HistSnapshot
	for i := range hists {
		snap.Add(&hists[i])
	}
	return loadResult{rps: float64(snap.N) / took.Seconds(), hist: &snap, errors: errs.Load()}, ctx.Err()
}

// benchFacts is the server's profile reader (internal/server/decide.go)
// over the bench's in-process store.
type benchFacts struct{ st *profile.Store }

func (p benchFacts) Read(key string, fn func(id string, f decide.Facts)) bool {
	id, _, _, ok := p.st.IdentityKeys(key, 0)
	if !ok {
		return false
	}
	return p.st.View(id, func(st *profile.State, _ []event.Identifier) { fn(id, st) })
}

// benchShopper feeds the recommendation engine demo-shaped behaviour per
// profile: a few views in one sub-category, and for buyers a cart
// addition, an earlier order and an order of the carted product with one
// of a neighbouring sub-category, products drawn with a heavy-tailed
// popularity. Events go straight to the engine, resolved to the profile
// the store just made, as the processor would hand them on.
type benchShopper struct {
	rec      *recommend.Engine
	products []map[string]any
	r        *rand.Rand
	pick     *rand.Zipf // sub-category
	within   *rand.Zipf // rank within a sub-category
	now      time.Time
	events   int64
}

const benchSubs = 200 // sub-categories of the bench catalog: "Cat i%20 > Sub i%200"

func newBenchShopper(n int, now time.Time, rec *recommend.Engine) *benchShopper {
	s := &benchShopper{rec: rec, products: make([]map[string]any, n), r: rand.New(rand.NewPCG(5, 6)), now: now}
	for i := range s.products {
		s.products[i] = map[string]any{"product_id": fmt.Sprintf("sku-%06d", i), "name": fmt.Sprintf("Product %d", i),
			"category": fmt.Sprintf("Cat %d > Sub %d", i%20, i%200), "price": float64(5 + i%300)}
	}
	s.pick = rand.NewZipf(s.r, 1.1, 2, benchSubs-1)
	s.within = rand.NewZipf(s.r, 1.1, 5, uint64(max(n/benchSubs, 1)-1))
	return s
}

// product draws a product of sub-category sub.
func (s *benchShopper) product(sub int) map[string]any {
	k := sub + benchSubs*int(s.within.Uint64())
	if k >= len(s.products) {
		k = sub % len(s.products)
	}
	return s.products[k]
}

// feed applies one profile's behaviour and returns how many events it was.
func (s *benchShopper) feed(pid string, buyer bool) int {
	sub := int(s.pick.Uint64())
	t := s.now.Add(-time.Hour - time.Duration(s.r.Int64N(int64(20*24*time.Hour))))
	res := profile.Resolution{Profile: pid}
	n := 0
	send := func(name string, at time.Time, props map[string]any) {
		s.rec.Apply(&event.Event{Type: event.Track, Event: name, Timestamp: at, Properties: props}, res)
		n++
	}
	if buyer {
		send(event.OrderCompleted, t.Add(-10*24*time.Hour), map[string]any{"products": []any{s.product(sub)}})
	}
	var viewed []map[string]any
	for k := range 3 {
		p := s.product(sub)
		viewed = append(viewed, p)
		send(event.ProductViewed, t.Add(time.Duration(k)*2*time.Minute), p)
	}
	if buyer {
		send(event.ProductAdded, t.Add(6*time.Minute), viewed[0])
		send(event.OrderCompleted, t.Add(10*time.Minute), map[string]any{"products": []any{viewed[0], s.product((sub + 1) % benchSubs)}})
	}
	s.events += int64(n)
	return n
}

// benchRecs stands in for the recommendation engine as the server's
// stand-in does: the catalog's first in-stock products.
type benchRecs struct{ items []decide.RecItem }

func newBenchRecs(ctx context.Context, cat *catalog.Store) (*benchRecs, error) {
	ps, _, err := cat.List(ctx, catalog.ListOptions{Limit: 200})
	if err != nil {
		return nil, err
	}
	r := &benchRecs{}
	for _, p := range ps {
		if p.Stock == nil || *p.Stock > 0 {
			r.items = append(r.items, decide.RecItem{ID: p.ID, Name: p.Name, Category: p.Category, URL: p.URL, Price: p.Price, Score: 1, Strategy: "catalog"})
		}
	}
	return r, nil
}

func (r *benchRecs) Recommend(_ context.Context, req decide.RecRequest) ([]decide.RecItem, error) {
	return r.items[:min(len(r.items), req.Limit)], nil
}

// bufferWriter is a minimal http.ResponseWriter for the probe request.
type bufferWriter struct {
	header http.Header
	buf    bytes.Buffer
	status int
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bufferWriter) WriteHeader(s int)           { b.status = s }

// engineOnly measures the decisions without HTTP: every CPU deciding in a
// loop over pre-parsed requests for a second, so that the report shows the
// engine's own cost beside the HTTP stack's.
func engineOnly(ctx context.Context, name string, eng *decide.Engine, distinct int, cfg decideBenchConfig, out io.Writer) error {
	reqs := make([]decide.Request, distinct)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range reqs {
		reqs[i].Placements = []string{"exit_offer", "home_recs"}
		if i%3 == 2 {
			reqs[i].AnonymousID = fmt.Sprintf("anon-%d", r.Uint64())
		} else {
			reqs[i].UserID = fmt.Sprintf("u%07d", r.IntN(cfg.Profiles))
		}
	}
	workers := runtime.GOMAXPROCS(0)
	var done atomic.Int64
	var wg sync.WaitGroup
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, cpuOK := processCPU()
	stop := time.Now().Add(time.Second)
	start := time.Now()
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for i := w; time.Now().Before(stop); i += workers {
				buf.Reset()
				if err := eng.Decide(ctx, &reqs[i%len(reqs)], &buf); err != nil {
					errc <- err
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	cpu1, _ := processCPU()
	runtime.ReadMemStats(&ms1)
	close(errc)
	if err := <-errc; err != nil {
		return fmt.Errorf("bench decide: engine: %w", err)
	}
	n := done.Load()
	cpu := "CPU time unknown"
	if cpuOK {
		per := (cpu1 - cpu0) / time.Duration(n)
		cpu = fmt.Sprintf("%.1f µs of CPU per decision (%s decisions per CPU-second: what the machine's load leaves out)", float64(per)/1e3, rate(n, cpu1-cpu0))
	}
	fmt.Fprintf(out, "engine only, %s (no HTTP, %d goroutines, 1 s): %s decisions/s, %.1f allocations and %s bytes per decision, %s\n",
		name, workers, rate(n, took), float64(ms1.Mallocs-ms0.Mallocs)/float64(n), thousands(int64(ms1.TotalAlloc-ms0.TotalAlloc)/n), cpu)
	return nil
}
