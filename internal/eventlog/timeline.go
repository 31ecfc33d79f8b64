package eventlog

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// Timeline index keyspace:
//
//	t/<identifier>\x00<event time:8><seq:8> -> <partition:2>
//
// The event time is Unix nanoseconds, big-endian and compared unsigned, so
// an identifier's entries sort by (event time, seq). Identifiers never hold a
// zero byte (ingest refuses control characters), so one identifier's range
// never contains another's.

// MaxTimelineIdentifiers bounds the identifiers one Timeline query consults.
// A profile can gather any number of identities; consulting each costs a
// seek, so without a bound one profile's timeline could take seconds of disk
// and CPU away from everyone else's ingest.
const MaxTimelineIdentifiers = 1000

// IndexKey builds the timeline index key stem for an identifier key and event
// time: "<identifier>\x00<unix nanos:8>". The log appends the seq.
//
// Times outside what int64 nanoseconds hold in order (before 1970, after
// 2262) are clamped to the nearest end, so the key still sorts where the
// event belongs and a cursor built from it reads back the same key. Ingest
// accepts no such times; the clamp keeps the index ordered regardless.
func IndexKey(identifier string, ts time.Time) []byte {
	return AppendIndexTime(append(make([]byte, 0, len(identifier)+1+8), identifier...), ts)
}

// AppendIndexTime appends what follows the identifier in its IndexKey for
// ts: a caller that wrote the identifier into dst itself completes the key.
func AppendIndexTime(dst []byte, ts time.Time) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0), indexTime(ts))
}

var maxIndexTime = time.Unix(0, math.MaxInt64)

func indexTime(ts time.Time) uint64 {
	switch {
	case ts.Unix() < 0:
		return 0
	case ts.After(maxIndexTime):
		return math.MaxInt64
	}
	return uint64(ts.UnixNano())
}

// Pointer locates one event of a timeline.
type Pointer struct {
	Partition int
	Seq       uint64
	// TsNanos is the event time in Unix nanoseconds as the index holds it.
	TsNanos int64
}

// Cursor marks the end of a timeline page: the next page holds the entries
// strictly older than it. The zero Cursor is the newest end.
//
// A cursor carries the index key's time bits as they are, unsigned, so every
// entry the index holds (including ones written before times were range
// checked, whose bits read as negative nanoseconds) yields a cursor that
// parses back to the same position.
type Cursor struct {
	ts, seq uint64
}

// Cursor is the position just after p: pass it to Timeline for the next page.
func (p Pointer) Cursor() Cursor { return Cursor{ts: uint64(p.TsNanos), seq: p.Seq} }

// IsZero reports whether c is the newest end of a timeline.
func (c Cursor) IsZero() bool { return c.seq == 0 }

// String is the cursor's text form "<time>-<seq>", "" for the zero Cursor.
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	return strconv.FormatUint(c.ts, 10) + "-" + strconv.FormatUint(c.seq, 10)
}

// ErrBadCursor is returned by ParseCursor for text String did not produce.
var ErrBadCursor = errors.New("eventlog: malformed timeline cursor")

// ParseCursor is the inverse of String; "" is the zero Cursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	ts, seq, ok := strings.Cut(s, "-")
	t, err1 := strconv.ParseUint(ts, 10, 64)
	n, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil || n == 0 {
		return Cursor{}, fmt.Errorf("%w %q", ErrBadCursor, s)
	}
	return Cursor{ts: t, seq: n}, nil
}

// Timeline returns up to limit pointers to events filed under any of the
// identifier keys, newest first by (event time, seq), strictly older than
// before unless it is zero. Each identifier's range is read backwards and the
// ranges merged, so a profile's timeline needs no rewrite when identity
// resolution merges two profiles.
//
// Only the first MaxTimelineIdentifiers identifiers are consulted. The cost
// is one iterator and at most one seek per identifier plus one step per entry
// returned, whatever the number of identifiers: the identifiers share one
// iterator, and a heap keyed by each one's newest remaining entry picks the
// next entry in O(log n).
func (l *Log) Timeline(identifiers []string, before Cursor, limit int) ([]Pointer, error) {
	if len(identifiers) > MaxTimelineIdentifiers {
		identifiers = identifiers[:MaxTimelineIdentifiers]
	}
	if limit <= 0 || len(identifiers) == 0 {
		return nil, nil
	}
	it, err := l.db.NewIter(nil)
	if err != nil {
		return nil, fmt.Errorf("eventlog: timeline: %w", err)
	}
	m := merger{it: it, at: -1}
	// One allocation for every source and one for every prefix.
	size := 0
	for _, id := range identifiers {
		size += len(store.PrefixTimeline) + len(id) + 1
	}
	prefixes := make([]byte, 0, size)
	srcs := make([]source, len(identifiers))
	h := make(heads, 0, len(identifiers))
	for i, id := range identifiers {
		start := len(prefixes)
		prefixes = append(append(append(prefixes, store.PrefixTimeline...), id...), 0)
		s := &srcs[i]
		s.prefix = prefixes[start:len(prefixes):len(prefixes)]
		if m.seek(s, before) {
			h = append(h, s)
		} else if m.err != nil {
			break
		}
	}
	heap.Init(&h)
	out := make([]Pointer, 0, min(limit, 256))
	for len(out) < limit && len(h) > 0 && m.err == nil {
		s := h[0]
		out = append(out, s.head)
		if m.step(s) {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	err = m.err
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("eventlog: timeline: %w", err)
	}
	return out, nil
}

// source is one identifier's range; head is its newest entry not yet returned.
type source struct {
	prefix []byte // "t/<identifier>\x00"
	head   Pointer
	ts     uint64 // head's time bits, as the key holds them
	id     int    // which source the merger's iterator is positioned in
}

// merger moves one shared iterator between the sources' ranges.
type merger struct {
	it    *pebble.Iterator
	at    int // the id of the source the iterator is positioned in, or -1
	next  int // the id the next source gets
	key   []byte
	upper []byte
	// err is the first iteration error; kept here because the next seek
	// clears the iterator's own.
	err error
}

// seek positions s on its newest entry strictly older than before (its
// newest entry when before is zero), reporting whether there is one.
func (m *merger) seek(s *source, before Cursor) bool {
	s.id = m.next
	m.next++
	m.bounds(s)
	if before.IsZero() {
		m.it.Last()
	} else {
		m.key = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(append(m.key[:0], s.prefix...), before.ts), before.seq)
		m.it.SeekLT(m.key)
	}
	return m.read(s)
}

// step moves s to its next older entry, reporting whether there is one. When
// the iterator is still in s's range (consecutive entries from one
// identifier, the common case) this is one Prev; otherwise a seek back to
// just before s's head.
func (m *merger) step(s *source) bool {
	if m.at != s.id {
		m.bounds(s)
		m.key = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(append(m.key[:0], s.prefix...), s.ts), s.head.Seq)
		m.it.SeekLT(m.key)
	} else {
		m.it.Prev()
	}
	return m.read(s)
}

func (m *merger) bounds(s *source) {
	// The upper bound is the prefix with its final zero byte made one.
	m.upper = append(append(m.upper[:0], s.prefix[:len(s.prefix)-1]...), 1)
	m.it.SetBounds(s.prefix, m.upper)
	m.at = s.id
}

// read loads the entry under the iterator into s.head, skipping entries that
// are not index entries (which only corruption could produce).
func (m *merger) read(s *source) bool {
	for ; m.it.Valid(); m.it.Prev() {
		tail, v := m.it.Key()[len(s.prefix):], m.it.Value()
		if len(tail) != 16 || len(v) != 2 {
			continue
		}
		s.ts = binary.BigEndian.Uint64(tail[:8])
		s.head = Pointer{Partition: int(binary.BigEndian.Uint16(v)), TsNanos: int64(s.ts), Seq: binary.BigEndian.Uint64(tail[8:])}
		return true
	}
	if err := m.it.Error(); err != nil && m.err == nil {
		m.err = err
	}
	return false
}

// heads is a max-heap of sources by their head's (event time, seq).
type heads []*source

func (h heads) Len() int { return len(h) }
func (h heads) Less(i, j int) bool {
	if h[i].ts != h[j].ts {
		return h[i].ts > h[j].ts
	}
	return h[i].head.Seq > h[j].head.Seq
}
func (h heads) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heads) Push(x any)   { *h = append(*h, x.(*source)) }
func (h *heads) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}
