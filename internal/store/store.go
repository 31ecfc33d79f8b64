// Package store opens Tailor's embedded Pebble store with the options every
// part relies on, and names the keyspaces (by prefix) each package owns
// (keys.go).
package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options returns Pebble options for a Tailor store with a cache of its
// own (which the caller unrefs once the store is open) and the log's
// memtable size.
func Options(cacheBytes int64) *pebble.Options {
	return options(pebble.NewCache(cacheBytes), LogMemTableBytes)
}

// LogMemTableBytes is the memtable size of the log's store (and of a store
// that still holds the log with the state). Every event writes two keys in
// random order (its timeline entry and its de-duplication key), so a small
// memtable floods L0 with overlapping tables that compaction then rewrites
// level by level. Into a 1 M-customer store (6 GB), 256 MB took `tailor
// bench ingest --batch 100 --concurrency 8` from 38k to 56k events/s and ack
// p99 from 77 to 52 ms (same run, 64 MB before), for about 400 MB more
// memory at peak.
const LogMemTableBytes = 256 << 20

// StateMemTableBytes is the memtable size of the state's store, which
// takes about half the log's bytes (at 40 k events/s into a 1 M-customer
// store: 244 against 565 MB in one run), its checkpoints' profile records
// in random order too.
const StateMemTableBytes = 128 << 20

// walBytesPerSync is how much a store's WAL may gather unsynced before
// Pebble starts its write-back (sync_file_range, which does not wait for
// the disk): Pebble's own default for sstables.
const walBytesPerSync = 512 << 10

// options returns the options of a store using block cache c (the store
// takes a reference of its own).
func options(c *pebble.Cache, memTableBytes uint64) *pebble.Options {
	o := &pebble.Options{
		Cache:         c,
		MemTableSize:  memTableBytes,
		Logger:        &throttledLogger{},
		EventListener: stalls.listener(""),
		// The newest sstable format: columnar blocks and MinLZ, which
		// the format Pebble defaults to for compatibility (row blocks,
		// Snappy) cannot use. Opening a store ratchets it (once, in
		// place); a binary of the same Pebble version opens it either way.
		FormatMajorVersion: pebble.FormatNewest,
		// The state's store commits its checkpoints without a sync, so
		// its WAL gathers a memtable's worth (~100 MB) of dirty pages
		// that the sync at the WAL's rotation wrote in one burst, every
		// 20–30 s under load; the log's WAL fsyncs, which every
		// acknowledgement waits for, queued behind it on the shared disk
		// (traced: 63–104 ms against a few ms, each beside the state WAL's
		// 81–110 ms sync). Writing back every 512 KB as it goes (as
		// Pebble does for sstables) turns the burst into a trickle. A WAL
		// synced at every commit, the log's, never reaches the threshold.
		WALBytesPerSync: walBytesPerSync,
	}
	o.Experimental.SpanPolicyFunc = logSpans
	o.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionFastest })
	// A messageId seen by the in-memory filter is confirmed with a read, and
	// reads of absent keys are the rule: bloom filters make such a read cost
	// a few hash probes instead of a block from every sstable.
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		o.Levels[i].FilterType = pebble.TableFilter
	}
	return o
}

// Settle compacts the whole store, the last step of a bulk load: a load at
// full speed outruns compaction, and the debt it leaves (4.7 GB after the
// 1 M-customer demo, 888 MB of it in L0) would otherwise be paid by the
// writes that follow, as extra CPU and latency. A settled store costs
// later writes only their own compactions.
func Settle(ctx context.Context, db *pebble.DB) error {
	return db.Compact(ctx, nil, []byte{0xff, 0xff, 0xff, 0xff}, true)
}

// Open opens (creating if needed) the Pebble store in dir.
func Open(dir string, cacheBytes int64) (*pebble.DB, error) {
	c := pebble.NewCache(cacheBytes)
	defer c.Unref()
	return open(dir, c, LogMemTableBytes)
}

func open(dir string, c *pebble.Cache, memTableBytes uint64) (*pebble.DB, error) {
	return openTimed(dir, c, memTableBytes, nil, nil)
}

// storeOptions are the options of the store in dir: options, with its
// stalls logged under the directory's name ("log", "state").
func storeOptions(dir string, c *pebble.Cache, memTableBytes uint64) *pebble.Options {
	o := options(c, memTableBytes)
	o.EventListener = stalls.listener(filepath.Base(dir))
	return o
}

// openTimed is open, with the store's flushes and compactions timed in w
// and its files written through fs (each if not nil).
func openTimed(dir string, c *pebble.Cache, memTableBytes uint64, w *Work, fs vfs.FS) (*pebble.DB, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store dir: %w", err)
	}
	o := storeOptions(dir, c, memTableBytes)
	if fs != nil {
		o.FS = fs
	}
	if w != nil {
		// The defaults first, as Open would set them: Tee gives a
		// listener without a BackgroundError one that logs nothing.
		base := *o.EventListener
		base.EnsureDefaults(o.Logger)
		tee := pebble.TeeEventListener(base, w.listener())
		o.EventListener = &tee
	}
	db, err := pebble.Open(dir, o)
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", dir, err)
	}
	return db, nil
}

// Batcher makes write batches: a *pebble.DB.
type Batcher interface {
	NewBatch(opts ...pebble.BatchOption) *pebble.Batch
}

// setEachBatchBytes bounds one batch of SetEach: a million records in one
// batch would hold them all in memory twice.
const setEachBatchBytes = 32 << 20

// SetEach sets, for i in [0, n), the key and value kv returns (copied:
// kv may reuse one buffer), in batches of bounded size, and syncs the
// last. A crash part-way leaves some records set and others not: it is for
// rewrites that change a record's form, not what it says (a new record
// format), where either state is correct.
func SetEach(db Batcher, n int, kv func(i int) (key, val []byte)) error {
	b := db.NewBatch()
	defer b.Close()
	for i := range n {
		k, v := kv(i)
		if err := b.Set(k, v, nil); err != nil {
			return err
		}
		if b.Len() >= setEachBatchBytes {
			if err := b.Commit(pebble.NoSync); err != nil {
				return err
			}
			b.Reset()
		}
	}
	return b.Commit(pebble.Sync)
}
