package server

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// toOldLayout rewrites the stopped server's data directory dir as versions
// before the log's own store left it: the log's keys in the state's store.
func toOldLayout(t *testing.T, dir string) {
	t.Helper()
	st, err := store.OpenStores(dir, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	it, err := st.Log.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := st.State.NewBatch()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		b.Set(it.Key(), it.Value(), nil)
		n++
	}
	it.Close()
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("the log's store is empty: the test shows nothing")
	}
	// An older version's one store, where it kept it, and nothing else.
	for _, name := range []string{store.LogDir, store.OldStateDir} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(filepath.Join(dir, store.StateDir), filepath.Join(dir, store.OldStateDir)); err != nil {
		t.Fatal(err)
	}
}

// TestLogBehindCheckpointRefused: a state whose checkpoint is past the
// end of its log (the log's store lost or replaced) is not served: the
// next appends would reuse seqs the processor takes for applied.
func TestLogBehindCheckpointRefused(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	for i := range 3 {
		if code, resp := n.post("/v1/track", fmt.Sprintf(`{"userId":"u-1","messageId":"m%d","event":"Viewed"}`, i)); code != 200 {
			t.Fatalf("track: %d %v", code, resp)
		}
	}
	n.profile("u-1", 3)
	n.stop()
	logDir := filepath.Join(dir, store.LogDir)
	if err := os.RemoveAll(logDir); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(logDir, 8<<20) // an empty log's store in its place
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	cfg := Defaults()
	cfg.DataDir, cfg.Addr, cfg.WriteKey, cfg.AdminToken = dir, "127.0.0.1:0", "wk", "tok"
	srv, err := Open(context.Background(), cfg)
	if err == nil {
		srv.Close(context.Background())
		t.Fatal("a state past the end of its log was opened")
	}
	if !strings.Contains(err.Error(), "but the log ends at seq 0") {
		t.Fatalf("error %q does not say the log ends before the state", err)
	}
}

// TestOldLayoutServesAndMigrates: a data directory whose log shares the
// state's store (an older version's) serves its profiles, timelines and
// de-duplication as before and takes new events; after `tailor migrate`
// (store.MoveLog) the log is in its own store and all of it still holds.
func TestOldLayoutServesAndMigrates(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	for i := range 5 {
		if code, resp := n.post("/v1/track", fmt.Sprintf(`{"userId":"u-1","messageId":"m%d","event":"Order Completed","properties":{"revenue":10}}`, i)); code != 200 {
			t.Fatalf("track: %d %v", code, resp)
		}
	}
	n.profile("u-1", 5)
	n.stop()
	toOldLayout(t, dir)

	check := func(n *node, events float64, shared bool) {
		t.Helper()
		if n.srv.stores.Shared() != shared {
			t.Fatalf("the log shares the state's store: %v, want %v", n.srv.stores.Shared(), shared)
		}
		p := n.profile("u-1", events)
		if c := p["computed"].(map[string]any); c["event_count"] != events || c["orders"] != events {
			t.Fatalf("computed = %v, want %v events and orders", c, events)
		}
		_, tl := n.get("/api/profiles/u-1/timeline?limit=100")
		if got := len(tl["events"].([]any)); float64(got) != events {
			t.Fatalf("timeline holds %d events, want %v", got, events)
		}
		// A repeated messageId is still known.
		n.post("/v1/track", `{"userId":"u-1","messageId":"m0","event":"Order Completed","properties":{"revenue":10}}`)
	}

	n = startNode(t, dir)
	check(n, 5, true)
	n.post("/v1/track", `{"userId":"u-1","messageId":"m5","event":"Order Completed","properties":{"revenue":10}}`)
	check(n, 6, true)
	n.stop()

	moved, err := store.MoveLog(context.Background(), dir, 8<<20, io.Discard)
	if err != nil || moved == 0 {
		t.Fatalf("MoveLog = %d, %v", moved, err)
	}
	n = startNode(t, dir)
	check(n, 6, false)
	n.post("/v1/track", `{"userId":"u-1","messageId":"m6","event":"Order Completed","properties":{"revenue":10}}`)
	check(n, 7, false)
}
