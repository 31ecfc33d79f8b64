package store

import (
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
const (
	StateDir = "pebble"
	LogDir   = "log"
)

// Stores are a data directory's two stores. In a data directory made
// before the log had a store of its own (the state's store holds the log's
// keys), both are the same store until MoveLog moves the log out.
type Stores struct {
	State, Log *pebble.DB
}

// Shared reports whether the log still lives in the state's store.
func (s *Stores) Shared() bool { return s.State == s.Log }

// Close closes both stores.
func (s *Stores) Close() error {
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
// sharing a block cache of cacheBytes.
func OpenStores(dir string, cacheBytes int64) (*Stores, error) {
	c := pebble.NewCache(cacheBytes)
	defer c.Unref()
	logDir := filepath.Join(dir, LogDir)
	_, err := os.Stat(logDir)
	split := !errors.Is(err, fs.ErrNotExist)
	mem := uint64(StateMemTableBytes)
	if !split {
		mem = LogMemTableBytes // it may hold the log
	}
	state, err := open(filepath.Join(dir, StateDir), c, mem)
	if err != nil {
		return nil, err
	}
	if !split {
		held, err := holdsLog(state)
		if err != nil {
			state.Close()
			return nil, err
		}
		if held {
			slog.Warn("the log shares the state's store (a data directory of an older version): acknowledgements wait behind checkpoints; stop the server and run `tailor migrate` once to give the log its own store", "data_dir", dir)
			return &Stores{State: state, Log: state}, nil
		}
	}
	log, err := open(logDir, c, LogMemTableBytes)
	if err != nil {
		state.Close()
		return nil, err
	}
	return &Stores{State: state, Log: log}, nil
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

// MoveLog moves the log's keyspaces out of the state's store of data
// directory dir (a stopped server's) into a store of their own. It copies
// them into a new store beside it, renames that into place once complete,
// then deletes them from the state's store: a move that stops part-way
// leaves either the old layout (the copy is started again) or the new one
// with keys left to delete (deleted by running it again). It returns the
// number of keys moved, 0 when there was nothing to move.
func MoveLog(ctx context.Context, dir string, cacheBytes int64, progress io.Writer) (int64, error) {
	c := pebble.NewCache(cacheBytes)
	defer c.Unref()
	state, err := open(filepath.Join(dir, StateDir), c, StateMemTableBytes)
	if err != nil {
		return 0, err
	}
	defer state.Close()
	final := filepath.Join(dir, LogDir)
	if _, err := os.Stat(final); err == nil {
		return 0, deleteLog(ctx, state, progress)
	}
	held, err := holdsLog(state)
	if err != nil || !held {
		return 0, err
	}
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
	keys, err := copyLog(ctx, state, dst, func(keys int64, done uint64) {
		if now := time.Now(); now.Sub(shown) >= time.Second {
			shown = now
			fmt.Fprintf(progress, "\rmigrate: copying the log to its own store: %d keys, %.1f GB (%s)   ",
				keys, float64(done)/1e9, time.Since(began).Round(time.Second))
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
	return keys, deleteLog(ctx, state, progress)
}

// copyLog copies the log's keyspaces from src to dst in key order.
// It calls progress after each batch with the keys and bytes copied.
func copyLog(ctx context.Context, src, dst *pebble.DB, progress func(keys int64, done uint64)) (int64, error) {
	var keys int64
	var done uint64
	b := dst.NewBatch()
	defer func() { b.Close() }()
	commit := func() error {
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		b.Reset()
		progress(keys, done)
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
				if err := commit(); err != nil {
					it.Close()
					return keys, err
				}
			}
		}
		if err := it.Close(); err != nil {
			return keys, err
		}
	}
	return keys, commit()
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
