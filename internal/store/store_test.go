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

// TestSetEachBatches: SetEach sets every record of a write bigger than
// one batch, each with its own value although kv reuses one buffer.
func TestSetEachBatches(t *testing.T) {
	db, err := Open(t.TempDir(), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n, size = 40, 1 << 20 // 40 MB: more than one batch
	buf := make([]byte, size)
	err = SetEach(db, n, func(i int) ([]byte, []byte) {
		for j := range buf {
			buf[j] = byte(i)
		}
		return []byte(fmt.Sprintf("x/%02d", i)), buf
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		v, closer, err := db.Get([]byte(fmt.Sprintf("x/%02d", i)))
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if len(v) != size || v[0] != byte(i) || v[size-1] != byte(i) {
			t.Errorf("record %d: %d bytes starting %d, want %d bytes of %d", i, len(v), v[0], size, i)
		}
		closer.Close()
	}
}
