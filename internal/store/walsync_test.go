package store

import (
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// walWriteBacks records how far Pebble has asked each WAL file it creates
// or recycles to be written back (SyncTo).
type walWriteBacks struct {
	vfs.FS
	mu   sync.Mutex
	upTo map[string]int64
}

// categoryWAL is the category Pebble names its WAL files by.
const categoryWAL vfs.DiskWriteCategory = "pebble-wal"

func (w *walWriteBacks) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := w.FS.Create(name, c)
	return w.watch(f, err, name, c)
}

func (w *walWriteBacks) ReuseForWrite(old, name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := w.FS.ReuseForWrite(old, name, c)
	return w.watch(f, err, name, c)
}

// watch wraps f when it is a WAL.
func (w *walWriteBacks) watch(f vfs.File, err error, name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if err != nil || c != categoryWAL {
		return f, err
	}
	return &walFile{File: f, w: w, name: name}, nil
}

// writtenBack is the bytes written back, summed over the WAL files.
func (w *walWriteBacks) writtenBack() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for _, v := range w.upTo {
		n += v
	}
	return n
}

type walFile struct {
	vfs.File
	w    *walWriteBacks
	name string
}

func (f *walFile) SyncTo(n int64) (bool, error) {
	f.w.mu.Lock()
	f.w.upTo[f.name] = max(f.w.upTo[f.name], n)
	f.w.mu.Unlock()
	return f.File.SyncTo(n)
}

// A store's WAL written by commits without a sync (the state's checkpoints)
// is written back as it grows, so the sync at its rotation does not find a
// memtable's worth of dirty pages to write at once in front of the log's
// fsyncs; with every commit synced (the log's) there is nothing left to
// write back.
func TestUnsyncedWALIsWrittenBackAsItGrows(t *testing.T) {
	const total = 32 << 20
	for _, tc := range []struct {
		name string
		opt  *pebble.WriteOptions
	}{{"not synced", pebble.NoSync}, {"synced", pebble.Sync}} {
		t.Run(tc.name, func(t *testing.T) {
			fs := &walWriteBacks{FS: vfs.Default, upTo: map[string]int64{}}
			c := pebble.NewCache(8 << 20)
			defer c.Unref()
			db, err := openTimed(t.TempDir(), c, StateMemTableBytes, nil, fs)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			val := make([]byte, 64<<10)
			for i := range total / len(val) {
				if err := db.Set([]byte{'k', byte(i >> 8), byte(i)}, val, tc.opt); err != nil {
					t.Fatal(err)
				}
			}
			// Pebble writes back what is more than a MB behind the end
			// of a WAL, 512 KB at a time at least, and its memtables
			// (each with a WAL of its own) start small and double: over
			// 32 MB, most is written back. A goroutine of Pebble's
			// writes the WAL after the commits return: give it a moment.
			want := int64(total / 2)
			for deadline := time.Now().Add(5 * time.Second); tc.opt == pebble.NoSync && fs.writtenBack() < want && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			got := fs.writtenBack()
			if tc.opt == pebble.NoSync && got < want {
				t.Errorf("%d MB of unsynced commits: %d bytes of the WAL written back, want at least %d", total>>20, got, want)
			}
			if tc.opt == pebble.Sync && got != 0 {
				t.Errorf("%d MB of synced commits: %d bytes of the WAL written back, want none (each commit syncs it)", total>>20, got)
			}
		})
	}
}
