package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestSettleLeavesNoLevelZero: after a load of several flushes, Settle
// leaves nothing in L0 (the debt a bulk load leaves is paid) and every key
// still reads back.
func TestSettleLeavesNoLevelZero(t *testing.T) {
	db, err := Open(t.TempDir(), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const flushes, perFlush = 3, 500 // below L0CompactionThreshold (4): no background compaction
	for f := 0; f < flushes; f++ {
		b := db.NewBatch()
		for i := 0; i < perFlush; i++ {
			// Interleaved across flushes, so the L0 tables overlap.
			k := fmt.Sprintf("%s%06d", PrefixLog, i*flushes+f)
			if err := b.Set([]byte(k), []byte(k), nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if n := db.Metrics().Levels[0].TablesCount; n == 0 {
		t.Fatalf("L0 holds no table before Settle: the test shows nothing")
	}
	if err := Settle(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if n := db.Metrics().Levels[0].TablesCount; n != 0 {
		t.Errorf("L0 holds %d tables after Settle, want 0", n)
	}
	for i := 0; i < flushes*perFlush; i++ {
		k := fmt.Sprintf("%s%06d", PrefixLog, i)
		v, closer, err := db.Get([]byte(k))
		if err != nil {
			t.Fatalf("%s after Settle: %v", k, err)
		}
		if string(v) != k {
			t.Errorf("%s = %q after Settle", k, v)
		}
		closer.Close()
	}
}
