package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"tailor/internal/demo"
	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/segment"
)

// Sizes of `tailor bench segment`.
const (
	segBenchDefaultCustomers = 5_000_000
	segBenchMaxCustomers     = 50_000_000
	// segBenchRuns is how many timed evaluations of each rule the median is
	// taken over, after one untimed warm-up.
	segBenchRuns = 5
	// segBenchChunk is how many customers the generating goroutine decodes
	// before handing them to the applying one.
	segBenchChunk = 500
)

// segBenchConfig is one run of `tailor bench segment`.
type segBenchConfig struct {
	Customers int       // demo customers, about 21 events each
	Seed      int64     // demo seed
	End       time.Time // end of the demo's history and the evaluation instant
	// Baseline also builds the naive per-profile maps and evaluates every
	// rule over them; they take several times the index's memory.
	Baseline bool
	Out      io.Writer // the report
	Progress io.Writer // progress while building
}

// segBenchRule is one rule the benchmark evaluates.
type segBenchRule struct {
	Name, About string
	Rule        *segment.Rule
}

// The benchmark's rules, over the demo's vocabulary: identify traits carry
// country (ISO codes), product events a category path such as "Apparel >
// Accessories > Scarves", Order Completed a revenue.
var segBenchRules = []struct{ name, about, json string }{
	{"R1", "one trait: country in GB, DE, FR",
		`{"trait":"country","op":"in","value":["GB","DE","FR"]}`},
	{"R2", "Product Added with a category containing accessories, at least twice in the last 90 days",
		`{"event":"Product Added","where":[{"property":"category","op":"contains","value":"accessories"}],"within":{"last":"90d"},"op":"gte","value":2}`},
	{"R3", "Order Completed sum(revenue) > 200 in the last 365 days",
		`{"event":"Order Completed","measure":"sum","of":"revenue","within":{"last":"365d"},"op":"gt","value":200}`},
	{"R4", "and[country in US, CA; R2; total_spend > 100; not Order Completed in the last 7 days]",
		`{"and":[{"trait":"country","op":"in","value":["US","CA"]},
		 {"event":"Product Added","where":[{"property":"category","op":"contains","value":"accessories"}],"within":{"last":"90d"},"op":"gte","value":2},
		 {"computed":"total_spend","op":"gt","value":100},
		 {"not":{"event":"Order Completed","within":{"last":"7d"}}}]}`},
}

func parseSegBenchRules() ([]segBenchRule, error) {
	out := make([]segBenchRule, 0, len(segBenchRules))
	for _, r := range segBenchRules {
		rule, err := segment.ParseJSON([]byte(r.json))
		if err != nil {
			return nil, fmt.Errorf("bench rule %s: %w", r.name, err)
		}
		out = append(out, segBenchRule{Name: r.name, About: r.about, Rule: rule})
	}
	return out, nil
}

// benchSegment implements `tailor bench segment`.
func benchSegment(ctx context.Context, args []string) error {
	return benchSegmentTo(ctx, args, os.Stdout, os.Stderr)
}

// benchSegmentTo is benchSegment writing the report to out and progress and
// flag help to progress.
func benchSegmentTo(ctx context.Context, args []string, out, progress io.Writer) error {
	fs := flag.NewFlagSet("bench segment", flag.ContinueOnError)
	fs.SetOutput(progress)
	cfg := segBenchConfig{Out: out, Progress: progress}
	fs.IntVar(&cfg.Customers, "customers", segBenchDefaultCustomers, "demo customers to build the index from (about 21 events each)")
	end := fs.String("end", demo.DefaultEnd.Format(time.DateOnly), "end of the demo's two years of history, and the instant rules are evaluated at (YYYY-MM-DD or RFC 3339)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "demo random seed")
	fs.BoolVar(&cfg.Baseline, "baseline", true, "also evaluate every rule with a naive loop over per-profile maps, and check the counts agree (the maps take about 27 MiB per 1,000 customers)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (build and evaluations) to this file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tailor bench segment [flags]\n\nBuilds the segment index from the demo store in process and times rule evaluations against a naive baseline.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if help, err := parseBenchFlags(fs, args); help || err != nil {
		return err
	}
	if cfg.Customers < 1 || cfg.Customers > segBenchMaxCustomers {
		return fmt.Errorf("%w: --customers must be between 1 and %d, got %d", errUsage, segBenchMaxCustomers, cfg.Customers)
	}
	t, err := segment.ParseTime(*end)
	if err != nil {
		return fmt.Errorf("%w: --end: %v", errUsage, err)
	}
	if t.Year() < 1972 || t.Year() > 2100 {
		return fmt.Errorf("%w: --end %q: the year must be between 1972 and 2100", errUsage, *end)
	}
	cfg.End = t.UTC()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("bench segment: --cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench segment: --cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	return interrupted(runSegmentBench(ctx, cfg))
}

// segBenchResult is one rule's figures.
type segBenchResult struct {
	Name          string
	Fast          timing
	Count         int
	Baseline      timing // zero without a baseline
	BaselineCount int
	HasBaseline   bool // the baseline ran
}

// timing is the median wall and CPU time of one evaluation. CPU is the
// evaluating thread's, which a shared machine does not inflate; zero where
// the system cannot tell.
type timing struct{ Wall, CPU time.Duration }

// runSegmentBench builds the index from the demo store, evaluates the rules
// and writes the report to cfg.Out. It fails when the fast path and the
// baseline disagree on a count.
func runSegmentBench(ctx context.Context, cfg segBenchConfig) error {
	rules, err := parseSegBenchRules()
	if err != nil {
		return err
	}
	gcfg := demo.Config{Customers: cfg.Customers, Seed: cfg.Seed, End: cfg.End}
	out := bufio.NewWriter(cfg.Out)
	defer out.Flush()
	fmt.Fprintf(out, "tailor bench segment: %s demo customers, seed %d, evaluated at %s; %d CPUs, %s\n",
		thousands(int64(cfg.Customers)), cfg.Seed, cfg.End.Format(time.RFC3339), runtime.NumCPU(), loadAverage())
	out.Flush()

	// Build as the server's processor does: each event through the profile
	// store, then with its resolution into the segment engine.
	st := profile.NewStore()
	eng := segment.NewEngine(segment.Options{Profiles: st, Now: func() time.Time { return cfg.End }})
	var seq uint64
	var applyWall, engineWall time.Duration
	// The applying goroutine keeps its thread, so that the thread's CPU
	// time is the work of applying: on a shared machine the wall time of a
	// call also counts the time the thread waited for a CPU.
	runtime.LockOSThread()
	cpu0, cpuOK := threadCPU()
	started := time.Now()
	n, err := playDemo(ctx, gcfg, newSegBenchProgress(cfg.Progress, "building index", cfg.Customers), func(e *event.Event) {
		seq++
		e.Seq = seq
		t0 := time.Now()
		r := st.Apply(e)
		t1 := time.Now()
		eng.Apply(e, r)
		t2 := time.Now()
		applyWall += t2.Sub(t0)
		engineWall += t2.Sub(t1)
	})
	cpu1, _ := threadCPU()
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("bench segment: build: %w", err)
	}
	built := time.Since(started)
	stats := eng.Stats().Index
	fmt.Fprintf(out, "build: %s events in %s: %s events/s end to end (generate and decode on one goroutine; profile store and segment engine on another)\n",
		thousands(n), built.Round(10*time.Millisecond), rate(n, built))
	fmt.Fprintf(out, "  segment engine Apply: %s wall, %s events/s; profile store Apply: %s wall\n",
		engineWall.Round(time.Millisecond), rate(n, engineWall), (applyWall - engineWall).Round(time.Millisecond))
	if cpuOK && applyWall > 0 {
		cpu := cpu1 - cpu0
		engineCPU := time.Duration(float64(cpu) * float64(engineWall) / float64(applyWall))
		fmt.Fprintf(out, "  applying thread CPU: %s for %s of wall in Apply; the engine's share of it ~%s, ~%s events/s per core\n",
			cpu.Round(time.Millisecond), applyWall.Round(time.Millisecond), engineCPU.Round(time.Millisecond), rate(n, engineCPU))
	}
	fmt.Fprintf(out, "  index Stats: %s profiles, %s events, %d streams, %d trait columns, %s\n",
		thousands(int64(stats.Profiles)), thousands(int64(stats.Events)), stats.Streams, stats.Traits, mib(int64(stats.Bytes)))
	fmt.Fprintf(out, "    of which event rows %s, property columns %s, their dictionaries %s, traits %s, per profile %s\n",
		mib(int64(stats.RowBytes)), mib(int64(stats.ColumnBytes)), mib(int64(stats.DictBytes)), mib(int64(stats.TraitBytes)), mib(int64(stats.ProfileBytes)))
	heap := heapInUse()
	fmt.Fprintf(out, "  after GC (profile store + index): heap in use %s, %s\n", mib(int64(heap)), procMemory())
	out.Flush()

	var base []*baselineProfile
	if cfg.Baseline {
		started := time.Now()
		base, err = buildBaseline(ctx, gcfg, st, cfg.Progress)
		if err != nil {
			return fmt.Errorf("bench segment: baseline: %w", err)
		}
		took := time.Since(started)
		fmt.Fprintf(out, "baseline (per-profile traits and events as Go maps): built in %s; heap in use +%s, %s\n",
			took.Round(10*time.Millisecond), mib(int64(heapInUse())-int64(heap)), procMemory())
		if len(base) != stats.Profiles {
			return fmt.Errorf("bench segment: the profile store holds %d profiles, the segment index %d: they must be the same", len(base), stats.Profiles)
		}
		out.Flush()
	}

	results, err := measureRules(ctx, eng, base, cfg.Baseline, rules, cfg.End)
	writeSegBenchTable(out, results, rules)
	fmt.Fprintf(out, "at the end: %s\n", loadAverage())
	return err
}

// measureRules times each rule on the fast path and, with baseline, on the
// baseline profiles; its error names the rules whose counts disagree.
func measureRules(ctx context.Context, eng *segment.Engine, base []*baselineProfile, baseline bool, rules []segBenchRule, at time.Time) ([]segBenchResult, error) {
	var results []segBenchResult
	var disagree []string
	for _, r := range rules {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		res := segBenchResult{Name: r.Name}
		var err error
		res.Fast, res.Count, err = medianOf(func() (int, error) { return eng.Count(r.Rule, at) })
		if err != nil {
			return results, fmt.Errorf("bench segment: %s on the fast path: %w", r.Name, err)
		}
		if baseline {
			m, err := compileBaseline(r.Rule, at.Unix())
			if err != nil {
				return results, fmt.Errorf("bench segment: %s on the baseline: %w", r.Name, err)
			}
			res.Baseline, res.BaselineCount, _ = medianOf(func() (int, error) {
				n := 0
				for _, p := range base {
					if m(p) {
						n++
					}
				}
				return n, nil
			})
			res.HasBaseline = true
			if res.BaselineCount != res.Count {
				disagree = append(disagree, fmt.Sprintf("%s: fast path %d, baseline %d", r.Name, res.Count, res.BaselineCount))
			}
		}
		results = append(results, res)
	}
	if len(disagree) > 0 {
		return results, fmt.Errorf("bench segment: the fast path and the baseline count different members (%s); they must agree", strings.Join(disagree, "; "))
	}
	return results, nil
}

// medianOf runs fn once to warm up, then segBenchRuns times, and returns
// the median times and the last count.
func medianOf(fn func() (int, error)) (timing, int, error) {
	runtime.GC() // the previous rule's garbage is not this one's cost
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, err := fn(); err != nil {
		return timing{}, 0, err
	}
	walls := make([]time.Duration, segBenchRuns)
	cpus := make([]time.Duration, segBenchRuns)
	var n int
	for i := range walls {
		cpu0, _ := processCPU()
		start := time.Now()
		c, err := fn()
		walls[i] = time.Since(start)
		cpu1, _ := processCPU()
		cpus[i] = cpu1 - cpu0
		if err != nil {
			return timing{}, 0, err
		}
		n = c
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	return timing{walls[len(walls)/2], cpus[len(cpus)/2]}, n, nil
}

func writeSegBenchTable(w io.Writer, results []segBenchResult, rules []segBenchRule) {
	_, cpuOK := processCPU()
	fmt.Fprintf(w, "\nmedian of %d runs after a warm-up; cpu is the process's, on all cores (an evaluation runs independent leaves at once); ratio = baseline / fast, of cpu times:\n", segBenchRuns)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rule\tfast ms\tcpu ms\tcount\tbaseline ms\tcpu ms\tbaseline count\tratio\t")
	for _, r := range results {
		fcpu, bms, bcpu, bcount, ratio := "-", "-", "-", "-", "-"
		if cpuOK {
			fcpu = millis(r.Fast.CPU)
		}
		if r.HasBaseline {
			bms, bcount = millis(r.Baseline.Wall), strconv.Itoa(r.BaselineCount)
			if cpuOK {
				bcpu = millis(r.Baseline.CPU)
				ratio = fmt.Sprintf("%.0fx", float64(r.Baseline.CPU)/float64(max(r.Fast.CPU, time.Microsecond)))
			} else {
				ratio = fmt.Sprintf("%.0fx", float64(r.Baseline.Wall)/float64(max(r.Fast.Wall, time.Microsecond)))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", r.Name, millis(r.Fast.Wall), fcpu, r.Count, bms, bcpu, bcount, ratio)
	}
	tw.Flush()
	for _, r := range rules {
		fmt.Fprintf(w, "%s: %s\n", r.Name, r.About)
	}
}

// playDemo generates and decodes the demo's messages on one goroutine and
// calls apply with each event, in the demo's order, on the caller's
// goroutine. It returns the number of events.
func playDemo(ctx context.Context, gcfg demo.Config, prog *segBenchProgress, apply func(e *event.Event)) (int64, error) {
	type chunk struct {
		events    []event.Event
		customers int // done after this chunk
		err       error
	}
	chunks := make(chan chunk, 4)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(chunks)
		g := demo.New(gcfg)
		// As if the whole history were imported at its end: messages carry
		// their timestamp and no sentAt, so it is taken as the event time.
		meta := event.Meta{ReceivedAt: g.Config().End}
		total := g.Config().Customers
		for from := 0; from < total; from += segBenchChunk {
			to := min(from+segBenchChunk, total)
			var evs []event.Event
			err := g.MessagesRange(from, to, func(msg []byte) error {
				e, err := event.Decode(msg, meta)
				if err != nil {
					return fmt.Errorf("the decoder rejects demo message %.200s: %w", msg, err)
				}
				evs = append(evs, e)
				return nil
			})
			select {
			case chunks <- chunk{evs, to, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer prog.finish()
	var n int64
	for c := range chunks {
		if c.err != nil {
			return n, c.err
		}
		for i := range c.events {
			apply(&c.events[i])
		}
		n += int64(len(c.events))
		prog.set(c.customers, n)
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
	return n, ctx.Err()
}

// buildBaseline holds every profile of st as the baseline does: its traits
// decoded into a map, and its events, replayed from the demo, attributed to
// the profile that owns their primary identifier now (merges included), as
// the segment engine does when it rebuilds its index from the log.
func buildBaseline(ctx context.Context, gcfg demo.Config, st *profile.Store, progress io.Writer) ([]*baselineProfile, error) {
	var profiles []*baselineProfile
	byID := make(map[string]*baselineProfile, st.Len())
	var terr error
	st.Each(func(id string, s *profile.State) bool {
		p := &baselineProfile{ID: id, Traits: make(map[string]any)}
		for k, j := range s.Traits() {
			v, err := decodeJSONValue(j)
			if err != nil {
				terr = fmt.Errorf("profile %s trait %q: %w", id, k, err)
				return false
			}
			p.Traits[k] = v
		}
		profiles = append(profiles, p)
		byID[id] = p
		return true
	})
	if terr != nil {
		return nil, terr
	}
	var lost int
	_, err := playDemo(ctx, gcfg, newSegBenchProgress(progress, "building baseline", gcfg.Customers), func(e *event.Event) {
		id, _ := st.Owner(e)
		p := byID[id]
		if p == nil {
			lost++
			return
		}
		p.Events = append(p.Events, baselineEvent{Key: segment.EventKey(e), Time: e.Timestamp.Unix(), Properties: e.Properties})
	})
	if err != nil {
		return nil, err
	}
	if lost > 0 {
		return nil, fmt.Errorf("%d events have no profile in the store", lost)
	}
	return profiles, nil
}

// segBenchProgress shows a bar of customers done on a terminal, else a line
// every few seconds.
type segBenchProgress struct {
	w     io.Writer
	label string
	total int
	bar   *progressbar.ProgressBar
	start time.Time
	last  time.Time
}

const segBenchProgressEvery = 10 * time.Second

func newSegBenchProgress(w io.Writer, label string, total int) *segBenchProgress {
	p := &segBenchProgress{w: w, label: label, total: total, start: time.Now(), last: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(label),
				progressbar.OptionSetItsString("customers"),
				progressbar.OptionShowIts(),
				progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionClearOnFinish(),
			)
		}
	}
	return p
}

func (p *segBenchProgress) set(customers int, events int64) {
	if p.bar != nil {
		p.bar.Set(customers)
		return
	}
	if now := time.Now(); now.Sub(p.last) >= segBenchProgressEvery {
		p.last = now
		fmt.Fprintf(p.w, "%s: %s of %s customers, %s events, %s events/s\n", p.label,
			thousands(int64(customers)), thousands(int64(p.total)), thousands(events), rate(events, now.Sub(p.start)))
	}
}

func (p *segBenchProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// heapInUse is the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// procMemory reports the process's resident set now and at its peak
// (VmRSS, VmHWM of /proc/self/status); "RSS unknown" where there is none.
func procMemory() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "RSS unknown"
	}
	kb := map[string]int64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(val), "kB")), 10, 64); err == nil {
			kb[name] = n
		}
	}
	return fmt.Sprintf("RSS %s (peak %s)", mib(kb["VmRSS"]<<10), mib(kb["VmHWM"]<<10))
}

// loadAverage is the system's load average (of /proc/loadavg): on a shared
// machine, wall-clock figures are only as good as the CPUs they got.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return "load average " + strings.Join(f[:3], " ")
	}
	return "load average unknown"
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func millis(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/1e6) }

func rate(n int64, d time.Duration) string {
	return thousands(int64(float64(n) / max(d.Seconds(), 1e-9)))
}

// decodeJSONValue decodes one JSON value (a stored trait) as encoding/json
// does into an any.
func decodeJSONValue(j string) (any, error) {
	var v any
	if err := json.Unmarshal([]byte(j), &v); err != nil {
		return nil, err
	}
	return v, nil
}
