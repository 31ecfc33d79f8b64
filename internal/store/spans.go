package store

import (
	"bytes"
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"
)

// logKeyLen is the length of a log entry's key: l/<partition:2><seq:8>.
const logKeyLen = len(PrefixLog) + 2 + 8

// logSpans is the stores' span policy function, used for one thing: a
// table Pebble writes (by a flush or a compaction) ends at a log
// partition's boundary. The log's keys are partition-major
// (l/<partition:2><seq:8>) and each partition only grows at its end, so a
// flushed table holding one partition's newest events overlaps nothing
// written before it and can be moved down the levels as it is. A table
// that ran on into the next partition spanned that partition's whole
// history: every compaction of it rewrote the older events of every level
// it met (BenchmarkLogWriteAmp: half the bytes compacted; a young store's
// log at 40 k events/s: five to ten times fewer). The policy itself is
// Pebble's default everywhere.
//
// Only a table that starts at an entry's key is cut at the next
// partition: one that starts elsewhere in the log's keyspace (a range
// deletion's start, or a boundary it was cut at before) runs to the
// log's end. Cut at every boundary, a range deletion over the whole log
// was written as 65,536 tables, one per possible partition.
func logSpans(start []byte) (pebble.SpanPolicy, []byte, error) {
	lo := []byte(PrefixLog)
	switch {
	case bytes.Compare(start, lo) < 0:
		return pebble.SpanPolicy{}, lo, nil
	case !bytes.HasPrefix(start, lo):
		return pebble.SpanPolicy{}, nil, nil // past the log: one span to the end
	case len(start) != logKeyLen:
		return pebble.SpanPolicy{}, UpperBound(PrefixLog), nil
	}
	next := binary.BigEndian.Uint16(start[len(lo):]) + 1
	if next == 0 {
		return pebble.SpanPolicy{}, UpperBound(PrefixLog), nil
	}
	return pebble.SpanPolicy{}, binary.BigEndian.AppendUint16(lo, next), nil
}
