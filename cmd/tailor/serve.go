package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"tailor/internal/catalog"
	"tailor/internal/demo"
	"tailor/internal/profile"
	"tailor/internal/segment"
	"tailor/internal/server"
)

func runServe(ctx context.Context, args []string) error {
	cfg := server.Defaults()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data-dir", envOr("TAILOR_DATA_DIR", cfg.DataDir), "data directory (Pebble store) [TAILOR_DATA_DIR]")
	fs.StringVar(&cfg.Addr, "addr", envOr("TAILOR_ADDR", cfg.Addr), "listen address host:port; port 0 picks a free one [TAILOR_ADDR]")
	fs.StringVar(&cfg.WriteKey, "write-key", os.Getenv("TAILOR_WRITE_KEY"), "write key of the default source (default: generated once, kept in the data dir) [TAILOR_WRITE_KEY]")
	fs.StringVar(&cfg.AdminToken, "admin-token", os.Getenv("TAILOR_ADMIN_TOKEN"), "admin API bearer token (default: generated once, kept in the data dir) [TAILOR_ADMIN_TOKEN]")
	fs.StringVar(&cfg.AdminEmail, "admin-email", envOr("TAILOR_ADMIN_EMAIL", cfg.AdminEmail), "email of the dashboard admin account made on first start [TAILOR_ADMIN_EMAIL]")
	fs.StringVar(&cfg.AdminPassword, "admin-password", os.Getenv("TAILOR_ADMIN_PASSWORD"), "password of that account, at least 10 characters (default: generated and printed once) [TAILOR_ADMIN_PASSWORD]")
	fs.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "log partitions (fixed when the data dir is created)")
	fs.DurationVar(&cfg.DedupeWindow, "dedupe-window", cfg.DedupeWindow, "how long messageIds are remembered for de-duplication")
	fs.DurationVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "how often changed profiles are persisted")
	cache := byteSize(cfg.CacheBytes)
	if v := os.Getenv("TAILOR_STORE_CACHE"); v != "" {
		if err := cache.Set(v); err != nil {
			return fmt.Errorf("%w: TAILOR_STORE_CACHE: %v", errUsage, err)
		}
	}
	fs.Var(&cache, "store-cache", "memory for the store's block cache, such as 512MiB or 2GiB; a big store's lookups read index and filter blocks from it [TAILOR_STORE_CACHE]")
	fs.IntVar(&cfg.HotProfiles, "hot-profiles", cfg.HotProfiles, "profiles kept decoded in memory (the rest are kept encoded)")
	fs.DurationVar(&cfg.HeaderReadTimeout, "header-read-timeout", cfg.HeaderReadTimeout, "deadline for reading a request's headers")
	fs.DurationVar(&cfg.BodyReadTimeout, "body-read-timeout", cfg.BodyReadTimeout, "deadline for reading a whole request, body included (slower clients get 408)")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", cfg.WriteTimeout, "deadline from the end of a request's headers to the end of its answer")
	fs.IntVar(&cfg.MaxConnections, "max-connections", cfg.MaxConnections, "open client connections at most (idle keep-alive ones included); more wait to be accepted")
	fs.IntVar(&cfg.MaxBodyKeyedRequests, "max-body-keyed-requests", cfg.MaxBodyKeyedRequests, "Tracking API requests reading a body that carries the write key (analytics.js) at once; more get 503 (below --max-connections)")
	fs.BoolVar(&cfg.DoubleOptIn, "double-opt-in", os.Getenv("TAILOR_DOUBLE_OPT_IN") == "1", "email marketing consent counts only after the confirmation link is followed [TAILOR_DOUBLE_OPT_IN=1]")
	topics := fs.String("topics", os.Getenv("TAILOR_TOPICS"), "comma-separated topics the preference center offers (default new_arrivals,sales,recommendations,newsletter) [TAILOR_TOPICS]")
	recSegments := fs.String("recommend-segments", os.Getenv("TAILOR_RECOMMEND_SEGMENTS"), "comma-separated segment ids whose bestsellers \"for you\" offers a profile with no history, the first it belongs to (default: global bestsellers) [TAILOR_RECOMMEND_SEGMENTS]")
	withDemo := fs.Bool("demo", false, "load the demo store on first start (when the data dir holds no events)")
	demoCustomers := fs.Int("demo-customers", 1000, "customers in the demo store")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	applyIdentity := identityFlags(fs, &cfg.Identity)
	applyDeliver := deliverFlags(fs, &cfg.Delivery)
	lifecycle := fs.String("lifecycle", os.Getenv("TAILOR_LIFECYCLE"), "lifecycle stage thresholds of the segment models: new=30d,active=90d,lapsed=180d (any subset) [TAILOR_LIFECYCLE]")
	fs.IntVar(&cfg.ProcessorQueue, "processor-queue", cfg.ProcessorQueue, "acknowledged events that may wait for the processor before acknowledgements wait for it")
	fs.BoolVar(&cfg.LogCompression, "log-compression", cfg.LogCompression, "store the log's events compressed with a dictionary trained from the store's first 2,000 messages (less to write, flush and compact); values already stored are read either way")
	fs.Float64Var(&cfg.FlushDuty, "flush-duty", cfg.FlushDuty, "share of the clock the stores' memtable flushes may work while serving, so that they do not take the cores from requests in one burst; 0 = unpaced")
	fs.Float64Var(&cfg.CompactionDuty, "compaction-duty", cfg.CompactionDuty, "share of the clock the stores' compactions may work while serving; 0 = unpaced")
	fs.BoolVar(&cfg.ProcessorOverflow, "processor-overflow", cfg.ProcessorOverflow, "when the processor's queue is full, acknowledge anyway and let the processor read the events back from the log (its lag grows instead)")
	fs.Float64Var(&cfg.JourneyTimeScale, "journey-time-scale", 0, "for tests: journey waits, timeouts, goal windows and entry periods last this many times less (86400: a day per second); keep one scale per data dir")
	debugAddr := fs.String("debug-addr", "", "serve Go's /debug/pprof and the store's /debug/store on this address (e.g. 127.0.0.1:6060); off by default")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if cache < 8<<20 {
		return fmt.Errorf("%w: --store-cache must be at least 8MiB", errUsage)
	}
	cfg.CacheBytes = int64(cache)
	if err := applyIdentity(); err != nil {
		return err
	}
	if cfg.JourneyTimeScale < 0 {
		return fmt.Errorf("%w: --journey-time-scale must not be negative", errUsage)
	}
	for _, id := range strings.Split(*recSegments, ",") {
		if id = strings.TrimSpace(id); id != "" {
			cfg.RecommendSegments = append(cfg.RecommendSegments, id)
		}
	}
	for _, t := range strings.Split(*topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.Topics = append(cfg.Topics, t)
		}
	}
	if err := applyDeliver(); err != nil {
		return err
	}
	models, err := segment.ParseModelOptions(*lifecycle)
	if err != nil {
		return fmt.Errorf("%w: --lifecycle: %v", errUsage, err)
	}
	cfg.Models = models
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, *logLevel)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
	if *demoCustomers < 1 {
		return fmt.Errorf("%w: --demo-customers must be at least 1", errUsage)
	}

	if *debugAddr != "" {
		go func() {
			// pprof registers on http.DefaultServeMux; nothing else uses it.
			if err := http.ListenAndServe(*debugAddr, nil); err != nil {
				slog.Error("debug server", "err", err)
			}
		}()
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// More Ps than CPUs, so that the goroutines every ack waits on
		// run when woken: see server.Procs.
		runtime.GOMAXPROCS(server.Procs(runtime.GOMAXPROCS(0)))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Off the Go heap: the block cache and two 256 MB memtables.
		if limit := server.MemoryLimit(cfg.CacheBytes + 512<<20); limit > 0 {
			debug.SetMemoryLimit(limit)
			slog.Debug("soft memory limit of the Go heap", "bytes", limit)
		}
	}
	if os.Getenv("GOGC") == "" {
		// Profiles live in the heap for the life of the process: see
		// server.TuneGC. An explicit GOGC turns the tuning off.
		go server.TuneGC(ctx, 512<<20)
	}
	srv, err := server.Open(ctx, cfg)
	if err != nil {
		return err
	}
	if *debugAddr != "" {
		// The store's own account of its levels, compactions and caches.
		http.HandleFunc("/debug/store", func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, srv.StoreMetrics())
		})
	}
	// Log.LastSeq is only valid before Start: ask before ingest opens.
	hasEvents := srv.Log.LastSeq() > 0 || srv.Store.Len() > 0
	url, err := srv.Start()
	if err != nil {
		srv.Close(context.Background())
		return err
	}
	fmt.Printf("tailor: listening on %s\n", url)
	fmt.Printf("tailor: write key: %s\n", srv.WriteKey)
	fmt.Printf("tailor: admin token: %s\n", srv.AdminToken)
	if srv.AdminPassword != "" {
		// Only the start that made the account knows its password.
		fmt.Printf("tailor: dashboard: %s/  login: %s  password: %s\n", url, srv.AdminEmail, srv.AdminPassword)
	} else {
		fmt.Printf("tailor: dashboard: %s/\n", url)
	}

	if *withDemo {
		if err := serveDemo(ctx, srv, cfg.DataDir, url, *demoCustomers, hasEvents); ctx.Err() != nil {
			slog.Info("demo load stopped: the next start with --demo resumes it")
		} else if err != nil {
			slog.Error("demo store", "err", err)
		}
	}
	<-ctx.Done()
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Close(sctx)
}

// demoConfig is the demo store serve --demo loads: its two years of history
// end at the start of the day the process started (UTC), so that "visited
// in the last 7 days" and the other recency segments have members. The same
// day gives the same store.
func demoConfig(customers int) demo.Config {
	return demo.Config{Customers: customers, End: demoEnd}
}

var demoEnd = time.Now().UTC().Truncate(24 * time.Hour)

// serveDemo loads the demo store into a data directory that holds no
// events, or resumes a load that was stopped, then saves the demo's
// segments, templates, journeys and placements and prints an example.
func serveDemo(ctx context.Context, srv *server.Server, dataDir, url string, customers int, hasEvents bool) error {
	prog, err := readDemoLoadState(dataDir)
	if err != nil {
		return err
	}
	if prog != nil && !hasEvents {
		prog = nil // the store was emptied: start over
	}
	switch {
	case prog != nil && prog.Done || prog == nil && hasEvents:
		slog.Info("demo store not loaded: the data directory already holds events")
		return nil
	case prog != nil:
		if prog.Customers != customers {
			slog.Warn("resuming the demo load begun with another --demo-customers", "customers", prog.Customers, "flag", customers)
		}
		customers = prog.Customers
		demoEnd = prog.End
		slog.Info("resuming the demo load", "customers", customers, "left", prog.remaining())
	default:
		prog = &demoLoadState{Customers: customers, End: demoEnd}
		for i := range demoProducers {
			from, _ := demoRange(customers, demoProducers, i)
			prog.Next = append(prog.Next, from)
		}
		if err := prog.save(dataDir); err != nil {
			return fmt.Errorf("demo progress: %w", err)
		}
	}
	if err := loadDemo(ctx, srv, dataDir, prog); err != nil {
		return err
	}
	saveDemoSegments(ctx, srv)
	if n, err := srv.SaveDemoMessages(); err != nil {
		slog.Error("saving demo templates", "err", err)
	} else {
		fmt.Printf("tailor: %d demo templates and coupon pools saved (GET /api/templates)\n", n)
	}
	saveDemoJourneys(srv)
	saveDemoPlacements(srv)
	prog.Done = true
	if err := prog.save(dataDir); err != nil {
		return fmt.Errorf("demo progress: %w", err)
	}
	printDemoExample(ctx, os.Stdout, srv, url, customers)
	return nil
}

// demoProducers is how many goroutines generate and append the demo
// store, one per core of the machines it was tuned on. Each owns a range
// of customers, whose messages stay in order within it.
const demoProducers = 2

// loadDemo feeds the deterministic demo store through the ingest pipeline
// in-process: products into the catalog, messages into the log. It starts
// each producer at prog.Next and records in prog each chunk of customers
// the log has acknowledged.
func loadDemo(ctx context.Context, srv *server.Server, dataDir string, prog *demoLoadState) error {
	start := time.Now()
	customers := prog.Customers
	// A bulk load: the stores' jobs at full speed (server.Config.FlushDuty).
	defer srv.HoldPacing()()
	startDemoExperiment(srv) // before the history: its exposures are woven in
	g := demo.New(demoConfig(customers))
	var products []catalog.Product
	putProducts := func() error {
		err := srv.Catalog.Put(ctx, products)
		products = products[:0]
		return err
	}
	err := g.Products(func(p catalog.Product) error {
		if products = append(products, p); len(products) == 1000 {
			return putProducts()
		}
		return nil
	})
	if err == nil && len(products) > 0 {
		err = putProducts()
	}
	if err != nil {
		return fmt.Errorf("demo products: %w", err)
	}
	left := prog.remaining()
	var total, rejected, done atomic.Int64
	stopProgress := make(chan struct{})
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				slog.Info("loading demo store", "events", total.Load(), "events_per_s", int(float64(total.Load())/time.Since(start).Seconds()),
					"customers_left", left-int(done.Load()))
			}
		}
	}()
	defer close(stopProgress)
	var progMu sync.Mutex
	eg, ectx := errgroup.WithContext(ctx)
	for i := range prog.Next {
		from := prog.Next[i] // producer i alone writes it, once started
		_, to := demoRange(customers, len(prog.Next), i)
		if from >= to {
			continue
		}
		eg.Go(func() error {
			gen := demo.New(demoConfig(customers))
			batch := make([][]byte, 0, 1000)
			flush := func() error {
				n, rej, err := srv.Ingest.AppendRaw(ectx, srv.SourceID, batch)
				total.Add(int64(n))
				rejected.Add(int64(len(rej)))
				batch = batch[:0]
				return err
			}
			for c := from; c < to; c += demoChunk {
				end := min(c+demoChunk, to)
				err := gen.MessagesRange(c, end, func(msg []byte) error {
					batch = append(batch, append([]byte(nil), msg...))
					if x := demoExposure(msg, demoEnd); x != nil {
						batch = append(batch, x)
					}
					if len(batch) >= 1000 {
						return flush()
					}
					return ectx.Err()
				})
				if err == nil && len(batch) > 0 {
					err = flush()
				}
				if err != nil {
					return err
				}
				done.Add(int64(end - c))
				progMu.Lock()
				prog.Next[i] = end
				err = prog.save(dataDir)
				progMu.Unlock()
				if err != nil {
					return fmt.Errorf("demo progress: %w", err)
				}
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	slog.Info("demo store loaded", "customers", customers, "events", total.Load(), "rejected", rejected.Load(),
		"took", time.Since(start).Round(time.Millisecond))
	if err := srv.SettleStore(ctx); err != nil {
		return err
	}
	fmt.Printf("tailor: demo store loaded: %d customers, %d events\n", customers, total.Load())
	return nil
}

// saveDemoSegments saves the ready-made segments of the demo store. Only a
// store just loaded gets them: on a later start they are there already,
// perhaps edited or deleted on purpose. It first lets the processor apply
// the demo events (for up to a minute) and recomputes the models, so that
// the spend tiers rank the loaded customers rather than waiting for the
// hourly refresh.
func saveDemoSegments(ctx context.Context, srv *server.Server) {
	deadline := time.Now().Add(time.Minute)
	for srv.Proc.LagEvents() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	srv.Segments.RefreshModels(time.Now())
	n := 0
	for _, def := range segment.DemoSegments() {
		if _, err := srv.Segments.Save(def); err != nil {
			slog.Error("saving demo segment", "segment", def.ID, "err", err)
			continue
		}
		n++
	}
	fmt.Printf("tailor: %d demo segments saved (GET /api/segments)\n", n)
}

// printDemoExample prints a customer of the demo store who has orders, and
// curl lines that look up its profile and timeline, ready to paste. It waits
// until that profile shows the orders the generator gave the customer, so the
// look-up answers as soon as the lines appear; it waits on the profile, not on
// the processor lag, because live traffic may keep the lag above zero. It
// prints nothing when the store cannot hold such a profile (a tiny demo store,
// or a data directory filled with something else).
func printDemoExample(ctx context.Context, w io.Writer, srv *server.Server, baseURL string, customers int) {
	c, want, ok := demo.New(demoConfig(customers)).Example()
	if !ok {
		slog.Info("the demo store has no customer with an order to show")
		return
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var p profile.Snapshot
	for {
		// Lag first: when it reads 0, everything loaded before was applied,
		// so a look-up after it that still misses the orders never will.
		idle := srv.Proc.LagEvents() == 0
		var found bool
		if p, found = srv.Store.Lookup("user_id:" + c.UserID); found && p.Computed.Orders >= int64(want) {
			break
		}
		if idle {
			slog.Info("no demo example to show: the store lacks the example customer's orders", "user_id", c.UserID, "found", found)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	orders := "orders"
	if p.Computed.Orders == 1 {
		orders = "order"
	}
	auth := shellQuote("Authorization: Bearer " + srv.AdminToken)
	profileURL := baseURL + "/api/profiles/" + url.PathEscape(c.UserID)
	fmt.Fprintf(w, "tailor: example customer: %s (%d %s, %.2f revenue); its profile and timeline:\n",
		c.UserID, p.Computed.Orders, orders, p.Computed.TotalRevenue)
	fmt.Fprintf(w, "  curl -H %s %s\n", auth, shellQuote(profileURL))
	fmt.Fprintf(w, "  curl -H %s %s\n", auth, shellQuote(profileURL+"/timeline"))
}

// shellQuote returns s as one POSIX shell word: unchanged when it holds only
// characters no shell treats specially, else in single quotes.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
