package loadgen

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Processor lag gauges exported by `tailor serve` (docs/API.md).
const (
	metricLagEvents  = "tailor_processor_lag_events"
	metricLagSeconds = "tailor_processor_lag_seconds"
	// The server's CPU time and applied events, read before and after a
	// run: CPU per event is steadier than a rate on a machine the load
	// generator shares.
	metricCPU     = "process_cpu_seconds_total"
	metricApplied = "tailor_processor_applied_total"
	// When the server process started: a run in the first minutes after a
	// start shares the machine with the start's background work
	// (compactions, filling caches, growing memtables), so the report says
	// how long the server had been up.
	metricStarted = "process_start_time_seconds"
	// How often and how long group commits waited for room in the
	// processor's queue: each such wait held up every acknowledgement, so
	// a tail that these account for is the processor's, not ingest's.
	metricHandoffWaits   = "tailor_processor_handoff_waits_total"
	metricHandoffSeconds = "tailor_processor_handoff_wait_seconds_total"
	// A server whose processor reads a full queue's overflow back from the
	// log (acknowledgements do not wait): how often, and how many events.
	metricOverflows = "tailor_processor_overflows_total"
	metricReadBack  = "tailor_processor_read_back_total"
	// What the stores write: the log's values as received and as stored
	// (form="received", form="stored": compressed), and the WALs (summed
	// over the store label).
	metricValueBytes = "tailor_log_value_bytes_total"
	metricWALBytes   = "tailor_store_wal_bytes_total"
	// And the tables the stores' flushes and compactions wrote (summed over
	// stores and levels): what the WAL's bytes cost again on their way
	// down, a figure that moves with the stores' layout and hardly with the
	// machine's speed.
	metricFlushBytes   = "tailor_store_flush_bytes_total"
	metricCompactBytes = "tailor_store_compaction_bytes_total"
	// The log store's WAL fsync latency histogram (store="log", or
	// "shared" or no label from a server whose log shares the state's
	// store): an acknowledgement waits for one, so a slow disk shows here
	// before anywhere else.
	metricFsyncBucket = "tailor_store_wal_fsync_seconds_bucket"
	// The Go runtime's collector: how many collections, the CPU they took
	// (assists are the part taken from the allocating goroutines, ingest's
	// handlers among them), the bytes allocated, and the pointer-holding
	// heap a collection has to scan (which sets how long marking takes).
	metricGCs        = "go_gc_duration_seconds_count"
	metricGCCPU      = "go_cpu_classes_gc_total_cpu_seconds_total"
	metricGCAssist   = "go_cpu_classes_gc_mark_assist_cpu_seconds_total"
	metricAllocBytes = "go_memstats_alloc_bytes_total"
	metricScanHeap   = "go_gc_scan_heap_bytes"
	// How long checkpoints stopped the processor, and where each pause
	// went (part="profiles", then each applier): events queue meanwhile.
	metricCPPauseSum   = "tailor_checkpoint_pause_seconds_sum"
	metricCPPauseCount = "tailor_checkpoint_pause_seconds_count"
	metricCPPartSum    = "tailor_checkpoint_part_seconds_sum"
	// How long the stores' flushes and compactions ran, and how many
	// finished (labels store and job): each takes a core while it runs, so
	// the seconds they ran in are laid beside the others' latencies.
	metricStoreWork = "tailor_store_background_seconds_total"
	metricStoreJobs = "tailor_store_background_jobs_total"
	// Pebble's write stalls (too many memtables waiting for a flush, too
	// many L0 sublevels): every write of a stalled store waits, and the
	// log's are the acknowledgements.
	metricStalls      = "tailor_store_write_stalls_total"
	metricStallSecond = "tailor_store_write_stall_seconds_total"
	// How long the stores' flushes and compactions slept to keep to their
	// share of the clock (the server's --flush-duty, --compaction-duty).
	metricPaced = "tailor_store_paced_seconds_total"
)

// busySecond is the store work (job-seconds a second) from which a second
// of the run counts as one the stores' background jobs ran in: Pebble's
// moves of a table to the next level take no time and are left out.
const busySecond = 0.25

// slowFsync (seconds) is the WAL fsync from which a progress line names its
// second's slowest: a run's fsyncs are mostly a few milliseconds, and past
// this one the acknowledgements waiting on it show it in their p99.
const slowFsync = 0.025

// lagGauges is one reading of the processor lag.
type lagGauges struct {
	events      float64 // acknowledged but not yet applied
	seconds     float64 // age of the oldest acknowledged, unapplied event
	hasEvents   bool
	hasSeconds  bool
	cpu         float64 // the server process's CPU seconds
	applied     float64 // events the processor applied
	hasCPU      bool
	started     float64 // the server process's start, Unix seconds; 0 unknown
	handoffs    float64 // group commits that waited for the processor's queue
	handoffSec  float64 // their total wait
	hasHandoff  bool
	overflows   float64 // times the processor's queue overflowed to the log
	readBack    float64 // events read back from the log
	hasOverflow bool
	valueIn     float64 // bytes of the log's values as received
	valueOut    float64 // and as stored
	hasValues   bool
	wal         float64 // bytes written to the store's WAL
	hasWAL      bool
	flushed     float64 // bytes of tables the stores' flushes wrote
	compacted   float64 // and their compactions
	hasTables   bool
	fsyncs      PromHistogram // the store's WAL fsyncs (seconds)
	gcs         float64       // collections completed
	gcCPU       float64       // CPU seconds the collector took
	gcAssist    float64       // of which assists
	hasGCCPU    bool
	alloc       float64 // bytes allocated on the Go heap
	hasAlloc    bool
	scanHeap    float64 // pointer-holding heap bytes at the last collection's start
	cpPause     float64 // seconds checkpoints stopped the processor
	cpCount     float64 // checkpoints that did
	hasCP       bool
	cpParts     map[string]float64 // seconds of those pauses by part
	work        float64            // seconds the stores' background jobs ran
	hasWork     bool
	workBy      map[string]float64 // of which by "store job" ("log flush")
	jobsBy      map[string]float64 // jobs finished by "store job"
	stalls      float64            // write stalls begun
	stalled     float64            // seconds writes stalled
	hasStalls   bool
	paced       float64 // seconds the stores' jobs slept to keep to their duty
	hasPaced    bool
	at          time.Time
}

// parseLag reads the lag gauges from Prometheus text exposition. The gauges
// are expected without labels; if a server exports them per label set (say,
// per partition), events are summed and seconds take the maximum.
func parseLag(text []byte) (lagGauges, error) {
	var g lagGauges
	for len(text) > 0 {
		var line []byte
		line, text, _ = bytes.Cut(text, []byte{'\n'})
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var name string
		for _, m := range [...]string{metricLagEvents, metricLagSeconds, metricCPU, metricApplied, metricStarted, metricHandoffWaits, metricHandoffSeconds, metricOverflows, metricReadBack, metricValueBytes, metricWALBytes, metricFlushBytes, metricCompactBytes, metricFsyncBucket, metricGCs, metricGCCPU, metricGCAssist, metricAllocBytes, metricScanHeap, metricCPPauseSum, metricCPPauseCount, metricCPPartSum, metricStoreWork, metricStoreJobs, metricStalls, metricStallSecond, metricPaced} {
			if hasMetricName(line, m) {
				name = m
				break
			}
		}
		if name == "" {
			continue
		}
		v, err := sampleValue(line)
		if err != nil {
			return g, err
		}
		switch name {
		case metricLagEvents:
			g.events += v
			g.hasEvents = true
		case metricLagSeconds:
			g.seconds = max(g.seconds, v)
			g.hasSeconds = true
		case metricCPU:
			g.cpu, g.hasCPU = v, true
		case metricApplied:
			g.applied += v
		case metricStarted:
			g.started = v
		case metricHandoffWaits:
			g.handoffs += v
			g.hasHandoff = true
		case metricHandoffSeconds:
			g.handoffSec += v
		case metricOverflows:
			g.overflows += v
			g.hasOverflow = true
		case metricReadBack:
			g.readBack += v
		case metricValueBytes:
			switch {
			case bytes.Contains(line, []byte(`form="received"`)):
				g.valueIn += v
				g.hasValues = true
			case bytes.Contains(line, []byte(`form="stored"`)):
				g.valueOut += v
			}
		case metricWALBytes:
			g.wal += v
			g.hasWAL = true
		case metricFlushBytes:
			g.flushed += v
			g.hasTables = true
		case metricCompactBytes:
			g.compacted += v
			g.hasTables = true
		case metricFsyncBucket:
			if st, ok := labelValue(line, "store"); ok && st != "log" && st != "shared" {
				continue
			}
			if err := g.fsyncs.parseBucket(line); err != nil {
				return g, err
			}
		case metricGCs:
			g.gcs = v
		case metricGCCPU:
			g.gcCPU, g.hasGCCPU = v, true
		case metricGCAssist:
			g.gcAssist = v
		case metricAllocBytes:
			g.alloc, g.hasAlloc = v, true
		case metricScanHeap:
			g.scanHeap = v
		case metricCPPauseSum:
			g.cpPause, g.hasCP = v, true
		case metricCPPauseCount:
			g.cpCount = v
		case metricStoreWork:
			g.work, g.hasWork = g.work+v, true
			g.workBy = addTo(g.workBy, storeJobName(line), v)
		case metricStoreJobs:
			g.jobsBy = addTo(g.jobsBy, storeJobName(line), v)
		case metricStalls:
			g.stalls, g.hasStalls = g.stalls+v, true
		case metricStallSecond:
			g.stalled += v
		case metricPaced:
			g.paced, g.hasPaced = g.paced+v, true
		case metricCPPartSum:
			if part, ok := labelValue(line, "part"); ok {
				g.cpParts = addTo(g.cpParts, part, v)
			}
		}
	}
	return g, nil
}

// addTo adds v to m[k], making m if it is nil, and returns m.
func addTo(m map[string]float64, k string, v float64) map[string]float64 {
	if m == nil {
		m = make(map[string]float64)
	}
	m[k] += v
	return m
}

// storeJobName names a store job series by its labels: "log flush".
func storeJobName(line []byte) string {
	st, _ := labelValue(line, "store")
	job, _ := labelValue(line, "job")
	return st + " " + job
}

// hasMetricName reports whether the sample line is for exactly the metric name.
func hasMetricName(line []byte, name string) bool {
	if !bytes.HasPrefix(line, []byte(name)) || len(line) == len(name) {
		return false
	}
	c := line[len(name)]
	return c == '{' || c == ' ' || c == '\t'
}

// sampleValue parses the value of a sample line `name{labels} value [timestamp]`.
func sampleValue(line []byte) (float64, error) {
	i := bytes.IndexAny(line, "{ \t")
	if line[i] == '{' {
		i = labelsEnd(line, i)
		if i < 0 {
			return 0, fmt.Errorf("metrics line %q: unterminated labels", line)
		}
	}
	fields := bytes.Fields(line[i:])
	if len(fields) == 0 {
		return 0, fmt.Errorf("metrics line %q: no value", line)
	}
	v, err := strconv.ParseFloat(string(fields[0]), 64)
	if err != nil {
		return 0, fmt.Errorf("metrics line %q: %w", line, err)
	}
	return v, nil
}

// labelsEnd returns the offset just past the label set opening at line[i],
// or -1. Label values are quoted and may hold '}' and escaped quotes.
func labelsEnd(line []byte, i int) int {
	inQuote := false
	for i++; i < len(line); i++ {
		switch c := line[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '}':
			return i + 1
		}
	}
	return -1
}

// labelValue is the value of label name in a sample line (unescaped
// values only: enough for le). The name must start a label, so that le is
// not found inside, say, handle.
func labelValue(line []byte, name string) (string, bool) {
	for _, open := range []string{"{", ","} {
		if _, rest, ok := bytes.Cut(line, []byte(open+name+`="`)); ok {
			v, _, ok := bytes.Cut(rest, []byte{'"'})
			return string(v), ok
		}
	}
	return "", false
}

// fsyncTail is the WAL fsyncs between two readings: how many, and the
// upper bounds of the buckets holding their 99th percentile and their
// slowest (+Inf when past the last bound); zeros without the figures.
func fsyncTail(a, b lagGauges) (n, p99, slowest float64) {
	if len(a.fsyncs.Bounds) == 0 { // not exported before the run
		return 0, 0, 0
	}
	d := b.fsyncs.Minus(a.fsyncs)
	if n = d.Total(); n <= 0 {
		return 0, 0, 0
	}
	return n, d.Quantile(0.99), d.Quantile(1)
}

// lagSampler polls the server's /metrics.
type lagSampler struct {
	url    string
	client *http.Client

	mu   sync.Mutex
	last lagGauges
	prev lagGauges // the reading before last
	max  lagGauges
	n    int // readings taken
	// The run's seconds split by whether the stores' background jobs ran
	// in them (busySecond), with their latencies.
	busy, calm         HistSnapshot
	busySecs, calmSecs int
}

func newLagSampler(url string) *lagSampler {
	return &lagSampler{url: url, client: &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1},
	}}
}

// read fetches one reading and folds it into last and max.
func (l *lagSampler) read(ctx context.Context) (lagGauges, error) {
	g, err := l.fetch(ctx)
	if err != nil {
		return g, err
	}
	l.mu.Lock()
	l.prev, l.last = l.last, g
	l.max.events = max(l.max.events, g.events)
	l.max.seconds = max(l.max.seconds, g.seconds)
	l.n++
	l.mu.Unlock()
	return g, nil
}

// seed makes g, a reading taken before the run, the last one: the work
// of the run's first second is counted from it. It is not folded into the
// maxima, which are the run's.
func (l *lagSampler) seed(g lagGauges) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prev, l.last = l.last, g
	l.n++
}

// fetch gets and parses one reading.
func (l *lagSampler) fetch(ctx context.Context) (lagGauges, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.url, nil)
	if err != nil {
		return lagGauges{}, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return lagGauges{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return lagGauges{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return lagGauges{}, fmt.Errorf("GET %s: %s", l.url, resp.Status)
	}
	g, err := parseLag(body)
	if err != nil {
		return g, err
	}
	g.at = time.Now()
	if !g.hasEvents {
		return g, fmt.Errorf("GET %s: no %s gauge", l.url, metricLagEvents)
	}
	return g, nil
}

// poll reads every interval until ctx is done.
func (l *lagSampler) poll(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.read(ctx) // a failed reading is skipped; the next one may work
		}
	}
}

// tickRead bounds the reading progress takes: the load's clock waits for
// it.
const tickRead = 500 * time.Millisecond

// progress takes a reading and returns the lag part of the progress line
// of the second that just ended, whose latencies are sec, filing sec as
// busy or calm by the stores' work since the reading a second ago. The
// reading is taken here, at the load's tick, so that the work it counts is
// the second's own: read by a poller of its own, the reading a tick found
// was the one begun a second before it (the scrape outlasts the tickers'
// offset), and the work shown beside each second was the second before's.
func (l *lagSampler) progress(ctx context.Context, sec *HistSnapshot) string {
	rctx, cancel := context.WithTimeout(ctx, tickRead)
	_, err := l.read(rctx)
	cancel()
	if err != nil {
		return "lag ?" // this second's figures are unknown, and it is not filed
	}
	return l.file(sec)
}

// file returns the lag part of a progress line, with the stores' work
// between the last two readings (job-seconds a second) and how long
// checkpoints paused the processor between them, and files sec (if not
// nil) as busy or calm by that work.
func (l *lagSampler) file(sec *HistSnapshot) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 {
		return "lag ?"
	}
	s := fmt.Sprintf("lag %.2fs (%.0f events)", l.last.seconds, l.last.events)
	if rate, ok := workRate(l.prev, l.last); ok {
		s += fmt.Sprintf("  store jobs %.1fs/s", rate)
		if sec != nil {
			if rate >= busySecond {
				l.busy.Merge(sec)
				l.busySecs++
			} else {
				l.calm.Merge(sec)
				l.calmSecs++
			}
		}
	}
	// A checkpoint stops the processor and then commits a batch of
	// megabytes: beside a slow second, the likeliest cause after the
	// stores' jobs (the traces of the 1 M store's paced runs).
	s += grewBy("checkpoints paused", l.prev.hasCP && l.last.hasCP, l.prev.cpPause, l.last.cpPause)
	// A collection's mark phase takes CPU from everything else (with more
	// Ps than CPUs, its idle-time workers too): the runtime counts a
	// cycle, and its CPU, when it ends, so the second it ended in says so.
	if a, b := l.prev, l.last; b.gcs > a.gcs {
		s += fmt.Sprintf("  collections ended %.0f", b.gcs-a.gcs)
		if a.hasGCCPU && b.hasGCCPU && b.gcCPU > a.gcCPU {
			s += " (" + ms(seconds(b.gcCPU-a.gcCPU)) + " of CPU)"
		}
	}
	// A write stall holds every acknowledgement of the stalled store: the
	// first thing to rule out beside a slow second.
	if a, b := l.prev, l.last; a.hasStalls && b.hasStalls && (b.stalled > a.stalled || b.stalls > a.stalls) {
		s += "  writes stalled " + ms(seconds(b.stalled-a.stalled))
	}
	s += grewBy("jobs paced", l.prev.hasPaced && l.last.hasPaced, l.prev.paced, l.last.paced)
	// Every acknowledgement waits for a WAL fsync: one slow fsync holds
	// every request in flight, so a second's slowest is named when it is
	// long enough to show in the acknowledgements.
	if n, _, slowest := fsyncTail(l.prev, l.last); n > 0 && slowest > slowFsync {
		s += "  slowest WAL fsync " + bucketBound(slowest)
	}
	return s
}

// grewBy is a second's clause for a counter of seconds that grew from a to
// b in it ("  label 12.0ms"), "" when it did not or ok is false (the
// server does not export it).
func grewBy(label string, ok bool, a, b float64) string {
	if !ok || b <= a {
		return ""
	}
	return "  " + label + " " + ms(seconds(b-a))
}

// workRate is the stores' background work between two readings, in
// job-seconds a second; ok is false without the figures.
func workRate(a, b lagGauges) (rate float64, ok bool) {
	d := b.at.Sub(a.at).Seconds()
	if !a.hasWork || !b.hasWork || d <= 0 {
		return 0, false
	}
	return max(0, b.work-a.work) / d, true
}

// LagReport summarizes the processor lag seen during and after a run.
type LagReport struct {
	MaxEvents     float64
	MaxSeconds    float64
	AtStopEvents  float64 // first reading after the load stopped
	AtStopSeconds float64
	Drained       bool
	DrainTime     time.Duration // from the load stopping until lag_events read 0
	// CPUPerEvent is the server's CPU time over the events it applied, from
	// just before the run until the lag drained (background work such as
	// compaction included); 0 when the server does not export its CPU time.
	CPUPerEvent time.Duration
	// ServerCores is the server's CPU time over the wall time of the same
	// span: how many cores it kept busy on average. Against the cores it
	// has, it is the headroom left for the lumps (collections,
	// checkpoints, store jobs) that make the ack tail (README, "Sizing").
	// 0 without the figures.
	ServerCores float64
	// Uptime is how long the server had been running when the run began;
	// 0 when it does not export its start time.
	Uptime time.Duration
	// HandoffWaits is how many group commits found the processor's queue
	// full during the run, and HandoffWait how long they waited in all:
	// every acknowledgement waited with them. HasHandoff is false when the
	// server does not export the figures.
	HandoffWaits float64
	HandoffWait  time.Duration
	HasHandoff   bool
	// Overflows is how many times the processor's queue overflowed to the
	// log during the run, and ReadBack how many events the processor read
	// back from it; HasOverflow is false when the server does not export
	// the figures.
	Overflows, ReadBack float64
	HasOverflow         bool
	// ValueRatio is the log's values' stored bytes over their received
	// bytes during the run (below 1: compressed), and WALPerEvent the bytes
	// the store's WAL took an event applied; 0 when not exported.
	ValueRatio  float64
	WALPerEvent float64
	// FlushPerEvent and CompactPerEvent are the bytes of tables the
	// stores' flushes and compactions wrote an event applied; 0 when not
	// exported.
	FlushPerEvent, CompactPerEvent float64
	// Fsyncs is the WAL fsyncs during the run, FsyncP99 and FsyncMax the
	// upper bounds of the histogram buckets their 99th percentile and
	// slowest fell in (seconds; +Inf past the last); 0 when not exported.
	Fsyncs, FsyncP99, FsyncMax float64
	// GCs is the collections during the run; GCPerEvent the collector's
	// CPU an event applied and AssistShare the part of it taken as
	// assists; AllocPerEvent the bytes allocated an event; ScanHeap the
	// pointer-holding heap when the last collection began, the garbage
	// allocated since the one before included (bytes: an upper bound of
	// what it marked). 0 when not exported.
	GCs                     float64
	GCPerEvent              time.Duration
	AssistShare             float64
	AllocPerEvent, ScanHeap float64
	// Checkpoints is how many checkpoints stopped the processor during
	// the run, CheckpointPause their mean pause and CheckpointParts the
	// mean share of each part (the profiles, each applier), largest
	// first; 0 and nil when not exported.
	Checkpoints     float64
	CheckpointPause time.Duration
	CheckpointParts []PausePart
	// StoreJobs is what each store's flushes and compactions did from the
	// run's start until the drain, largest first; nil when not exported.
	StoreJobs []StoreJob
	// BusySeconds and CalmSeconds are the run's seconds with and without
	// the stores' background jobs running (busySecond), BusyP99 and
	// CalmP99 the 99th percentile of the acknowledgements in each; zero
	// when the figures are not exported.
	BusySeconds, CalmSeconds int
	BusyP99, CalmP99         time.Duration
	// Stalls is how many write stalls the stores went through from the
	// run's start until the drain, and Stalled how long writes waited in
	// them; HasStalls says the server exports them.
	HasStalls bool
	Stalls    float64
	Stalled   time.Duration
	// Paced is how long the stores' jobs slept to keep to their share of
	// the clock in the same span; HasPaced says the server exports it.
	HasPaced bool
	Paced    time.Duration
}

// StoreJob is one store's jobs of one kind during a run.
type StoreJob struct {
	Name string // store and kind: "log flush"
	Jobs float64
	Busy time.Duration
}

// PausePart is one part's mean share of a checkpoint's pause.
type PausePart struct {
	Name string
	Mean time.Duration
}

// drain reads every 100ms from the moment the load stopped until the events
// lag is zero or timeout passes. start is the reading taken just before the
// load began.
func (l *lagSampler) drain(ctx context.Context, start lagGauges, stopped time.Time, timeout time.Duration) *LagReport {
	r := &LagReport{Uptime: uptime(start)}
	first := true
	for {
		g, err := l.read(ctx)
		if err == nil {
			if first {
				r.AtStopEvents, r.AtStopSeconds, first = g.events, g.seconds, false
			}
			r.counters(start, g) // the last reading's: waits end with the drain
			if g.events == 0 {
				r.Drained, r.DrainTime = true, time.Since(stopped)
				r.CPUPerEvent = cpuPerEvent(start, g)
				r.ServerCores = cpuCores(start, g)
				break
			}
		}
		if time.Since(stopped) > timeout || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	l.mu.Lock()
	r.MaxEvents, r.MaxSeconds = l.max.events, l.max.seconds
	l.mu.Unlock()
	l.split(r)
	return r
}

// split sets the report's seconds with and without the stores' jobs
// running, and their latencies.
func (l *lagSampler) split(r *LagReport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.BusySeconds, r.CalmSeconds = l.busySecs, l.calmSecs
	if l.busy.N > 0 {
		r.BusyP99 = l.busy.Quantile(0.99)
	}
	if l.calm.N > 0 {
		r.CalmP99 = l.calm.Quantile(0.99)
	}
}

// counters sets the hand-off waits and overflows between two readings: the
// one before the run and one after the load stopped.
func (r *LagReport) counters(a, b lagGauges) {
	if in := b.valueIn - a.valueIn; a.hasValues && b.hasValues && in > 0 {
		r.ValueRatio = (b.valueOut - a.valueOut) / in
	}
	if n := b.applied - a.applied; n > 0 {
		if a.hasWAL && b.hasWAL {
			r.WALPerEvent = (b.wal - a.wal) / n
		}
		if a.hasTables && b.hasTables {
			r.FlushPerEvent, r.CompactPerEvent = (b.flushed-a.flushed)/n, (b.compacted-a.compacted)/n
		}
	}
	r.Fsyncs, r.FsyncP99, r.FsyncMax = fsyncTail(a, b)
	r.gc(a, b)
	r.checkpoints(a, b)
	r.storeJobs(a, b)
	if a.hasStalls && b.hasStalls {
		r.HasStalls = true
		r.Stalls = max(0, b.stalls-a.stalls)
		r.Stalled = seconds(max(0, b.stalled-a.stalled))
	}
	if a.hasPaced && b.hasPaced {
		r.HasPaced = true
		r.Paced = seconds(max(0, b.paced-a.paced))
	}
	if a.hasOverflow && b.hasOverflow {
		r.HasOverflow = true
		r.Overflows, r.ReadBack = max(0, b.overflows-a.overflows), max(0, b.readBack-a.readBack)
	}
	if !a.hasHandoff || !b.hasHandoff {
		return
	}
	r.HasHandoff = true
	r.HandoffWaits = max(0, b.handoffs-a.handoffs)
	r.HandoffWait = seconds(max(0, b.handoffSec-a.handoffSec))
}

// gc sets the collector's figures between two readings.
func (r *LagReport) gc(a, b lagGauges) {
	n := b.applied - a.applied
	if n <= 0 {
		return
	}
	if a.hasAlloc && b.hasAlloc {
		r.AllocPerEvent = (b.alloc - a.alloc) / n
		r.GCs = max(0, b.gcs-a.gcs)
		r.ScanHeap = b.scanHeap
	}
	if cpu := b.gcCPU - a.gcCPU; a.hasGCCPU && b.hasGCCPU && cpu > 0 {
		r.GCPerEvent = seconds(cpu / n)
		r.AssistShare = (b.gcAssist - a.gcAssist) / cpu
	}
}

// checkpoints sets the checkpoints' pauses between two readings.
func (r *LagReport) checkpoints(a, b lagGauges) {
	n := b.cpCount - a.cpCount
	if !a.hasCP || !b.hasCP || n <= 0 {
		return
	}
	secs := func(v float64) time.Duration { return seconds(v / n) }
	r.Checkpoints, r.CheckpointPause = n, secs(b.cpPause-a.cpPause)
	r.CheckpointParts = r.CheckpointParts[:0]
	for part, v := range b.cpParts {
		r.CheckpointParts = append(r.CheckpointParts, PausePart{part, secs(v - a.cpParts[part])})
	}
	slices.SortFunc(r.CheckpointParts, func(x, y PausePart) int {
		return cmp.Or(cmp.Compare(y.Mean, x.Mean), cmp.Compare(x.Name, y.Name))
	})
}

// storeJobs sets the stores' jobs between two readings.
func (r *LagReport) storeJobs(a, b lagGauges) {
	if !a.hasWork || !b.hasWork {
		return
	}
	r.StoreJobs = r.StoreJobs[:0]
	for name, v := range b.workBy {
		busy := max(0, v-a.workBy[name])
		jobs := max(0, b.jobsBy[name]-a.jobsBy[name])
		if busy == 0 && jobs == 0 {
			continue
		}
		r.StoreJobs = append(r.StoreJobs, StoreJob{name, jobs, seconds(busy)})
	}
	slices.SortFunc(r.StoreJobs, func(x, y StoreJob) int {
		return cmp.Or(cmp.Compare(y.Busy, x.Busy), cmp.Compare(x.Name, y.Name))
	})
}

// cpuPerEvent is the server's CPU time per event applied between two
// readings; 0 without the figures.
func cpuPerEvent(a, b lagGauges) time.Duration {
	n := b.applied - a.applied
	if !a.hasCPU || !b.hasCPU || n <= 0 {
		return 0
	}
	return seconds((b.cpu - a.cpu) / n)
}

// cpuCores is the server's CPU seconds per second of wall time between two
// readings; 0 without the figures.
func cpuCores(a, b lagGauges) float64 {
	wall := b.at.Sub(a.at).Seconds()
	if !a.hasCPU || !b.hasCPU || a.at.IsZero() || wall <= 0 {
		return 0
	}
	return max(0, b.cpu-a.cpu) / wall
}

// uptime is the server's uptime at reading g; 0 without the figure.
func uptime(g lagGauges) time.Duration {
	if g.started <= 0 || g.at.IsZero() {
		return 0
	}
	return max(0, g.at.Sub(time.Unix(0, int64(g.started*1e9))))
}

// String is "processor lag max 0.40s (1234 events), at stop 0.10s (87
// events), acks held by a full processor queue 0 times, processor queue
// overflowed to the log 2 times (5120 events read back), log values stored
// at 0.35× their bytes, WAL 519 bytes an event, tables flushed 301 and
// compacted 78 bytes an event, 3012 WAL fsyncs p99 ≤ 25ms
// max ≤ 100ms, write stalls 1 (0.31s in all), store jobs paced 2.10s, 4
// collections (0.9µs of CPU an event, 12% assists, 3.1 kB allocated an
// event, 350 MB scannable), 20 checkpoints paused the
// processor 85.0ms on average (profiles 60.1ms, segments 15.2ms, recommend
// 8.3ms), store jobs until drained log flush 3 (7.4s), log compaction 38
// (6.1s), state compaction 12 (2.2s), seconds with store jobs running 18
// of 40 (ack p99 182ms; the others 41ms), drained in 0.20s".
func (r *LagReport) String() string {
	s := fmt.Sprintf("processor lag max %.2fs (%.0f events), at stop %.2fs (%.0f events), ",
		r.MaxSeconds, r.MaxEvents, r.AtStopSeconds, r.AtStopEvents)
	if r.HasHandoff {
		s += fmt.Sprintf("acks held by a full processor queue %.0f times", r.HandoffWaits)
		if r.HandoffWaits > 0 {
			s += fmt.Sprintf(" (%.2fs in all)", r.HandoffWait.Seconds())
		}
		s += ", "
	}
	if r.HasOverflow {
		s += fmt.Sprintf("processor queue overflowed to the log %.0f times (%.0f events read back), ", r.Overflows, r.ReadBack)
	}
	if r.ValueRatio > 0 {
		s += fmt.Sprintf("log values stored at %.2f× their bytes, ", r.ValueRatio)
	}
	if r.WALPerEvent > 0 {
		s += fmt.Sprintf("WAL %.0f bytes an event, ", r.WALPerEvent)
	}
	if r.FlushPerEvent > 0 || r.CompactPerEvent > 0 {
		s += fmt.Sprintf("tables flushed %.0f and compacted %.0f bytes an event, ", r.FlushPerEvent, r.CompactPerEvent)
	}
	if r.Fsyncs > 0 {
		s += fmt.Sprintf("%.0f WAL fsyncs p99 %s max %s, ", r.Fsyncs, bucketBound(r.FsyncP99), bucketBound(r.FsyncMax))
	}
	if r.HasStalls {
		s += fmt.Sprintf("write stalls %.0f", r.Stalls)
		if r.Stalls > 0 || r.Stalled > 0 {
			s += fmt.Sprintf(" (%.2fs in all)", r.Stalled.Seconds())
		}
		s += ", "
	}
	if r.HasPaced {
		s += fmt.Sprintf("store jobs paced %.2fs, ", r.Paced.Seconds())
	}
	if r.AllocPerEvent > 0 {
		s += fmt.Sprintf("%.0f collections (", r.GCs)
		if r.GCPerEvent > 0 {
			s += fmt.Sprintf("%.1fµs of CPU an event, %.0f%% assists, ", float64(r.GCPerEvent)/float64(time.Microsecond), 100*r.AssistShare)
		}
		s += fmt.Sprintf("%.1f kB allocated an event", r.AllocPerEvent/1e3)
		if r.ScanHeap > 0 {
			s += fmt.Sprintf(", %.0f MB scannable", r.ScanHeap/1e6)
		}
		s += "), "
	}
	if r.Checkpoints > 0 {
		s += fmt.Sprintf("%.0f checkpoints paused the processor %s on average", r.Checkpoints, ms(r.CheckpointPause))
		if parts := r.CheckpointParts; len(parts) > 0 {
			s += " ("
			for i, p := range parts[:min(3, len(parts))] {
				if i > 0 {
					s += ", "
				}
				s += p.Name + " " + ms(p.Mean)
			}
			s += ")"
		}
		s += ", "
	}
	if len(r.StoreJobs) > 0 {
		s += "store jobs until drained "
		for i, j := range r.StoreJobs {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprintf("%s %.0f (%.1fs)", j.Name, j.Jobs, j.Busy.Seconds())
		}
		s += ", "
	}
	if r.BusySeconds > 0 || r.CalmSeconds > 0 {
		s += fmt.Sprintf("seconds with store jobs running %d of %d (ack p99 %s; the others %s), ",
			r.BusySeconds, r.BusySeconds+r.CalmSeconds, fmtDurOrNone(r.BusyP99), fmtDurOrNone(r.CalmP99))
	}
	if !r.Drained {
		return s + "not drained"
	}
	s += fmt.Sprintf("drained in %.2fs", r.DrainTime.Seconds())
	if r.CPUPerEvent > 0 {
		s += fmt.Sprintf("; server CPU %.1fµs an event", float64(r.CPUPerEvent)/float64(time.Microsecond))
	}
	if r.ServerCores > 0 {
		if r.CPUPerEvent > 0 {
			s += ", "
		} else {
			s += "; server CPU "
		}
		s += fmt.Sprintf("%.2f cores on average", r.ServerCores)
	}
	if r.Uptime > 0 {
		s += fmt.Sprintf("; server up %s when the run began", r.Uptime.Round(time.Second))
	}
	return s
}

// fmtDurOrNone is fmtDur, or "none" for a set without acknowledgements.
func fmtDurOrNone(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return fmtDur(d)
}

// seconds is a metric's count of seconds as a Duration.
func seconds(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

// ms spells d in milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// bucketBound spells a histogram bucket's upper bound in seconds as "≤ 25ms".
func bucketBound(le float64) string {
	if math.IsInf(le, 1) {
		return "> the last bucket"
	}
	return "≤ " + time.Duration(le*float64(time.Second)).Round(10*time.Microsecond).String()
}
