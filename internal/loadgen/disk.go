package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DiskConfig configures `tailor bench disk`: how long a WAL-like fsync takes
// on the disk under a directory, alone and beside a writer of sstable-like
// files. Every acknowledgement waits for a WAL fsync, so the slowest ones
// (not the average) are what a disk adds to the tail; a store's own
// flushes and compactions on the same disk are what slows them.
type DiskConfig struct {
	Dir      string        // must exist; the probe's files are removed after
	Duration time.Duration // of each phase
	// Beside lists the background writer's rates, one phase each, in MB/s:
	// 0 for none, a negative rate for as fast as the disk takes.
	Beside []float64
}

// DiskPhase is one phase's fsyncs.
type DiskPhase struct {
	Beside  float64 // the background writer's rate, as configured
	Written int64   // bytes the background writer wrote
	Elapsed time.Duration
	Fsyncs  *HistSnapshot
}

func (p *DiskPhase) String() string {
	beside := besideWords(p.Beside)
	if p.Beside < 0 && p.Elapsed > 0 {
		beside += fmt.Sprintf(" (%.0f MB/s)", float64(p.Written)/1e6/p.Elapsed.Seconds())
	}
	h := p.Fsyncs
	if h == nil || h.N == 0 {
		return beside + ": no fsync finished"
	}
	return fmt.Sprintf("%s: %d fsyncs, p50 %s p99 %s p99.9 %s max %s, over 25ms %d, over 50ms %d, over 100ms %d",
		beside, h.N, ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), ms(h.Quantile(0.999)),
		ms(time.Duration(h.Max)), h.Over(25*time.Millisecond), h.Over(50*time.Millisecond), h.Over(100*time.Millisecond))
}

// Probe files: a WAL-sized file overwritten in place (as Pebble reuses its
// WALs), and the writer's two alternating "sstables".
const (
	probeWALBytes   = 64 << 20
	probePage       = 4 << 10
	probeTableBytes = 256 << 20
	probeChunk      = 64 << 10
	// probeWriteBack is how often the writer starts the write-back of what
	// it wrote (Pebble's BytesPerSync for sstables).
	probeWriteBack = 512 << 10
)

// RunDisk runs one phase per rate of cfg.Beside, writing progress lines
// to progress (nil discards them).
func RunDisk(ctx context.Context, cfg DiskConfig, progress io.Writer) ([]DiskPhase, error) {
	if cfg.Duration <= 0 || len(cfg.Beside) == 0 {
		return nil, errors.New("a duration and at least one phase are required")
	}
	if progress == nil {
		progress = io.Discard
	}
	dir, err := os.MkdirTemp(cfg.Dir, "tailor-disk-probe-")
	if err != nil {
		return nil, fmt.Errorf("disk probe: %w", err)
	}
	defer os.RemoveAll(dir)
	wal, err := os.OpenFile(filepath.Join(dir, "wal"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("disk probe: %w", err)
	}
	defer wal.Close()
	// Written and synced first: an overwrite then changes no metadata, as
	// in a recycled WAL, and its fsync is the data's alone.
	if _, err := wal.WriteAt(make([]byte, probeWALBytes), 0); err != nil {
		return nil, fmt.Errorf("disk probe: %w", err)
	}
	if err := wal.Sync(); err != nil {
		return nil, fmt.Errorf("disk probe: %w", err)
	}
	var out []DiskPhase
	for _, rate := range cfg.Beside {
		fmt.Fprintf(progress, "bench disk: %s of 4 KB overwrites, each synced, %s\n", cfg.Duration, besideWords(rate))
		ph, err := diskPhase(ctx, dir, wal, cfg.Duration, rate)
		out = append(out, ph)
		if err != nil {
			return out, err
		}
		if err := ctx.Err(); err != nil { // interrupted: this phase was cut short
			return out, err
		}
	}
	return out, nil
}

// besideWords names a phase by its writer's rate.
func besideWords(rate float64) string {
	switch {
	case rate < 0:
		return "beside a writer at full speed"
	case rate > 0:
		return fmt.Sprintf("beside a writer at %g MB/s", rate)
	}
	return "alone"
}

// diskPhase overwrites and fdatasyncs a page of wal at a time, with a pause
// of 2 ms between (about a group commit's rhythm), while a writer at rate
// runs, until d has passed.
func diskPhase(ctx context.Context, dir string, wal *os.File, d time.Duration, rate float64) (ph DiskPhase, err error) {
	ph.Beside = rate
	ctx, cancel := context.WithTimeout(ctx, d)
	var (
		wg      sync.WaitGroup
		written int64 // the writer's, read after wg.Wait
		bgErr   error
		h       Histogram
		start   = time.Now()
	)
	defer func() {
		cancel()
		wg.Wait()
		ph.Elapsed, ph.Fsyncs, ph.Written = time.Since(start), h.Snapshot(), written
		if err == nil {
			err = bgErr
		}
	}()
	if rate != 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			written, bgErr = backgroundWriter(ctx, dir, rate)
		}()
	}
	page := make([]byte, probePage)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for off := int64(0); ctx.Err() == nil; off = (off + probePage) % probeWALBytes {
		if _, err := wal.WriteAt(page, off); err != nil {
			return ph, fmt.Errorf("disk probe: %w", err)
		}
		t := time.Now()
		if err := syncData(wal); err != nil {
			return ph, fmt.Errorf("disk probe: %w", err)
		}
		h.Record(time.Since(t))
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	return ph, nil
}

// backgroundWriter writes files of probeTableBytes one after the other, as
// a store's flush or compaction writes sstables, at rate MB/s (negative:
// unpaced), starting each 512 KB's write-back as it goes, until ctx ends.
func backgroundWriter(ctx context.Context, dir string, rate float64) (int64, error) {
	chunk := make([]byte, probeChunk)
	for i := range chunk {
		chunk[i] = byte(i * 131) // not all zeros, in case the disk compresses
	}
	var total int64
	start := time.Now()
	for n := 0; ctx.Err() == nil; n++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("table-%d", n%2)))
		if err != nil {
			return total, err
		}
		var off, started int64
		for off < probeTableBytes && ctx.Err() == nil {
			if _, err := f.Write(chunk); err != nil {
				f.Close()
				return total, err
			}
			off += probeChunk
			total += probeChunk
			if off-started >= probeWriteBack {
				startWriteBack(f, off)
				started = off
			}
			if rate > 0 {
				due := start.Add(time.Duration(float64(total) / (rate * 1e6) * float64(time.Second)))
				if wait := time.Until(due); wait > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
				}
			}
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return total, err
		}
		if err := f.Close(); err != nil {
			return total, err
		}
	}
	return total, nil
}

// ParseBeside parses a comma-separated list of writer rates in MB/s, where
// "full" (or "max") is as fast as the disk takes and 0 is no writer.
func ParseBeside(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case "full", "max":
			out = append(out, -1)
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || !(v >= 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%q is not a rate in MB/s (a number, 0 for none, or full)", f)
		}
		out = append(out, v)
	}
	return out, nil
}
