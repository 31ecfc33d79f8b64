package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"tailor/internal/loadgen"
)

const benchUsage = `usage:
  tailor bench ingest --target URL --write-key KEY [flags]   drive a running server
  tailor bench pebble --dir DIR [flags]                      storage baseline: raw synced Pebble batches
  tailor bench disk --dir DIR [flags]                        the disk's WAL fsyncs, alone and beside a writer of sstables
  tailor bench segment [flags]                               segment rule evaluation over the demo store, in process
  tailor bench dashboard --url URL --admin-token T [flags]  the first render of each dashboard page, server side
  tailor bench journey [flags]                               journey timers: memory of waiting profiles, lateness, trigger to enqueue, in process
  tailor bench deliver [--smtp HOST:PORT] [flags]            SMTP delivery vs raw SMTP sends; broadcast render+enqueue

Run 'tailor bench SUB-COMMAND -h' for its flags.`

// runBench implements `tailor bench`: load generators whose last output line
// is "<N> events/s", the disk probe, and in-process benchmarks.
func runBench(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing sub-command\n%s", errUsage, benchUsage)
	}
	switch args[0] {
	case "ingest":
		return benchIngest(ctx, args[1:])
	case "pebble":
		return benchPebble(ctx, args[1:])
	case "disk":
		return benchDisk(ctx, args[1:])
	case "segment":
		return benchSegment(ctx, args[1:])
	case "dashboard":
		return benchDashboard(ctx, args[1:])
	case "journey":
		return benchJourney(ctx, args[1:])
	case "deliver":
		return benchDeliver(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Println(benchUsage + "\n" + usageLines(extraBench))
		return nil
	}
	if c, ok := extraBench[args[0]]; ok {
		return c.run(ctx, args[1:])
	}
	return fmt.Errorf("%w: unknown sub-command %q\n%s\n%s", errUsage, args[0], benchUsage, usageLines(extraBench))
}

func benchIngest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	cfg := loadgen.IngestConfig{Progress: os.Stderr}
	fs.StringVar(&cfg.Target, "target", "", "base URL of the server, e.g. http://127.0.0.1:8080 (required)")
	fs.StringVar(&cfg.WriteKey, "write-key", os.Getenv("TAILOR_WRITE_KEY"), "write key, sent as the HTTP Basic user name [TAILOR_WRITE_KEY] (required)")
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "length of the measured run")
	fs.IntVar(&cfg.Batch, "batch", 100, "messages per request: 1 posts each to /v1/{type}, more post {\"batch\":[...]} to /v1/batch")
	fs.IntVar(&cfg.Concurrency, "concurrency", 8, "concurrent requests (with --rate: the cap on requests in flight)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "offered load in events per second: requests start on a fixed schedule and ack latency counts from each scheduled start; 0 sends as fast as acks come back")
	fs.IntVar(&cfg.Customers, "customers", 10000, "demo customers whose messages are sent")
	fs.DurationVar(&cfg.Ceiling, "ceiling", 10*time.Second, "first measure the load generator against an in-process do-nothing server for this long; 0 skips it")
	fs.StringVar(&cfg.MetricsURL, "metrics", "", "Prometheus endpoint read for the processor lag (default TARGET/metrics; \"none\" disables)")
	segments := fs.Int("segments", 0, "first save this many live segments of mixed kinds (needs --admin-token), and report the event-to-segment_entered latency")
	adminToken := fs.String("admin-token", os.Getenv("TAILOR_ADMIN_TOKEN"), "admin token, for --segments [TAILOR_ADMIN_TOKEN]")
	if help, err := parseBenchFlags(fs, args); help || err != nil {
		return err
	}
	switch {
	case cfg.Target == "":
		return fmt.Errorf("%w: --target is required (the server's base URL, e.g. http://127.0.0.1:8080)", errUsage)
	case cfg.WriteKey == "":
		return fmt.Errorf("%w: --write-key is required (printed by 'tailor serve' at start)", errUsage)
	case cfg.Duration <= 0 || cfg.Batch < 1 || cfg.Concurrency < 1 || cfg.Customers < 1 || cfg.Ceiling < 0:
		return fmt.Errorf("%w: --duration, --batch, --concurrency and --customers must be positive, --ceiling not negative", errUsage)
	case !(cfg.Rate >= 0) || math.IsInf(cfg.Rate, 0):
		return fmt.Errorf("%w: --rate must be a number of events per second, 0 (unpaced) or more, got %g", errUsage, cfg.Rate)
	case cfg.Rate > 0 && cfg.Duration.Seconds()*cfg.Rate < float64(cfg.Batch):
		return fmt.Errorf("%w: --rate %g with --batch %d starts one request every %s; make --duration at least that, or raise --rate",
			errUsage, cfg.Rate, cfg.Batch, time.Duration(float64(cfg.Batch)/cfg.Rate*1e9).Round(time.Millisecond))
	}
	metrics := cfg.MetricsURL
	if metrics == "" {
		metrics = strings.TrimRight(cfg.Target, "/") + "/metrics"
	}
	var before loadgen.PromHistogram
	if *segments > 0 {
		if *adminToken == "" {
			return fmt.Errorf("%w: --segments needs --admin-token", errUsage)
		}
		if err := createBenchSegments(ctx, strings.TrimRight(cfg.Target, "/"), *adminToken, *segments); err != nil {
			return err
		}
		fmt.Printf("saved %d live segments\n", *segments)
		before, _ = loadgen.ReadPromHistogram(ctx, metrics, "tailor_segment_transition_seconds")
	}
	rep, err := loadgen.RunIngest(ctx, cfg)
	if rep != nil {
		rep.WriteSummary(os.Stdout)
	}
	if *segments > 0 && err == nil {
		after, herr := loadgen.ReadPromHistogram(ctx, metrics, "tailor_segment_transition_seconds")
		if herr != nil {
			return herr
		}
		d := after.Minus(before)
		fmt.Printf("segment changes recorded: %.0f; event to segment_entered/exited durable: p50 <= %.0f ms, p99 <= %.0f ms (histogram bucket bounds)\n",
			d.Total(), 1000*d.Quantile(0.5), 1000*d.Quantile(0.99))
	}
	return interrupted(err)
}

func benchPebble(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench pebble", flag.ContinueOnError)
	cfg := loadgen.PebbleConfig{Progress: os.Stderr}
	fs.StringVar(&cfg.Dir, "dir", "", "directory for a fresh Pebble DB; must be empty or not exist (required)")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "length of the measured run")
	fs.IntVar(&cfg.Batch, "batch", 100, "messages per synced batch")
	fs.IntVar(&cfg.Concurrency, "concurrency", 8, "goroutines committing batches")
	fs.IntVar(&cfg.Customers, "customers", 10000, "demo customers whose messages are written")
	if help, err := parseBenchFlags(fs, args); help || err != nil {
		return err
	}
	switch {
	case cfg.Dir == "":
		return fmt.Errorf("%w: --dir is required", errUsage)
	case cfg.Duration <= 0 || cfg.Batch < 1 || cfg.Concurrency < 1 || cfg.Customers < 1:
		return fmt.Errorf("%w: --duration, --batch, --concurrency and --customers must be positive", errUsage)
	}
	rep, err := loadgen.RunPebble(ctx, cfg)
	if rep != nil {
		rep.WriteSummary(os.Stdout)
	}
	return interrupted(err)
}

// benchDisk measures the disk's WAL-like fsyncs (loadgen.RunDisk), a line a
// phase.
func benchDisk(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench disk", flag.ContinueOnError)
	var cfg loadgen.DiskConfig
	fs.StringVar(&cfg.Dir, "dir", "", "a directory on the disk to measure, e.g. the data directory (required; the probe's files are removed after)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of each phase")
	beside := fs.String("beside", "0,50,full", "the background writer's rate in each phase, MB/s: 0 for none, full for as fast as the disk takes")
	if help, err := parseBenchFlags(fs, args); help || err != nil {
		return err
	}
	var err error
	if cfg.Beside, err = loadgen.ParseBeside(*beside); err != nil {
		return fmt.Errorf("%w: --beside: %v", errUsage, err)
	}
	switch {
	case cfg.Dir == "":
		return fmt.Errorf("%w: --dir is required (a directory on the disk to measure)", errUsage)
	case cfg.Duration <= 0:
		return fmt.Errorf("%w: --duration must be positive", errUsage)
	}
	phases, err := loadgen.RunDisk(ctx, cfg, os.Stderr)
	for i := range phases {
		fmt.Println(phases[i].String())
	}
	return interrupted(err)
}

// interrupted words a cancelled run's error for the person who pressed ^C.
func interrupted(err error) error {
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted: the figures above cover the run so far")
	}
	return err
}

// parseBenchFlags parses args and rejects positional arguments. help reports
// that -h printed the flags and there is nothing to run.
func parseBenchFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return false, nil
}
