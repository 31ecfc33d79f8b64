package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// logKeys are keys of every log keyspace, stateKeys of others.
var (
	logKeys   = []string{PrefixLog + "\x00\x01seq1", PrefixLogDict + "dict", PrefixTimeline + "u:1\x00ts", PrefixDedupe + "src\x00m1", PrefixDedupeSize}
	stateKeys = []string{PrefixConfig + "write_key", PrefixProfile + "p1", PrefixCheckpoint + "applied"}
)

func put(t *testing.T, db *pebble.DB, keys ...string) {
	t.Helper()
	b := db.NewBatch()
	for _, k := range keys {
		b.Set([]byte(k), []byte("v:"+k), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// has reports which of keys db holds, failing on a wrong value.
func has(t *testing.T, db *pebble.DB, keys ...string) (n int) {
	t.Helper()
	for _, k := range keys {
		v, closer, err := db.Get([]byte(k))
		if err == pebble.ErrNotFound {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(v, []byte("v:"+k)) {
			t.Fatalf("%q = %q", k, v)
		}
		closer.Close()
		n++
	}
	return n
}

// oldLayout makes a data directory as versions before the log's own store
// left it: every key in the state's store.
func oldLayout(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(filepath.Join(dir, StateDir), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	put(t, db, append(logKeys, stateKeys...)...)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func openStores(t *testing.T, dir string) *Stores {
	t.Helper()
	st, err := OpenStores(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestOpenStoresLayouts: a new data directory gets two stores, each
// keeping its keys across a reopen; one of the old layout keeps its one
// store, which serves as both.
func TestOpenStoresLayouts(t *testing.T) {
	dir := t.TempDir()
	st := openStores(t, dir)
	if st.Shared() {
		t.Fatal("a new data directory's log shares the state's store")
	}
	put(t, st.Log, logKeys...)
	put(t, st.State, stateKeys...)
	st.Close()
	st = openStores(t, dir)
	if st.Shared() || has(t, st.Log, logKeys...) != len(logKeys) || has(t, st.State, stateKeys...) != len(stateKeys) {
		t.Fatal("reopened: the keys are not in their stores")
	}
	if has(t, st.State, logKeys...) != 0 || has(t, st.Log, stateKeys...) != 0 {
		t.Fatal("a store holds the other's keys")
	}
	st.Close()

	st = openStores(t, oldLayout(t))
	defer st.Close()
	if !st.Shared() || has(t, st.Log, logKeys...) != len(logKeys) {
		t.Fatal("an old data directory's log is not read from the state's store")
	}
	var names []string
	st.Each(func(name string, _ *pebble.DB) error { names = append(names, name); return nil })
	if fmt.Sprint(names) != "[state]" {
		t.Fatalf("Each visits %v of a shared store, want it once", names)
	}
}

// TestMoveLog: the log's keys move to a store of their own and no longer
// take space in the state's; a second run, a run on a new data directory,
// and a run after a move that stopped part-way all end in the same state.
func TestMoveLog(t *testing.T) {
	ctx := context.Background()
	check := func(dir string) {
		t.Helper()
		st := openStores(t, dir)
		defer st.Close()
		if st.Shared() {
			t.Fatal("after the move the log still shares the state's store")
		}
		if n := has(t, st.Log, logKeys...); n != len(logKeys) {
			t.Fatalf("the log's store holds %d of %d log keys", n, len(logKeys))
		}
		if has(t, st.State, logKeys...) != 0 || has(t, st.State, stateKeys...) != len(stateKeys) || has(t, st.Log, stateKeys...) != 0 {
			t.Fatal("after the move a key is in the wrong store")
		}
	}

	dir := oldLayout(t)
	// A copy that stopped before its rename is started again.
	if err := os.MkdirAll(filepath.Join(dir, LogDir+".partial", "junk"), 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := MoveLog(ctx, dir, 1<<20, io.Discard)
	if err != nil || n != int64(len(logKeys)) {
		t.Fatalf("MoveLog = %d, %v; want %d keys", n, err, len(logKeys))
	}
	if _, err := os.Stat(filepath.Join(dir, LogDir+".partial")); !os.IsNotExist(err) {
		t.Fatalf("the partial copy is left: %v", err)
	}
	check(dir)
	if n, err := MoveLog(ctx, dir, 1<<20, io.Discard); err != nil || n != 0 {
		t.Fatalf("a second MoveLog = %d, %v; want nothing to do", n, err)
	}
	check(dir)

	// Stopped after the rename, before the deletion: the log's keys are in
	// both stores; the log's store is the one read, and a run deletes the
	// state's copies.
	db, err := Open(filepath.Join(dir, StateDir), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	put(t, db, logKeys...)
	db.Close()
	if st := openStores(t, dir); st.Shared() {
		t.Fatal("with the log's store present, the state's copies are read")
	} else {
		st.Close()
	}
	if _, err := MoveLog(ctx, dir, 1<<20, io.Discard); err != nil {
		t.Fatal(err)
	}
	check(dir)

	fresh := t.TempDir()
	openStores(t, fresh).Close()
	if n, err := MoveLog(ctx, fresh, 1<<20, io.Discard); err != nil || n != 0 {
		t.Fatalf("MoveLog of a new data directory = %d, %v; want nothing to do", n, err)
	}
}
