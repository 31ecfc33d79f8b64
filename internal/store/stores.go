package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// A data directory holds two stores. The log's (in LogDir: the keyspaces
// eventlog owns, LogPrefixes) takes every acknowledged append in a synced
// commit; the state's (in StateDir) takes everything else, the processor's
// checkpoints most of all. Pebble publishes one store's commits in the
// order they were sequenced, so in one store the log's commit of a group
// of requests waited until a checkpoint committed just before it had been
// applied: at a closed loop into a 1 M-customer store, each checkpoint
// (every 2 s, 8–14 MB) took 75–600 ms to commit, and the log commit behind
// it ended in the same millisecond. Two stores have two write-ahead logs
// and two memtables, and share one block cache.
//
// Versions before held one store, in OldStateDir. In a data directory of
// two stores, OldStateDir is a file saying so (Marker): an older tailor
// fails to create its store there and stops, where it would otherwise
// make (or, after a move, open) a store without the log, acknowledge
// appends into it under seqs the state took for applied, and leave them
// where a newer tailor does not read them.
const (
	StateDir    = "state"
	LogDir      = "log"
	OldStateDir = "pebble"
)

// Marker is what the file OldStateDir says in a data directory of two
// stores.
const Marker = "This data directory's stores are state/ and log/. A tailor that tries to open a store here is older than they are: run a newer one.\n"

// Stores are a data directory's two stores. In a data directory made
// before the log had a store of its own (the state's store holds the log's
// keys), both are the same store until MoveLog moves the log out.
type Stores struct {
	State, Log *pebble.DB
	// work times the background jobs of each store OpenStores opened;
	// nil for Stores made otherwise.
	work map[*pebble.DB]*Work
	// pacer paces the background jobs of the stores OpenStores opened
	// (paced: the file system of each); nil for Stores made otherwise.
	pacer *Pacer
	paced map[*pebble.DB]*pacedFS
	// stopPacing ends Pace's watch and waits for it: Close must not
	// close a store it is reading.
	stopPacing func()
}

// Pace paces the stores' flushes and compactions (see Pacer) to the
// shares of the clock given until ctx ends or the stores close; 0 leaves
// that kind unpaced. It returns at once; a later call replaces the shares.
// Stores not made by OpenStores are not paced.
func (s *Stores) Pace(ctx context.Context, flushDuty, compactionDuty float64) {
	if s.pacer == nil {
		return
	}
	if s.stopPacing != nil {
		s.stopPacing()
	}
	s.pacer.SetDuty(flushDuty, compactionDuty)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watch(ctx, 250*time.Millisecond, s.paced)
	}()
	s.stopPacing = func() { cancel(); <-done }
}

// Pacer returns the stores' pacer, nil when they are not paced.
func (s *Stores) Pacer() *Pacer { return s.pacer }

// Work returns what the background jobs of db, one of s's stores, have
// done since it opened; nil when they are not timed (Stores not made by
// OpenStores).
func (s *Stores) Work(db *pebble.DB) *Work { return s.work[db] }

// Shared reports whether the log still lives in the state's store.
func (s *Stores) Shared() bool { return s.State == s.Log }

// Close closes both stores.
func (s *Stores) Close() error {
	if s.stopPacing != nil {
		s.stopPacing()
	}
	err := s.State.Close()
	if !s.Shared() {
		err = errors.Join(err, s.Log.Close())
	}
	return err
}

// Each calls fn for each distinct store, named "state" and "log", the
// state's first.
func (s *Stores) Each(fn func(name string, db *pebble.DB) error) error {
	if err := fn("state", s.State); err != nil {
		return err
	}
	if s.Shared() {
		return nil
	}
	return fn("log", s.Log)
}

// LogPrefixes are the keyspaces that live in the log's store.
func LogPrefixes() []string {
	var out []string
	for _, ks := range Keyspaces {
		if ks.Owner == "eventlog" {
			out = append(out, ks.Prefix)
		}
	}
	return out
}

// OpenStores opens (creating if needed) the stores of data directory dir,
// sharing a block cache of cacheBytes. A directory of an older version
// whose store holds no log (none was ever appended) is given two stores
// first.
func OpenStores(dir string, cacheBytes int64) (*Stores, error) {
	c := pebble.NewCache(cacheBytes)
	defer c.Unref()
	l, err := layoutOf(dir)
	if err != nil {
		return nil, err
	}
	if l == oneStore {
		w, p := new(Work), new(Pacer)
		fs := p.fs(vfs.Default, "shared")
		old, err := openTimed(filepath.Join(dir, OldStateDir), c, LogMemTableBytes, w, fs)
		if err != nil {
			return nil, err
		}
		held, err := holdsLog(old)
		if err != nil {
			old.Close()
			return nil, err
		}
		if held {
			slog.Warn("the log shares the state's store (a data directory of an older version): acknowledgements wait behind checkpoints; stop the server and run `tailor migrate` once to give the log its own store", "data_dir", dir)
			return &Stores{State: old, Log: old, work: map[*pebble.DB]*Work{old: w}, pacer: p, paced: map[*pebble.DB]*pacedFS{old: fs}}, nil
		}
		if err := old.Close(); err != nil {
			return nil, err
		}
		l = moved
	}
	if err := split(dir, l); err != nil {
		return nil, err
	}
	sw, lw, p := new(Work), new(Work), new(Pacer)
	sfs, lfs := p.fs(vfs.Default, "state"), p.fs(vfs.Default, "log")
	state, err := openTimed(filepath.Join(dir, StateDir), c, StateMemTableBytes, sw, sfs)
	if err != nil {
		return nil, err
	}
	log, err := openTimed(filepath.Join(dir, LogDir), c, LogMemTableBytes, lw, lfs)
	if err != nil {
		state.Close()
		return nil, err
	}
	return &Stores{State: state, Log: log, work: map[*pebble.DB]*Work{state: sw, log: lw}, pacer: p, paced: map[*pebble.DB]*pacedFS{state: sfs, log: lfs}}, nil
}

// OpenState opens the state's store of data directory dir alone (the one
// store of an older version's), for tools that read or change settings
// and accounts. It completes the layout as OpenStores does.
func OpenState(dir string, cacheBytes int64) (*pebble.DB, error) {
	l, err := layoutOf(dir)
	if err != nil {
		return nil, err
	}
	if l == oneStore {
		return Open(filepath.Join(dir, OldStateDir), cacheBytes)
	}
	if err := split(dir, l); err != nil {
		return nil, err
	}
	return Open(filepath.Join(dir, StateDir), cacheBytes)
}

// layout is what a data directory holds.
type layout int

const (
	twoStores layout = iota // StateDir (and LogDir), Marker in OldStateDir; or nothing yet
	oneStore                // OldStateDir, an older version's store
	moved                   // OldStateDir and LogDir: MoveLog stopped before it renamed the state's store
)

func layoutOf(dir string) (layout, error) {
	isDir := func(name string) (bool, error) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return err == nil && fi.IsDir(), err
	}
	state, err := isDir(StateDir)
	if err != nil {
		return 0, err
	}
	old, err := isDir(OldStateDir)
	if err != nil {
		return 0, err
	}
	log, err := isDir(LogDir)
	if err != nil {
		return 0, err
	}
	switch {
	case state && old:
		return 0, fmt.Errorf("data directory %s holds both %s/ and %s/ (an older version's store): move the one tailor did not write last out of it", dir, StateDir, OldStateDir)
	case old && log:
		return moved, nil
	case old:
		return oneStore, nil
	}
	return twoStores, nil
}

// split completes a data directory of two stores: it renames the state's
// store of a move (moved) into place and writes Marker where it was.
func split(dir string, l layout) error {
	if l == moved {
		if err := os.Rename(filepath.Join(dir, OldStateDir), filepath.Join(dir, StateDir)); err != nil {
			return err
		}
	}
	switch _, err := os.Stat(filepath.Join(dir, OldStateDir)); {
	case err == nil:
		return nil // written before
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, OldStateDir+".tmp")
	if err := writeSynced(tmp, []byte(Marker)); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, OldStateDir)); err != nil {
		return err
	}
	return syncDir(dir)
}

func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// holdsLog reports whether db holds any key of the log's keyspaces.
func holdsLog(db *pebble.DB) (bool, error) {
	for _, p := range LogPrefixes() {
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(p), UpperBound: UpperBound(p)})
		if err != nil {
			return false, err
		}
		found := it.First()
		if err := it.Close(); err != nil {
			return false, err
		}
		if found {
			return true, nil
		}
	}
	return false, nil
}

// moveBatchBytes bounds one batch of MoveLog's copy.
const moveBatchBytes = 32 << 20

// MoveLog moves the log's keyspaces out of the one store of data
// directory dir (a stopped server's, of an older version) into a store of
// their own. It copies them into a new store beside it and renames that
// into place once complete, renames the old store to StateDir (Marker in
// its place), then deletes the log's keys from it: a move that stops
// part-way leaves the old layout (the copy is started again), the two
// stores with the state's not yet renamed (renamed by the next open), or
// the new layout with keys left to delete (deleted by running it again).
// It returns the number of keys moved, 0 when there was nothing to move.
func MoveLog(ctx context.Context, dir string, cacheBytes int64, progress io.Writer) (int64, error) {
	c := pebble.NewCache(cacheBytes)
	defer c.Unref()
	l, err := layoutOf(dir)
	if err != nil {
		return 0, err
	}
	var keys int64
	if l == oneStore {
		if keys, err = copyOut(ctx, dir, c, progress); err != nil {
			return 0, err
		}
		l = moved
	}
	if err := split(dir, l); err != nil {
		return 0, err
	}
	state, err := open(filepath.Join(dir, StateDir), c, StateMemTableBytes)
	if err != nil {
		return 0, err
	}
	defer state.Close()
	return keys, deleteLog(ctx, state, progress)
}

// copyOut copies the log's keyspaces of the one store of data directory
// dir into LogDir, complete and compacted before it takes that name. It
// returns the number of keys copied (0 when the store held no log: the
// log's store is then new and empty).
func copyOut(ctx context.Context, dir string, c *pebble.Cache, progress io.Writer) (int64, error) {
	old, err := open(filepath.Join(dir, OldStateDir), c, StateMemTableBytes)
	if err != nil {
		return 0, err
	}
	defer old.Close()
	final := filepath.Join(dir, LogDir)
	tmp := final + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return 0, err
	}
	dst, err := open(tmp, c, LogMemTableBytes)
	if err != nil {
		return 0, err
	}
	began := time.Now()
	var shown time.Time
	share := logShare(old)
	keys, err := copyLog(ctx, old, dst, func(keys int64, done uint64, last []byte) {
		if now := time.Now(); now.Sub(shown) >= time.Second {
			shown = now
			fmt.Fprintf(progress, "\rmigrate: copying the log to its own store: %3.0f%%, %d keys, %.1f GB (%s)   ",
				100*share(last), keys, float64(done)/1e9, time.Since(began).Round(time.Second))
		}
	})
	if err == nil {
		// Settled, as a bulk load ends (Settle): the copy outruns
		// compaction, and the 0.8 GB it left in L0 of a 1 M-customer
		// store's log doubled the compaction CPU of the ingest after it.
		fmt.Fprintf(progress, "\rmigrate: copied %d keys of the log in %s; compacting its store   \n", keys, time.Since(began).Round(time.Second))
		err = Settle(ctx, dst)
	}
	err = errors.Join(err, dst.Close())
	if err != nil {
		return 0, fmt.Errorf("copy the log to %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return 0, err
	}
	if err := syncDir(dir); err != nil {
		return 0, err
	}
	fmt.Fprintf(progress, "migrate: the log's store is complete (%s)\n", time.Since(began).Round(time.Second))
	return keys, nil
}

// logShare returns a function giving the share of db's log keyspaces, by
// their bytes on disk, that lies before key, for the copy's progress. It
// reads Pebble's estimate from the tables' metadata, no data.
func logShare(db *pebble.DB) func(key []byte) float64 {
	prefixes := LogPrefixes()
	sizes := make([]uint64, len(prefixes))
	var total uint64
	for i, p := range prefixes {
		if n, err := db.EstimateDiskUsage([]byte(p), UpperBound(p)); err == nil {
			sizes[i], total = n, total+n
		}
	}
	return func(key []byte) float64 {
		var before uint64
		for i, p := range prefixes {
			if bytes.HasPrefix(key, []byte(p)) {
				n, err := db.EstimateDiskUsage([]byte(p), key)
				if err != nil || total == 0 {
					return 0
				}
				return min(1, float64(before+n)/float64(total))
			}
			before += sizes[i]
		}
		return 0
	}
}

// copyLog copies the log's keyspaces from src to dst in key order.
// It calls progress after each batch with the keys and bytes copied and
// the last key (nil after the last batch).
func copyLog(ctx context.Context, src, dst *pebble.DB, progress func(keys int64, done uint64, last []byte)) (int64, error) {
	var keys int64
	var done uint64
	b := dst.NewBatch()
	defer func() { b.Close() }()
	commit := func(last []byte) error {
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		b.Reset()
		progress(keys, done, last)
		return ctx.Err()
	}
	for _, p := range LogPrefixes() {
		it, err := src.NewIter(&pebble.IterOptions{LowerBound: []byte(p), UpperBound: UpperBound(p)})
		if err != nil {
			return keys, err
		}
		for it.First(); it.Valid(); it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return keys, err
			}
			if err := b.Set(it.Key(), v, nil); err != nil {
				it.Close()
				return keys, err
			}
			keys++
			done += uint64(len(it.Key()) + len(v))
			if b.Len() >= moveBatchBytes {
				if err := commit(it.Key()); err != nil {
					it.Close()
					return keys, err
				}
			}
		}
		if err := it.Close(); err != nil {
			return keys, err
		}
	}
	return keys, commit(nil)
}

// deleteLog deletes the log's keyspaces from the state's store and
// compacts their ranges, which gives the disk space back.
func deleteLog(ctx context.Context, state *pebble.DB, progress io.Writer) error {
	held, err := holdsLog(state)
	if err != nil || !held {
		return err
	}
	b := state.NewBatch()
	defer b.Close()
	for _, p := range LogPrefixes() {
		if err := b.DeleteRange([]byte(p), UpperBound(p), nil); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("delete the log from the state's store: %w", err)
	}
	began := time.Now()
	fmt.Fprintf(progress, "migrate: giving the log's space in the state's store back to the disk\n")
	for _, p := range LogPrefixes() {
		if err := state.Compact(ctx, []byte(p), UpperBound(p), true); err != nil {
			return fmt.Errorf("compact %s: %w", p, err)
		}
	}
	fmt.Fprintf(progress, "migrate: done in %s\n", time.Since(began).Round(time.Second))
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
