package store

import (
	"bytes"
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

// TestOnlyLogValuesApart: a flush puts the log's large values in a blob
// file and leaves every other keyspace's values, and the log's small ones,
// beside their keys; all read back the same.
func TestOnlyLogValuesApart(t *testing.T) {
	big := bytes.Repeat([]byte("e"), 2*valueSeparationMinSize)
	small := []byte("tiny")
	cases := []struct {
		name      string
		keys      []string
		val       []byte
		wantBlobs bool
	}{
		{"log values", []string{PrefixLog + "a", PrefixLog + "b"}, big, true},
		{"small log values", []string{PrefixLog + "a", PrefixLog + "b"}, small, false},
		{"profiles", []string{PrefixProfile + "a", PrefixProfile + "b"}, big, false},
		{"keyspaces before and after the log", []string{PrefixCatalog + "a", PrefixTimeline + "a", PrefixDedupe + "a"}, big, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, err := Open(t.TempDir(), 8<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			b := db.NewBatch()
			for _, k := range c.keys {
				if err := b.Set([]byte(k), c.val, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Commit(pebble.Sync); err != nil {
				t.Fatal(err)
			}
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
			var blob uint64
			for _, l := range db.Metrics().Levels {
				blob += l.BlobBytesFlushed
			}
			if got := blob > 0; got != c.wantBlobs {
				t.Errorf("blob bytes flushed %d, want blob files %v", blob, c.wantBlobs)
			}
			for _, k := range c.keys {
				v, closer, err := db.Get([]byte(k))
				if err != nil {
					t.Fatalf("%s: %v", k, err)
				}
				if !bytes.Equal(v, c.val) {
					t.Errorf("%s reads back %d bytes, want %d", k, len(v), len(c.val))
				}
				closer.Close()
			}
		})
	}
}

func TestLogValuesApartSpans(t *testing.T) {
	cases := []struct {
		start   string
		inPlace bool
		end     []byte
	}{
		{"", true, []byte(PrefixLog)},
		{PrefixCatalog + "x", true, []byte(PrefixLog)},
		{PrefixLog, false, UpperBound(PrefixLog)},
		{PrefixLog + "\x00\x07\xff", false, UpperBound(PrefixLog)},
		{PrefixMerge, true, nil},
		{PrefixTimeline + "x", true, nil},
	}
	for _, c := range cases {
		p, end, err := logValuesApart([]byte(c.start))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.ValueStoragePolicy == pebble.ValueStorageLowReadLatency; got != c.inPlace || !bytes.Equal(end, c.end) {
			t.Errorf("%q: in place %v until %q, want %v until %q", c.start, got, end, c.inPlace, c.end)
		}
	}
}
