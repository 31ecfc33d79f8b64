package loadgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tailor/internal/store"
)

func TestRunPebble(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	var out bytes.Buffer
	rep, err := RunPebble(context.Background(), PebbleConfig{
		Dir: dir, Duration: 500 * time.Millisecond, Batch: 10, Concurrency: 4, Source: testMessages(500),
	})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteSummary(&out)
	t.Log(out.String())
	r := rep.Result
	if r.Events == 0 || r.Events != 10*r.Requests || r.Errors != 0 || r.Latency.N != r.Requests {
		t.Fatalf("events %d, commits %d, errors %d", r.Events, r.Requests, r.Errors)
	}
	if !lastLine.MatchString(out.String()) || !strings.Contains(out.String(), "pebble: ") {
		t.Fatalf("summary:\n%s", out.String())
	}

	// Every committed key holds the message its sequence number cycles to.
	db, err := store.Open(dir, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var n uint64
	for it.First(); it.Valid(); it.Next() {
		k := binary.BigEndian.Uint64(it.Key())
		if !bytes.Equal(it.Value(), rep.Corpus.message(int(k%500))) {
			t.Fatalf("key %d holds %s", k, it.Value())
		}
		n++
	}
	if n != r.Events {
		t.Fatalf("%d keys stored, %d events reported", n, r.Events)
	}

	// A second run refuses the now non-empty directory.
	_, err = RunPebble(context.Background(), PebbleConfig{Dir: dir, Duration: time.Second, Batch: 1, Concurrency: 1, Source: testMessages(5)})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("error %v, want 'not empty'", err)
	}
}

func TestRunPebbleEmptyDirIsFine(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rep, err := RunPebble(context.Background(), PebbleConfig{Dir: dir, Duration: 100 * time.Millisecond, Batch: 1, Concurrency: 1, Source: testMessages(5)})
	if err != nil || rep.Result.Events == 0 {
		t.Fatalf("err %v", err)
	}
}
