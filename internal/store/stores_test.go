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
	db, err := Open(filepath.Join(dir, OldStateDir), 1<<20)
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

// TestOlderTailorStops: in a data directory of two stores, made new or by
// a move, an older tailor's store (OldStateDir) cannot be created or
// opened, and the file in its place says why.
func TestOlderTailorStops(t *testing.T) {
	fresh := t.TempDir()
	openStores(t, fresh).Close()
	moved := oldLayout(t)
	if _, err := MoveLog(context.Background(), moved, 1<<20, io.Discard); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{"new": fresh, "moved": moved} {
		// What an older tailor does at its start.
		if db, err := Open(filepath.Join(dir, OldStateDir), 1<<20); err == nil {
			db.Close()
			t.Fatalf("%s: an older tailor opened a store in %s/", name, OldStateDir)
		}
		if b, err := os.ReadFile(filepath.Join(dir, OldStateDir)); err != nil || string(b) != Marker {
			t.Fatalf("%s: %s holds %q, %v; want the marker", name, OldStateDir, b, err)
		}
	}
}

// TestOpenStoresCompletesLayouts: a move that stopped before renaming the
// state's store, and an older version's store that holds no log, both
// open as two stores with every key in its place; a directory holding
// both state stores is refused.
func TestOpenStoresCompletesLayouts(t *testing.T) {
	dir := oldLayout(t)
	db, err := Open(filepath.Join(dir, LogDir), 1<<20) // the log's store, renamed into place
	if err != nil {
		t.Fatal(err)
	}
	put(t, db, logKeys...)
	db.Close()
	st := openStores(t, dir)
	if st.Shared() || has(t, st.State, stateKeys...) != len(stateKeys) || has(t, st.Log, logKeys...) != len(logKeys) {
		t.Fatal("a stopped move does not open as two stores")
	}
	st.Close()
	if _, err := MoveLog(context.Background(), dir, 1<<20, io.Discard); err != nil {
		t.Fatal(err)
	}
	st = openStores(t, dir)
	if has(t, st.State, logKeys...) != 0 {
		t.Fatal("the log's keys are left in the state's store")
	}
	st.Close()

	empty := t.TempDir()
	db, err = Open(filepath.Join(empty, OldStateDir), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	put(t, db, stateKeys...)
	db.Close()
	st = openStores(t, empty)
	if st.Shared() || has(t, st.State, stateKeys...) != len(stateKeys) {
		t.Fatal("an older store without a log does not open as two stores")
	}
	st.Close()
	if _, err := os.Stat(filepath.Join(empty, StateDir)); err != nil {
		t.Fatal(err)
	}

	both := t.TempDir()
	for _, d := range []string{StateDir, OldStateDir} {
		if err := os.MkdirAll(filepath.Join(both, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := OpenStores(both, 1<<20); err == nil {
		st.Close()
		t.Fatal("a directory holding both state stores was opened")
	}
}

// TestLogShare: the copy's progress rises with the key and stays in
// [0, 1], reaching most of the way by the last key.
func TestLogShare(t *testing.T) {
	db, err := Open(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys []string
	val := bytes.Repeat([]byte("x"), 200)
	b := db.NewBatch()
	for _, p := range []string{PrefixLog, PrefixTimeline, PrefixDedupe} {
		for i := range 20000 {
			k := fmt.Sprintf("%s%08d", p, i)
			keys = append(keys, k)
			b.Set([]byte(k), val, nil)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	share := logShare(db)
	prev := 0.0
	for i := 0; i < len(keys); i += 997 {
		f := share([]byte(keys[i]))
		if f < prev || f > 1 {
			t.Fatalf("share(%q) = %v after %v", keys[i], f, prev)
		}
		prev = f
	}
	if last := share([]byte(keys[len(keys)-1])); last < 0.9 {
		t.Fatalf("share of the last key = %v, want near 1", last)
	}
	if first := share([]byte(keys[0])); first > 0.1 {
		t.Fatalf("share of the first key = %v, want near 0", first)
	}
}
