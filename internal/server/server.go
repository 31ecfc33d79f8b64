// Package server wires Tailor's parts into one running node: the Pebble
// store, the event log, the processor, ingest, the admin API and metrics, and
// owns their start-up and ordered shutdown.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tailor/internal/admin"
	"tailor/internal/auth"
	"tailor/internal/catalog"
	"tailor/internal/deliver"
	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/experiment"
	"tailor/internal/identity"
	"tailor/internal/ingest"
	"tailor/internal/journey"
	"tailor/internal/live"
	"tailor/internal/outbox"
	"tailor/internal/processor"
	"tailor/internal/profile"
	"tailor/internal/recommend"
	"tailor/internal/segment"
	"tailor/internal/stats"
	"tailor/internal/store"
	"tailor/internal/web"
)

// Config is every option of a node, with defaults from Defaults.
type Config struct {
	DataDir    string
	Addr       string
	WriteKey   string // default: generated at first start and persisted
	AdminToken string // default: generated at first start and persisted
	// AdminEmail and AdminPassword make the first dashboard account (an
	// admin) when the data directory has none; later starts ignore them.
	// Default email admin@tailor.local; default password: generated.
	AdminEmail    string
	AdminPassword string
	// Partitions of the log; fixed when the data directory is created.
	Partitions   int
	DedupeWindow time.Duration
	// CheckpointEvery is how often changed profiles are persisted; a restart
	// replays about this much of the log (up to twice, when a checkpoint
	// was under way). 4 s: at 40 k events/s a checkpoint writes about as
	// much as one 2 s apart would (a busy shop's active customers are all
	// changed within 2 s), so twice as far apart pauses the processor half
	// as often (docs/ARCHITECTURE.md, "Checkpoints every 4 s").
	CheckpointEvery time.Duration
	// CacheBytes is Pebble's block cache size.
	CacheBytes int64
	// HotProfiles is how many profiles keep their state decoded in memory;
	// the others are held encoded (see internal/profile/hot.go).
	HotProfiles int
	// ProcessorQueue is how many acknowledged events may wait for the
	// processor before the log writer (and so every acknowledgement) waits
	// for it, unless ProcessorOverflow. It absorbs the processor's pauses
	// (checkpoints, garbage collection, a Pebble flush taking one of the
	// cores) without holding up acknowledgements: at 40,000 events/s the
	// default is 0.8 s of events, at most about 110 MB of decoded events
	// (3.3 KB each for the demo's). Default 32,768.
	ProcessorQueue int
	// ProcessorOverflow lets a full processor queue overflow to the log
	// instead of holding up acknowledgements: the processor reads the
	// entries back from the log (processor.SetOverflow). Ingest then never
	// waits for the processor, whose lag grows instead, and each event
	// read back is decoded a second time. Off by default: measured on the
	// 1 M-customer store (docs/ARCHITECTURE.md), it took more events in a
	// closed loop but did not lower ack latency at a steady rate.
	ProcessorOverflow bool
	// LogCompression stores the log's values compressed with a dictionary
	// trained from the store's first messages (eventlog.Options.Compress):
	// less to write, flush and compact for every event. Default on.
	LogCompression bool
	// FlushDuty and CompactionDuty are the shares of the clock the stores'
	// flushes and compactions may work while the server serves (see
	// store.Pacer): a lower peak for the same work, so that requests do
	// not queue behind a burst of it. 0 leaves them unpaced. Defaults
	// store.DefaultFlushDuty and store.DefaultCompactionDuty.
	FlushDuty, CompactionDuty float64
	// Identity is the identity resolution rules (see package identity).
	// Changing them affects the events applied after the change; a replay
	// from scratch (tailor verify) applies the rules it is given to all.
	Identity identity.Rules

	// Models are the lifecycle thresholds of the segment models.
	Models segment.ModelOptions
	// JourneyOutbox takes the messages journeys send (nil: they are
	// counted in the journeys' figures and dropped); GlobalHoldout is the
	// percentage of profiles that never get journey sends.
	JourneyOutbox journey.Enqueuer
	GlobalHoldout float64
	// JourneyTimeScale makes journey time run faster, for tests (see
	// journey.Options.TimeScale); 0 or 1 is real time.
	JourneyTimeScale float64

	// Slow and many clients. A connection costs a goroutine and buffers
	// whatever its client does, so every phase of a request has a deadline
	// and the connections have a bound.

	// HeaderReadTimeout bounds reading a request's headers. Default 10s.
	HeaderReadTimeout time.Duration
	// BodyReadTimeout bounds reading a whole request, headers and body: a
	// client still sending after it gets 408 and loses the connection.
	// Default 60s, enough for a full 500 KB batch at 100 kbit/s.
	BodyReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of a request's headers to
	// the end of its answer (handling included): a client that does not read
	// its answer loses the connection. Default 60s.
	WriteTimeout time.Duration
	// MaxConnections bounds the open client connections, idle keep-alive
	// ones included; further clients wait to be accepted. Default 4096.
	MaxConnections int
	// MaxBodyKeyedRequests bounds the Tracking API requests that read a body
	// carrying their write key (analytics.js) at once; past it they get 503
	// and retry. A key in the Authorization header is checked before the
	// body is read, so only these requests can be held open by clients
	// without a key. Below MaxConnections, so that such clients cannot take
	// every connection. Default 256.
	MaxBodyKeyedRequests int

	// DoubleOptIn makes an email marketing grant wait for its confirmation
	// link. Topics are the preference center's topics (default
	// DefaultTopics).
	DoubleOptIn bool
	Topics      []string
	// RecommendSegments are the segments whose bestsellers for_you offers
	// a profile with no history, in order (recommend.Options.FallbackSegments).
	RecommendSegments []string
	// Delivery configures the delivery workers, send policy and channels.
	Delivery deliver.Config
}

// valueBytes is one form of tailor_log_value_bytes_total.
func valueBytes(form string, f func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tailor_log_value_bytes_total",
		Help:        "Bytes of the events appended to the log since start, as received (form=\"received\") and as stored, compressed once the log has a dictionary (form=\"stored\").",
		ConstLabels: prometheus.Labels{"form": form}}, f)
}

// DefaultCacheBytes is the default size of the store's block cache. In a
// 1 M-customer demo store that benchmarks had grown to 12 GB, 128 MiB held
// too few of the sstables' filter and index blocks: every confirming read
// of a repeated messageId read megabyte filter blocks from disk in the
// serial log writer (70 % of its time), and ingest went from 23.5 k to
// 30.4 k events/s (ack p99 480 → 121 ms, same run) with 1 GiB. The cache
// takes memory only as blocks are read.
const DefaultCacheBytes = 1 << 30

// HoldPacing runs the stores' flushes and compactions unpaced (see
// Config.FlushDuty) until the returned func is called: for bulk loads,
// which want them at full speed.
func (s *Server) HoldPacing() (release func()) {
	if p := s.stores.Pacer(); p != nil {
		return p.Hold()
	}
	return func() {}
}

// SettleStore compacts the whole store after a bulk load (store.Settle),
// saying how long it took. Its compactions are not paced.
func (s *Server) SettleStore(ctx context.Context) error {
	defer s.HoldPacing()()
	start := time.Now()
	if err := s.stores.Each(func(name string, db *pebble.DB) error { return store.Settle(ctx, db) }); err != nil {
		return fmt.Errorf("settling the stores: %w", err)
	}
	slog.Info("store settled after the load", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{
		DataDir:         "./tailor-data",
		Addr:            "127.0.0.1:8080",
		AdminEmail:      "admin@tailor.local",
		Partitions:      8,
		DedupeWindow:    7 * 24 * time.Hour,
		CheckpointEvery: profile.DefaultCheckpointInterval,
		CacheBytes:      DefaultCacheBytes,
		HotProfiles:     profile.DefaultHot,
		Identity:        identity.Defaults(),
		ProcessorQueue:  1 << 15,
		LogCompression:  true,
		FlushDuty:       store.DefaultFlushDuty,
		CompactionDuty:  store.DefaultCompactionDuty,

		HeaderReadTimeout:    10 * time.Second,
		BodyReadTimeout:      60 * time.Second,
		WriteTimeout:         60 * time.Second,
		MaxConnections:       4096,
		MaxBodyKeyedRequests: ingest.DefaultBodyKeyedLimit,
	}
}

// Validate reports configuration mistakes in words a newcomer understands.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: want host:port, e.g. 127.0.0.1:8080", c.Addr))
	}
	if _, err := auth.NormalizeEmail(c.AdminEmail); err != nil {
		errs = append(errs, fmt.Errorf("--admin-email: %w", err))
	}
	if c.AdminPassword != "" {
		if err := auth.CheckPassword(c.AdminPassword); err != nil {
			errs = append(errs, fmt.Errorf("--admin-password: %w", err))
		}
	}
	if c.Partitions < 1 || c.Partitions > 4096 {
		errs = append(errs, fmt.Errorf("--partitions must be between 1 and 4096, got %d", c.Partitions))
	}
	if c.DedupeWindow < time.Hour {
		errs = append(errs, fmt.Errorf("--dedupe-window must be at least 1h, got %s", c.DedupeWindow))
	}
	if c.HotProfiles < 1 {
		errs = append(errs, fmt.Errorf("--hot-profiles must be at least 1, got %d", c.HotProfiles))
	}
	if c.CheckpointEvery <= 0 {
		errs = append(errs, errors.New("checkpoint interval must be positive"))
	}
	if c.FlushDuty < 0 || c.FlushDuty > 1 {
		errs = append(errs, fmt.Errorf("--flush-duty must be between 0 (not paced) and 1, got %g", c.FlushDuty))
	}
	if c.CompactionDuty < 0 || c.CompactionDuty > 1 {
		errs = append(errs, fmt.Errorf("--compaction-duty must be between 0 (not paced) and 1, got %g", c.CompactionDuty))
	}
	if c.ProcessorQueue < 1 {
		errs = append(errs, fmt.Errorf("--processor-queue must be at least 1, got %d", c.ProcessorQueue))
	}
	if err := c.Models.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--lifecycle: %w", err))
	}
	if err := c.Identity.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Delivery.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--header-read-timeout", c.HeaderReadTimeout}, {"--body-read-timeout", c.BodyReadTimeout}, {"--write-timeout", c.WriteTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, e.g. 30s, got %s", d.flag, d.v))
		}
	}
	if c.BodyReadTimeout > 0 && c.HeaderReadTimeout > c.BodyReadTimeout {
		errs = append(errs, fmt.Errorf("--header-read-timeout (%s) must not be longer than --body-read-timeout (%s), which includes the headers", c.HeaderReadTimeout, c.BodyReadTimeout))
	}
	if c.MaxConnections < 2 {
		errs = append(errs, fmt.Errorf("--max-connections must be at least 2, got %d", c.MaxConnections))
	}
	if c.MaxBodyKeyedRequests < 1 || c.MaxBodyKeyedRequests >= c.MaxConnections {
		errs = append(errs, fmt.Errorf("--max-body-keyed-requests must be at least 1 and below --max-connections (%d), so that clients sending the write key in the body cannot take every connection; got %d", c.MaxConnections, c.MaxBodyKeyedRequests))
	}
	return errors.Join(errs...)
}

// Server is one running node.
type Server struct {
	cfg    Config
	stores *store.Stores
	// db is the state's store, the log's is stores.Log (store.Stores).
	db       *pebble.DB
	lapAt    time.Time // when the start's current step began (see lap)
	Log      *eventlog.Log
	Store    *profile.Store
	Proc     *processor.Processor
	Ingest   *ingest.Handler
	Catalog  *catalog.Store
	Segments *segment.Engine
	Journeys *journey.Engine
	Sources  *ingest.Sources
	Rejected *ingest.Rejected
	Registry *prometheus.Registry
	// Accounts are the dashboard's accounts and sessions.
	Accounts *auth.Service

	// Experiments assigns variants and keeps experiment results (exp.go).
	Experiments *experiment.Engine
	// Recommend is the recommendation engine (recommend.go).
	Recommend *recommend.Engine

	// AdminEmail is the first admin account's email, and AdminPassword its
	// password when this start created it ("" on later starts): shown once.
	AdminEmail    string
	AdminPassword string
	// Stats keeps the overview's figures over time; Live fans accepted and
	// rejected messages out to the live events debugger.
	Stats *stats.Sampler
	Live  *live.Hub
	// Messages, consent, coupons and signed links (messages.go).
	messaging
	// Placements and the decision API (decide.go).
	decisions
	// Delivery is the outbox (Delivery.Outbox, an outbox.Enqueuer for
	// engines) and the delivery workers.
	Delivery      delivery
	deliverPolicy *deliver.Policy

	WriteKey   string
	AdminToken string
	SourceID   string

	checkpointPause prometheus.Histogram
	checkpointParts *prometheus.HistogramVec
	checkpointBytes prometheus.Counter
	segmentLatency  prometheus.Histogram

	ready    atomic.Bool
	httpSrv  *http.Server
	listener net.Listener
	procDone chan struct{}
	bgCancel context.CancelFunc
	bgWG     sync.WaitGroup
	closeOne sync.Once
}

// StoreMetrics is Pebble's table of each store's levels, compactions,
// caches and write-ahead log, for the debug server.
func (s *Server) StoreMetrics() string {
	var b strings.Builder
	s.stores.Each(func(name string, db *pebble.DB) error {
		fmt.Fprintf(&b, "store %q\n%s\n", name, db.Metrics())
		return nil
	})
	return b.String()
}

// OpenDB opens the state's store of a data directory (store.Stores), for
// tools that read or change settings and accounts.
func OpenDB(dir string, cacheBytes int64) (*pebble.DB, error) {
	return store.OpenState(dir, cacheBytes)
}

// Open opens (or creates) the data directory, loads the profiles and replays
// the log tail. It does not listen yet: call Start.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	began := time.Now()
	st, err := store.OpenStores(cfg.DataDir, cfg.CacheBytes)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, stores: st, db: st.State, procDone: make(chan struct{}), lapAt: began}
	s.lap("store opened")
	if err := s.open(ctx); err != nil {
		if s.Log != nil {
			s.Log.Close() // its filters may still be loading from the store
		}
		st.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) open(ctx context.Context) error {
	var err error
	if s.WriteKey, err = s.setting(store.PrefixConfig+"write_key", s.cfg.WriteKey, randomKey); err != nil {
		return err
	}
	if s.AdminToken, err = s.setting(store.PrefixConfig+"admin_token", s.cfg.AdminToken, randomKey); err != nil {
		return err
	}
	parts, err := s.setting(store.PrefixConfig+"partitions", fmt.Sprint(s.cfg.Partitions), nil)
	if err != nil {
		return err
	}
	var p int
	fmt.Sscan(parts, &p)
	if p != s.cfg.Partitions {
		slog.Warn("data directory was created with a different partition count; keeping it", "partitions", p, "requested", s.cfg.Partitions)
	}
	if s.Accounts, err = auth.Open(s.db, auth.Options{}); err != nil {
		return err
	}
	if s.AdminPassword, err = s.Accounts.Bootstrap(s.cfg.AdminEmail, s.cfg.AdminPassword); err != nil {
		return err
	}
	s.AdminEmail, _ = auth.NormalizeEmail(s.cfg.AdminEmail)
	s.SourceID = "default"
	if s.Sources, err = ingest.LoadSources(s.db); err != nil {
		return fmt.Errorf("load sources: %w", err)
	}
	if err := s.Sources.Ensure(s.SourceID, "Default source", s.WriteKey); err != nil {
		return err
	}

	if s.Log, err = eventlog.Open(s.stores.Log, eventlog.Options{Partitions: p, DedupeWindow: s.cfg.DedupeWindow, Compress: s.cfg.LogCompression}); err != nil {
		return err
	}
	// The outbox opens before the appliers: the journey engine enqueues
	// while the log replays.
	if s.Delivery.Outbox, err = outbox.Open(s.db); err != nil {
		return err
	}
	s.Store = profile.NewStore()
	s.Store.SetHot(s.cfg.HotProfiles)
	s.Store.SetCheckpointInterval(s.cfg.CheckpointEvery)
	s.Store.SetIdentityRules(s.cfg.Identity)
	// The segment engine takes each profile's traits as the store loads
	// it, from the decoding the store does anyway.
	s.Segments = segment.NewEngine(segment.Options{DB: s.db, Profiles: s.Store, Record: s.recordTransitions, Models: s.cfg.Models})
	if err := s.Segments.Prepare(); err != nil {
		return fmt.Errorf("load segments: %w", err)
	}
	if n, err := profile.MigrateMerges(s.db); err != nil {
		return err
	} else if n > 0 {
		slog.Info("moved merge records to the per-profile format", "records", n)
	}
	s.lap("settings, accounts and segment definitions loaded")
	if err := s.Store.LoadEach(s.db, s.Segments.LoadProfile); err != nil {
		return fmt.Errorf("load profiles: %w", err)
	}
	s.lap("profiles loaded")
	// Engines register here, after the profiles, in the order they read
	// each other's state.
	s.Proc = processor.New(s.Store, s.cfg.ProcessorQueue)
	if s.cfg.ProcessorOverflow {
		s.Proc.SetOverflow(s.Log)
	}
	if err := s.Proc.Load(s.db); err != nil {
		return err
	}
	// A checkpoint names only seqs the log had synced, so a log that ends
	// before it lost entries (or is not this state's): the next appends
	// would reuse seqs the processor takes for applied, and skip them.
	if applied, last := s.Proc.Applied(), s.Log.LastSeq(); applied > last {
		return fmt.Errorf("the state has applied the log up to seq %d, but the log ends at seq %d: its entries are missing (data directory %s)", applied, last, s.cfg.DataDir)
	}
	s.Proc.Register(s.Segments)
	if err := s.openConsent(); err != nil {
		return err
	}
	s.lap("consent loaded")
	if err := s.openExperiments(); err != nil { // before journeys: their ab steps assign through it
		return err
	}
	if err := s.openJourneys(); err != nil {
		return err
	}
	if err := s.openPlacementStats(); err != nil {
		return err
	}
	s.lap("experiments, journeys and placements loaded")
	// The recommendation models and the segment index load at once, a
	// core each (10 and 16 s of a 1 M-customer store's start, each on one
	// core); the backfill needs every engine's state loaded.
	recLoaded := s.openRecommend()
	from := s.Proc.Applied()
	start := time.Now()
	if err := s.Segments.Load(ctx, s.Log, from, func(n uint64) {
		slog.Info("building the segment index", "events", n)
	}); err != nil {
		<-recLoaded
		return err
	}
	if from > 0 {
		st := s.Segments.Index().Stats()
		slog.Info("segment index loaded", "events", st.Events, "profiles", st.Profiles, "mb", st.Bytes>>20, "took", time.Since(start).Round(time.Millisecond))
	}
	if err := <-recLoaded; err != nil {
		return err
	}
	s.lap("segment index and recommendations loaded")
	if err := s.backfill(ctx, from); err != nil {
		return err
	}
	s.feedReachability()
	// Segments are live from here: the replay below evaluates its events as
	// they were evaluated before a restart.
	s.Segments.Begin()
	behind := s.Log.LastSeq() - min(from, s.Log.LastSeq())
	if behind > 0 {
		slog.Info("replaying log", "from_seq", from, "events", behind)
	}
	n, err := s.Proc.Replay(ctx, s.Log, func(n uint64) {
		slog.Info("replaying log", "done", n, "of", behind)
	})
	if err != nil {
		return err
	}
	slog.Info("profiles ready", "profiles", s.Store.Len(), "replayed", n, "took", time.Since(start).Round(time.Millisecond))
	s.lapAt = time.Now()

	s.Rejected = ingest.NewRejected(s.db)
	s.Catalog = catalog.NewStore(s.db)
	s.Registry = prometheus.NewRegistry()
	s.Registry.MustRegister(newGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.Ingest = ingest.NewHandler(s.Log, s.Sources, s.Rejected, s.Registry)
	s.Ingest.BodyKeyedLimit = s.cfg.MaxBodyKeyedRequests
	s.registerGauges()
	if err := s.openMessages(); err != nil {
		return err
	}
	if err := s.openDelivery(); err != nil {
		return fmt.Errorf("open delivery: %w", err)
	}
	s.wireMessaging()
	if err := s.openDecide(); err != nil {
		return err
	}
	s.wireRecommendations()
	if err := s.openDashboardData(); err != nil {
		return err
	}
	s.lap("messages, delivery, decide and dashboard opened")
	return nil
}

// lap logs how long the start's last step took: on a big store the start
// takes minutes, and this says where.
func (s *Server) lap(step string) {
	now := time.Now()
	slog.Info("start", "step", step, "took", now.Sub(s.lapAt).Round(time.Millisecond))
	s.lapAt = now
}

// setting returns the persisted value of key; on first start it stores
// override, or gen() when override is empty. A non-empty override replaces
// the stored value (flags and TAILOR_* env win over the data directory).
func (s *Server) setting(key, override string, gen func() string) (string, error) {
	v, closer, err := s.db.Get([]byte(key))
	if err == nil {
		stored := string(v)
		closer.Close()
		if override == "" || gen == nil || override == stored {
			return stored, nil
		}
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return "", err
	}
	val := override
	if val == "" {
		val = gen()
	}
	return val, s.db.Set([]byte(key), []byte(val), pebble.Sync)
}

func randomKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) registerGauges() {
	s.checkpointPause = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tailor_checkpoint_pause_seconds",
		Help:    "How long each checkpoint stopped the processor (encoding changed state into the batch).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	// Where a pause goes, per writer: under load at 40 k events/s into the
	// 1 M store, pauses of 40–300 ms were mostly the profiles' (30–190 ms),
	// then the segment index's and recommend's.
	s.checkpointParts = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tailor_checkpoint_part_seconds",
		Help:    "Each part of a checkpoint's pause: the profiles, then each applier (a split applier's first part).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"part"})
	s.segmentLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tailor_segment_transition_seconds",
		Help:    "From an event's receipt to the segment_entered/segment_exited event it caused being durable in the log.",
		Buckets: []float64{.001, .002, .005, .01, .02, .03, .04, .05, .075, .1, .15, .2, .3, .5, 1, 2, 5, 10}})
	s.checkpointBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "tailor_checkpoint_bytes_total",
		Help: "Bytes written by checkpoints since start."})
	s.Registry.MustRegister(s.checkpointPause, s.checkpointParts, s.checkpointBytes,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tailor_processor_lag_events",
			Help: "Acknowledged events not yet applied to profiles."}, func() float64 { return float64(s.Proc.LagEvents()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tailor_processor_lag_seconds",
			Help: "Age of the oldest acknowledged event not yet applied."}, s.Proc.LagSeconds),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tailor_processor_applied_total",
			Help: "Events applied to profiles since start."}, func() float64 { return float64(s.Proc.AppliedEvents()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tailor_processor_handoff_waits_total",
			Help: "Group commits whose hand-off to the processor waited for room in its queue (--processor-queue), holding up their acknowledgements."},
			func() float64 { n, _ := s.Proc.HandoffWaits(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tailor_processor_handoff_wait_seconds_total",
			Help: "Time group commits waited for room in the processor's queue."},
			func() float64 { _, d := s.Proc.HandoffWaits(); return d.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tailor_processor_overflows_total",
			Help: "With --processor-overflow: times the processor's queue (--processor-queue) was full and hand-offs went on without it, the processor reading the entries back from the log."},
			func() float64 { n, _ := s.Proc.Overflows(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tailor_processor_read_back_total",
			Help: "Acknowledged events the processor read back from the log after its queue overflowed."},
			func() float64 { _, n := s.Proc.Overflows(); return float64(n) }),
		identityCollector{s.Store},
		segmentCollector{s.Segments},
		lockCollector{"profiles": s.Store, "segments": s.Segments, "consent": s.Consent, "experiments": s.Experiments, "recommendations": s.Recommend},
		storeCollector{s.stores},
		s.segmentLatency,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tailor_profiles",
			Help: "Profiles in memory."}, func() float64 { return float64(s.Store.Len()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tailor_log_appended_total",
			Help: "Events appended to the log since start."}, func() float64 { return float64(s.Log.Appended.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tailor_log_dedupe_reads_total",
			Help: "MessageIds the de-duplication filters could not rule out, confirmed with a store read (duplicates and false positives)."},
			func() float64 { return float64(s.Log.DedupeReads()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tailor_log_bytes_total",
			Help: "Bytes of the log's group commits (entries with their timeline and de-duplication keys) since start."}, func() float64 { return float64(s.Log.Bytes.Load()) }),
		valueBytes("received", func() float64 { n, _ := s.Log.ValueBytes(); return float64(n) }),
		valueBytes("stored", func() float64 { _, n := s.Log.ValueBytes(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tailor_log_dictionary",
			Help: "Id of the dictionary the log compresses new events with (0: none yet, or --log-compression=false)."},
			func() float64 { return float64(s.Log.Dictionary()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tailor_log_commits_total",
			Help: "Group commits (synced batches) since start."}, func() float64 { return float64(s.Log.Commits.Load()) }),
	)
}

// Handler is the node's whole HTTP surface.
func (s *Server) Handler() http.Handler {
	guard := &auth.Guard{Token: s.AdminToken, Accounts: s.Accounts}
	api := &admin.API{Token: s.AdminToken, Guard: guard.Wrap, Accounts: s.Accounts.Handler(), Search: s.Segments.SearchTrait, Store: s.Store, Events: s.Log, Merges: profile.MergeLog{DB: s.db}, Rejected: s.Rejected, Sources: s.Sources,
		Catalog: catalog.Handler(s.Catalog), Segments: (&segment.HTTP{Engine: s.Segments, Lookup: s.lookupProfile}).Handler()}
	mux := http.NewServeMux()
	api.ProfileSegments = s.profileSegments
	api.Stats, api.Live = s.Stats, s.Live
	api.Messaging = s.messagingAPI()
	api.Journeys = s.journeysHandler()
	s.deliveryRoutes(mux, guard.Wrap)
	s.experimentRoutes(mux, guard.Wrap)
	s.decideRoutes(mux, guard.Wrap)
	s.predictionRoutes(mux, guard.Wrap)
	s.messageHistoryRoutes(mux, guard.Wrap)
	s.recommendRoutes(mux, guard.Wrap)
	mux.Handle("/v1/", s.Ingest)
	mux.Handle("/api/", api.Handler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !s.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"status":"starting"}`)
			return
		}
		fmt.Fprintln(w, `{"status":"ready"}`)
	})
	s.messagingPublic(mux)
	// The dashboard: its assets and its page paths; the routes above win.
	mux.Handle("/", web.Handler())
	return mux
}

// Start runs the writer, the processor and background work, and listens on
// the configured address. It returns the listening URL.
func (s *Server) Start() (string, error) {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	// Waits for the de-duplication filters (see eventlog.Open).
	if err := s.Log.Start(s.Proc.Sink); err != nil {
		ln.Close()
		return "", err
	}
	ln = newLimitListener(ln, s.cfg.MaxConnections)
	s.listener = ln
	go func() {
		defer close(s.procDone)
		s.Proc.Run()
	}()

	bg, cancel := context.WithCancel(context.Background())
	s.bgCancel = cancel
	s.Segments.Start(bg)
	s.Journeys.Start(bg)
	s.Recommend.Start(bg)
	s.startStats(bg)
	s.startDelivery(bg, "http://"+ln.Addr().String())
	s.startConsent(bg)
	s.startExperiments(bg)
	// Only now: a start's replay and a demo's settling want their jobs at
	// full speed.
	s.stores.Pace(bg, s.cfg.FlushDuty, s.cfg.CompactionDuty)
	s.bgWG.Add(2)
	go func() {
		defer s.bgWG.Done()
		every(bg, s.cfg.CheckpointEvery, func() {
			cs, err := s.Proc.CheckpointStats(s.db)
			if err != nil {
				slog.Error("checkpoint", "err", err)
				return
			}
			if cs.Total > 0 {
				s.checkpointPause.Observe(cs.Pause.Seconds())
				for _, pt := range cs.Parts {
					s.checkpointParts.WithLabelValues(pt.Name).Observe(pt.Took.Seconds())
				}
				s.checkpointBytes.Add(float64(cs.Bytes))
				logSlowCheckpoint(slog.Default(), cs)
			}
		})
	}()
	go func() {
		defer s.bgWG.Done()
		housekeeping := func() {
			if n, err := s.Log.ExpireDedupe(bg, time.Now()); err != nil {
				slog.Error("expire dedupe keys", "err", err)
			} else if n > 0 {
				slog.Info("expired dedupe keys", "n", n)
			}
			if n, err := s.Accounts.SweepSessions(); err != nil {
				slog.Error("sweep expired sessions", "err", err)
			} else if n > 0 {
				slog.Info("swept expired sessions", "n", n)
			}
		}
		// A first run soon after the start folds the de-duplication filters
		// the start loaded (see eventlog.ExpireDedupe): after a restart the
		// day after a big import, every new messageId would otherwise be
		// tested against that day's whole chain for an hour. A minute
		// leaves the start's own work done first.
		select {
		case <-bg.Done():
			return
		case <-time.After(time.Minute):
			housekeeping()
		}
		every(bg, time.Hour, housekeeping)
	}()

	s.httpSrv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.HeaderReadTimeout,
		ReadTimeout:       s.cfg.BodyReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       idleTimeout,
	}
	s.httpSrv.RegisterOnShutdown(s.Live.Close)
	go func() {
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("http server", "err", err)
		}
	}()
	s.ready.Store(true)
	return "http://" + ln.Addr().String(), nil
}

// profileSegments is a profile's segments and computed fields; a profile
// the segment index has not seen yet (no events applied) is in none.
func (s *Server) profileSegments(id string) (any, error) {
	v, err := s.Segments.ProfileView(id)
	if errors.Is(err, segment.ErrNoProfile) {
		return segment.ProfileView{Profile: id, Segments: []segment.SegmentRef{}, Computed: map[string]any{}}, nil
	}
	return v, err
}

// lookupProfile resolves a profile id or identifier key to the current
// profile id.
func (s *Server) lookupProfile(key string) (string, bool) {
	snap, ok := s.Store.Lookup(key)
	return snap.ID, ok
}

// recordTransitions appends segment_entered / segment_exited events for
// membership changes, as the profile's own events (its userId, else an
// anonymousId), so they land on its timeline and journeys can trigger on
// them.
func (s *Server) recordTransitions(ctx context.Context, ts []segment.Transition) error {
	msgs := make([][]byte, 0, len(ts))
	for _, t := range ts {
		var who event.Identifier
		s.Store.View(t.Profile, func(_ *profile.State, ids []event.Identifier) {
			for _, id := range ids {
				if id.Kind == event.KindUserID {
					who = id
					return
				}
				if id.Kind == event.KindAnonymousID && who.Value == "" {
					who = id
				}
			}
		})
		if who.Value == "" {
			continue // merged away meanwhile: its survivor is evaluated anew
		}
		name := segment.EventExited
		if t.Entered {
			name = segment.EventEntered
		}
		m := map[string]any{
			"type": "track", "event": name, "messageId": t.MessageID(),
			"timestamp":  t.At.UTC().Format(time.RFC3339Nano),
			"properties": map[string]any{"segment_id": t.Segment, "segment_name": t.Name},
		}
		if who.Kind == event.KindUserID {
			m["userId"] = who.Value
		} else {
			m["anonymousId"] = who.Value
		}
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		msgs = append(msgs, b)
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := s.Ingest.AppendInternal(ctx, msgs); err != nil {
		return err
	}
	done := time.Now()
	for _, t := range ts {
		if !t.Since.IsZero() {
			s.segmentLatency.Observe(done.Sub(t.Since).Seconds())
		}
	}
	return nil
}

// idleTimeout is how long a keep-alive connection may wait for its next
// request; it holds one of Config.MaxConnections meanwhile.
const idleTimeout = 2 * time.Minute

// slowCheckpoint is the processor's pause past which a checkpoint is
// logged with its parts: several times a usual one at 1 M customers.
const slowCheckpoint = 250 * time.Millisecond

// logSlowCheckpoint logs a checkpoint that paused the processor
// slowCheckpoint or more, with each part of the pause: rare, and what an
// operator chasing a latency spike needs.
func logSlowCheckpoint(l *slog.Logger, cs processor.CheckpointStats) {
	if cs.Pause < slowCheckpoint {
		return
	}
	args := []any{"pause", cs.Pause.Round(time.Millisecond), "total", cs.Total.Round(time.Millisecond), "bytes", cs.Bytes}
	for _, pt := range cs.Parts {
		args = append(args, pt.Name, pt.Took.Round(100*time.Microsecond))
	}
	l.Warn("slow checkpoint", args...)
}

func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// Close shuts down in dependency order: stop accepting requests, finish the
// log's queued appends, drain the processor, checkpoint, close the store.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	s.closeOne.Do(func() {
		s.ready.Store(false)
		if s.httpSrv != nil {
			if err := s.httpSrv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			}
		}
		if s.bgCancel != nil {
			s.bgCancel()
			s.bgWG.Wait()
			s.Log.Close()
			s.Proc.CloseInput()
			<-s.procDone
		} else {
			s.Log.Close() // a failed Start: the filters may still be loading
		}
		if err := s.Proc.Checkpoint(s.db); err != nil {
			errs = append(errs, err)
		}
		// Nobody waits on requests now: the last flushes at full speed.
		s.HoldPacing()
		if err := s.stores.Each(func(_ string, db *pebble.DB) error { return db.Flush() }); err != nil {
			errs = append(errs, err)
		}
		if err := s.stores.Close(); err != nil {
			errs = append(errs, err)
		}
	})
	return errors.Join(errs...)
}
