package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// storeCacheBytes is the block cache `tailor serve` gives its store.
const storeCacheBytes = 1 << 30

// PebbleConfig configures `tailor bench pebble`, the storage baseline: the
// same pre-rendered messages committed as raw synced Pebble batches, with the
// server's Pebble options but no HTTP and no processing.
type PebbleConfig struct {
	Dir         string // must be empty or not exist
	Duration    time.Duration
	Batch       int // messages per committed batch
	Concurrency int // goroutines committing
	Customers   int // demo customers (when Source is nil)

	Source      Source    // default DemoSource(Customers)
	MaxMessages int       // corpus limit, default DefaultMaxMessages
	MaxBytes    int       // corpus limit, default DefaultMaxBytes
	Progress    io.Writer // per-second progress lines; nil discards
}

// PebbleReport is what `tailor bench pebble` measured.
type PebbleReport struct {
	Corpus    *Corpus
	Batch     int
	Result    *Result
	DiskBytes int64 // size of Dir after the DB was closed
}

// RunPebble writes into a fresh Pebble DB at cfg.Dir for cfg.Duration.
func RunPebble(ctx context.Context, cfg PebbleConfig) (*PebbleReport, error) {
	if cfg.Dir == "" {
		return nil, errors.New("dir is required")
	}
	if cfg.Duration <= 0 || cfg.Batch < 1 || cfg.Concurrency < 1 {
		return nil, fmt.Errorf("duration, batch and concurrency must be positive, got %s, %d, %d",
			cfg.Duration, cfg.Batch, cfg.Concurrency)
	}
	if cfg.Source == nil {
		if cfg.Customers < 1 {
			return nil, fmt.Errorf("customers must be at least 1, got %d", cfg.Customers)
		}
		cfg.Source = DemoSource(cfg.Customers)
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	entries, err := os.ReadDir(cfg.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: give a new or empty directory", cfg.Dir)
	}

	began := time.Now()
	corpus, err := BuildCorpus(CorpusConfig{Source: cfg.Source, Batch: cfg.Batch, MaxMessages: cfg.MaxMessages, MaxBytes: cfg.MaxBytes})
	if err != nil {
		return nil, fmt.Errorf("pre-render messages: %w", err)
	}
	fmt.Fprintf(cfg.Progress, "bench: pre-rendered %d messages (%.1f MB) in %.1fs\n",
		corpus.Messages(), float64(corpus.Bytes())/1e6, time.Since(began).Seconds())

	// The server's own options (memtable size, filters, cache), so that the
	// baseline differs from `tailor serve` only by what the server adds.
	db, err := store.Open(cfg.Dir, storeCacheBytes)
	if err != nil {
		return nil, err
	}
	var seq atomic.Uint64
	batch := uint64(cfg.Batch)
	nmsg := uint64(corpus.Messages())
	work := func(w *workerStats, errs *errorLog, stop *stopSignal) {
		b := db.NewBatch()
		defer b.Close()
		var key [8]byte
		for !stop.stopped() {
			first := seq.Add(batch) - batch
			for k := first; k < first+batch; k++ {
				binary.BigEndian.PutUint64(key[:], k)
				b.Set(key[:], corpus.message(int(k%nmsg)), nil) // copies key and value
			}
			start := time.Now()
			err := b.Commit(pebble.Sync)
			elapsed := time.Since(start)
			b.Reset()
			if err != nil {
				w.errors.Add(1)
				errs.add("commit", err.Error())
				continue
			}
			w.hist.Record(elapsed)
			w.requests.Add(1)
			w.events.Add(batch)
		}
	}
	r := run(ctx, runSpec{name: "pebble", duration: cfg.Duration, concurrency: cfg.Concurrency, progress: cfg.Progress, work: work})
	if err := db.Close(); err != nil {
		return nil, fmt.Errorf("close pebble: %w", err)
	}
	rep := &PebbleReport{Corpus: corpus, Batch: cfg.Batch, Result: r, DiskBytes: dirSize(cfg.Dir)}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if r.Events == 0 {
		return rep, fmt.Errorf("no batch committed (%s)", r.errorSummary())
	}
	return rep, nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// WriteSummary prints the final lines; the last one is "<N> events/s".
func (r *PebbleReport) WriteSummary(w io.Writer) {
	res := r.Result
	for _, s := range res.Samples {
		fmt.Fprintf(w, "pebble error: %.300s\n", s)
	}
	fmt.Fprintf(w, "pebble: %.0f events/s over %.1fs (%.0f synced commits/s of %d), commit %s, %s, %.1f MB on disk%s\n",
		res.EventsPerSec(), res.Elapsed.Seconds(), res.RequestsPerSec(), r.Batch, res.latencySummary(),
		res.errorSummary(), float64(r.DiskBytes)/1e6, res.notes())
	fmt.Fprintf(w, "%.0f events/s\n", res.EventsPerSec())
}
