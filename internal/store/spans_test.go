package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func logKeyFor(p uint16, seq uint64) []byte {
	k := binary.BigEndian.AppendUint16([]byte(PrefixLog), p)
	return binary.BigEndian.AppendUint64(k, seq)
}

func TestLogSpans(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start []byte
		end   []byte // nil: the span runs to the end of the keyspace
	}{
		{"before the log", []byte(PrefixDedupe + "src\x00m-1"), []byte(PrefixLog)},
		{"empty key", nil, []byte(PrefixLog)},
		{"the log's prefix alone", []byte(PrefixLog), UpperBound(PrefixLog)},
		{"a partition's boundary", []byte(PrefixLog + "\x00\x01"), UpperBound(PrefixLog)},
		{"partition 0", logKeyFor(0, 42), []byte(PrefixLog + "\x00\x01")},
		{"partition 7", logKeyFor(7, 1), []byte(PrefixLog + "\x00\x08")},
		{"partition 255", logKeyFor(255, 1), []byte(PrefixLog + "\x01\x00")},
		{"the last partition", logKeyFor(0xffff, 1), UpperBound(PrefixLog)},
		{"the log's dictionaries", []byte(PrefixLogDict + "\x00"), nil},
		{"timelines", []byte(PrefixTimeline + "user_id:u1\x00"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			policy, end, err := logSpans(tc.start)
			if err != nil {
				t.Fatal(err)
			}
			if policy != (pebble.SpanPolicy{}) {
				t.Errorf("policy %+v, want Pebble's default", policy)
			}
			if !bytes.Equal(end, tc.end) {
				t.Errorf("end %q, want %q", end, tc.end)
			}
			if end != nil && bytes.Compare(end, tc.start) <= 0 {
				t.Errorf("end %q does not follow start %q", end, tc.start)
			}
		})
	}
}

// TestFlushSplitsAtPartitions: a memtable holding the newest events of
// three partitions, with keys before and after the log, flushes into
// tables none of which holds two partitions' events, so each can move
// down the levels without meeting the partitions' older tables.
func TestFlushSplitsAtPartitions(t *testing.T) {
	db := openTemp(t)
	b := db.NewBatch()
	for seq := uint64(1); seq <= 300; seq++ {
		set(t, b, logKeyFor(uint16(seq%3), seq))
		set(t, b, []byte(fmt.Sprintf("%sm-%d", PrefixDedupe, seq)))
		set(t, b, []byte(fmt.Sprintf("%su-%d\x00", PrefixTimeline, seq)))
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	levels, err := db.SSTables()
	if err != nil {
		t.Fatal(err)
	}
	tables := 0
	for _, level := range levels {
		for _, tbl := range level {
			tables++
			lo, hi := tbl.Smallest.UserKey, tbl.Largest.UserKey
			if partitionOf(lo) != partitionOf(hi) {
				t.Errorf("table %s holds %q to %q: across partitions", tbl.FileNum, lo, hi)
			}
		}
	}
	// Dedupe keys, three partitions, timelines.
	if tables != 5 {
		t.Errorf("the flush wrote %d tables, want 5", tables)
	}
}

// partitionOf names the span of key k: the log partition it is in, or
// "before" or "after" the log.
func partitionOf(k []byte) string {
	switch {
	case bytes.Compare(k, []byte(PrefixLog)) < 0:
		return "before"
	case !bytes.HasPrefix(k, []byte(PrefixLog)):
		return "after"
	}
	return fmt.Sprintf("partition %x", k[len(PrefixLog):len(PrefixLog)+2])
}

func set(t *testing.T, b *pebble.Batch, k []byte) {
	t.Helper()
	if err := b.Set(k, append([]byte("v:"), k...), nil); err != nil { // as has reads it
		t.Fatal(err)
	}
}

// TestRangeDeletionOverTheLog: deleting the whole log's keyspace (as the
// move of the log out of the state's store does) writes a few tables, not
// one per possible partition (65,536 of them, most empty, and a minute).
func TestRangeDeletionOverTheLog(t *testing.T) {
	db := openTemp(t)
	b := db.NewBatch()
	for seq := uint64(1); seq <= 30; seq++ {
		set(t, b, logKeyFor(uint16(seq%3), seq))
	}
	set(t, b, []byte(PrefixProfile+"p1"))
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteRange([]byte(PrefixLog), UpperBound(PrefixLog), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(context.Background(), []byte(PrefixLog), UpperBound(PrefixLog), true); err != nil {
		t.Fatal(err)
	}
	var written uint64
	for _, l := range db.Metrics().Levels {
		written += l.TablesFlushed + l.TablesCompacted
	}
	if written > 10 {
		t.Errorf("the deletion's flush and compaction wrote %d tables, want a few", written)
	}
	if n := has(t, db, string(logKeyFor(1, 1)), PrefixProfile+"p1"); n != 1 {
		t.Errorf("%d of a deleted log key and a kept profile read back, want 1", n)
	}
}

// openTemp opens a store in a directory of its own, closed when the test
// ends.
func openTemp(t *testing.T) *pebble.DB {
	t.Helper()
	db, err := Open(t.TempDir(), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
