package eventlog

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"tailor/internal/store/storetest"
)

// fill appends n records per identifier, event times from times(i, j), and
// returns every pointer written per identifier.
func fill(t testing.TB, l *Log, ids []string, n func(i int) int, times func(i, j int) time.Time) map[string][]Pointer {
	t.Helper()
	type rec struct {
		id string
		ts time.Time
	}
	var all []rec
	for i, id := range ids {
		for j := range n(i) {
			all = append(all, rec{id, times(i, j)})
		}
	}
	// Interleave identifiers in the log, as live traffic does.
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })
	written := map[string][]Pointer{}
	for start := 0; start < len(all); start += 1000 {
		chunk := all[start:min(start+1000, len(all))]
		recs := make([]Record, len(chunk))
		for i, r := range chunk {
			recs[i] = Record{Partition: i % l.Partitions(), Value: []byte("v"), Index: [][]byte{IndexKey(r.id, r.ts)}}
		}
		res, err := l.Append(context.Background(), recs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range chunk {
			k := IndexKey(r.id, r.ts)
			written[r.id] = append(written[r.id], Pointer{Partition: recs[i].Partition, Seq: res[i].Seq,
				TsNanos: int64(binary.BigEndian.Uint64(k[len(k)-8:]))})
		}
	}
	return written
}

// newestFirst is the reference model of a timeline: every pointer of the
// identifiers, sorted newest first, strictly older than the cursor.
func newestFirst(written map[string][]Pointer, ids []string, before Cursor) []Pointer {
	var out []Pointer
	for _, id := range ids {
		for _, p := range written[id] {
			if before.IsZero() || cmp.Or(cmp.Compare(uint64(p.TsNanos), before.ts), cmp.Compare(p.Seq, before.seq)) < 0 {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b Pointer) int {
		return cmp.Or(cmp.Compare(uint64(b.TsNanos), uint64(a.TsNanos)), cmp.Compare(b.Seq, a.Seq))
	})
	return out
}

// pages reads a whole timeline through cursors, as the admin API's clients do,
// checking each cursor survives its text form.
func pages(t *testing.T, l *Log, ids []string, limit int) []Pointer {
	t.Helper()
	var all []Pointer
	var cur Cursor
	for range 100000 {
		ps, err := l.Timeline(ids, cur, limit)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ps...)
		if len(ps) < limit {
			return all
		}
		next, err := ParseCursor(ps[len(ps)-1].Cursor().String())
		if err != nil || next != ps[len(ps)-1].Cursor() {
			t.Fatalf("cursor %q parses to %v, %v", ps[len(ps)-1].Cursor(), next, err)
		}
		cur = next
	}
	t.Fatal("timeline never ends")
	return nil
}

func TestTimelineMergesIdentifiersNewestFirst(t *testing.T) {
	db, l := openTest(t, 4)
	defer db.Close()
	mustStart(t, l, func([]Entry) {})
	defer l.Close()
	ids := []string{"user_id:u", "user_id:u2", "anonymous_id:a", "anonymous_id:b", "user_id:none"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(3, 4))
	counts := []int{40, 1, 25, 7, 0}
	written := fill(t, l, ids, func(i int) int { return counts[i] }, func(i, j int) time.Time {
		// Few distinct times, so ties broken by seq are common.
		return base.Add(time.Duration(rng.IntN(20)) * time.Second)
	})
	// An identifier that is a prefix of another must not see its entries.
	fill(t, l, []string{"user_id:u2x"}, func(int) int { return 3 }, func(int, int) time.Time { return base.Add(time.Hour) })

	for _, limit := range []int{1, 2, 7, 50, 1000} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			got := pages(t, l, ids, limit)
			want := newestFirst(written, ids, Cursor{})
			if !slices.Equal(got, want) {
				t.Fatalf("got %d pointers, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
			}
		})
	}
	t.Run("from a cursor", func(t *testing.T) {
		all := newestFirst(written, ids, Cursor{})
		for _, i := range []int{0, 1, 30, len(all) - 2, len(all) - 1} {
			got, err := l.Timeline(ids, all[i].Cursor(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if want := all[i+1 : min(i+11, len(all))]; !slices.Equal(got, want) {
				t.Fatalf("after %d: got %v, want %v", i, got, want)
			}
		}
	})
	t.Run("no identifiers or no limit", func(t *testing.T) {
		for _, c := range []struct {
			ids   []string
			limit int
		}{{nil, 10}, {ids, 0}, {ids, -1}} {
			if got, err := l.Timeline(c.ids, Cursor{}, c.limit); err != nil || len(got) != 0 {
				t.Fatalf("Timeline(%v, limit %d) = %v, %v", c.ids, c.limit, got, err)
			}
		}
	})
}

func TestTimelineConsultsAtMostMaxIdentifiers(t *testing.T) {
	db, l := openTest(t, 2)
	defer db.Close()
	mustStart(t, l, func([]Entry) {})
	defer l.Close()
	ids := make([]string, MaxTimelineIdentifiers+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("anonymous_id:%05d", i)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// The identifier past the cap holds the newest event.
	written := fill(t, l, ids, func(int) int { return 1 }, func(i, _ int) time.Time { return base.Add(time.Duration(i) * time.Second) })
	got, err := l.Timeline(ids, Cursor{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := newestFirst(written, ids[:MaxTimelineIdentifiers], Cursor{})[:3]; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v (the newest of the first %d identifiers)", got, want, MaxTimelineIdentifiers)
	}
}

// Times the index cannot hold in order: before 1970, and past 2262 where
// UnixNano overflows. Ingest refuses them now, but logs written earlier may
// hold them, and the timeline must still page through to its end.
func TestTimelineCursorsAtTheEdgesOfTime(t *testing.T) {
	db, l := openTest(t, 1)
	defer db.Close()
	mustStart(t, l, func([]Entry) {})
	defer l.Close()
	id := "user_id:u"
	times := []time.Time{
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), // the last int64 nanosecond
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 0),
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	written := fill(t, l, []string{id}, func(int) int { return len(times) }, func(_, j int) time.Time { return times[j] })
	// A legacy entry whose time bits read as negative nanoseconds (the old
	// IndexKey wrote uint64(UnixNano()) of a pre-1970 time).
	legacyBits := uint64(math.MaxUint64 - 5)
	legacy := binary.BigEndian.AppendUint64(append([]byte("t/"+id), 0), legacyBits)
	legacy = binary.BigEndian.AppendUint64(legacy, 999)
	if err := db.Set(legacy, []byte{0, 0}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	written[id] = append(written[id], Pointer{Seq: 999, TsNanos: int64(legacyBits)})
	// Not an index entry: skipped.
	if err := db.Set(append([]byte("t/"+id+"\x00"), 0xff, 1), []byte{0, 0}, pebble.Sync); err != nil {
		t.Fatal(err)
	}

	got := pages(t, l, []string{id}, 1)
	if want := newestFirst(written, []string{id}, Cursor{}); !slices.Equal(got, want) {
		t.Fatalf("paging one at a time:\n got %v\nwant %v", got, want)
	}
	if len(got) != len(times)+1 {
		t.Fatalf("got %d entries, want %d", len(got), len(times)+1)
	}
}

func TestIndexKeyKeepsTimeOrder(t *testing.T) {
	tests := []struct {
		ts   time.Time
		want uint64
	}{
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.Unix(-1, 999999999), 0},
		{time.Unix(0, 0), 0},
		{time.Unix(0, 1), 1},
		{time.Unix(1764000000, 5), 1764000000_000000005},
		{time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), math.MaxInt64},
		{time.Date(2262, 4, 11, 23, 47, 16, 854775808, time.UTC), math.MaxInt64},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
	}
	var prev []byte
	for _, tt := range tests {
		k := IndexKey("user_id:u", tt.ts)
		if got := binary.BigEndian.Uint64(k[len(k)-8:]); got != tt.want {
			t.Errorf("IndexKey(%v) time bits = %d, want %d", tt.ts, got, tt.want)
		}
		if prev != nil && bytes.Compare(k, prev) < 0 {
			t.Errorf("IndexKey(%v) sorts before the key of an earlier time", tt.ts)
		}
		prev = k
	}
}

func TestParseCursor(t *testing.T) {
	tests := []struct {
		in   string
		want Cursor
		ok   bool
	}{
		{"", Cursor{}, true},
		{"5-3", Cursor{5, 3}, true},
		{"0-1", Cursor{0, 1}, true},
		{"18446744073709551615-18446744073709551615", Cursor{math.MaxUint64, math.MaxUint64}, true},
		{"18446744073709551616-1", Cursor{}, false},
		{"-5-3", Cursor{}, false},
		{"5-0", Cursor{}, false},
		{"5", Cursor{}, false},
		{"5-", Cursor{}, false},
		{"a-b", Cursor{}, false},
		{"5-3-1", Cursor{}, false},
		{" 5-3", Cursor{}, false},
	}
	for _, tt := range tests {
		got, err := ParseCursor(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseCursor(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParseCursor(%q) error %v is not ErrBadCursor", tt.in, err)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("ParseCursor(%q).String() = %q", tt.in, got.String())
		}
	}
}

// timelineLinear is Timeline as it was before the heap: one iterator per
// identifier, every one of them, and a linear scan for the newest head. Kept
// as the benchmark's baseline.
func timelineLinear(l *Log, identifiers []string, beforeTs int64, beforeSeq uint64, limit int) ([]Pointer, error) {
	type cursor struct {
		it     *pebble.Iterator
		prefix []byte
	}
	var curs []cursor
	defer func() {
		for _, c := range curs {
			c.it.Close()
		}
	}()
	for _, id := range identifiers {
		prefix := append(append([]byte("t/"), id...), 0)
		upper := append(append([]byte(nil), prefix[:len(prefix)-1]...), 1)
		it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
		if err != nil {
			return nil, err
		}
		curs = append(curs, cursor{it, prefix})
		if beforeSeq > 0 {
			k := binary.BigEndian.AppendUint64(append(append([]byte(nil), prefix...), 0, 0, 0, 0, 0, 0, 0, 0), 0)
			binary.BigEndian.PutUint64(k[len(prefix):], uint64(beforeTs))
			binary.BigEndian.PutUint64(k[len(prefix)+8:], beforeSeq)
			it.SeekLT(k)
		} else {
			it.Last()
		}
	}
	out := make([]Pointer, 0, limit)
	for len(out) < limit {
		best := -1
		var bestKey []byte
		for i, c := range curs {
			if !c.it.Valid() {
				continue
			}
			tail := c.it.Key()[len(c.prefix):]
			if best < 0 || bytes.Compare(tail, bestKey) > 0 {
				best, bestKey = i, tail
			}
		}
		if best < 0 {
			break
		}
		if len(bestKey) == 16 && len(curs[best].it.Value()) == 2 {
			out = append(out, Pointer{
				Partition: int(binary.BigEndian.Uint16(curs[best].it.Value())),
				TsNanos:   int64(binary.BigEndian.Uint64(bestKey[:8])),
				Seq:       binary.BigEndian.Uint64(bestKey[8:]),
			})
		}
		curs[best].it.Prev()
	}
	for _, c := range curs {
		if err := c.it.Error(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// BenchmarkTimeline reads the first page (50 events) of one profile's
// timeline with 1 to 10,000 identifiers (1,000 events for one identifier,
// else at least 5 per identifier), with the heap over one shared iterator
// ("heap", which consults at most MaxTimelineIdentifiers) and the former
// iterator per identifier ("linear"). At 1,000 both do the same work.
func BenchmarkTimeline(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		db, l := openTest(b, 8)
		mustStart(b, l, func([]Entry) {})
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("anonymous_id:%08x-1111-4a2b-9c3d-123456789abc", i)
		}
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		rng := rand.New(rand.NewPCG(5, 6))
		fill(b, l, ids, func(int) int { return max(5, 1000/n) }, func(int, int) time.Time {
			return base.Add(time.Duration(rng.IntN(1e6)) * time.Second)
		})
		if err := db.Flush(); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("ids=%d/heap", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ps, err := l.Timeline(ids, Cursor{}, 50); err != nil || len(ps) != 50 {
					b.Fatal(len(ps), err)
				}
			}
		})
		b.Run(fmt.Sprintf("ids=%d/linear", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ps, err := timelineLinear(l, ids, 0, 0, 50); err != nil || len(ps) != 50 {
					b.Fatal(len(ps), err)
				}
			}
		})
		l.Close()
		db.Close()
	}
}

// A read error in the middle of the merge must reach the caller, not end the
// timeline early as if the identifiers had no more events.
func TestTimelineReportsReadErrors(t *testing.T) {
	// Only the first read fails: later seeks succeed, and clear the
	// iterator's own record of the error.
	var failed atomic.Bool
	fail := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpFileReadAt && strings.HasSuffix(op.Path, ".sst") && failed.CompareAndSwap(false, true) {
			return errorfs.ErrInjected
		}
		return nil
	})}
	db, err := pebble.Open("db", &pebble.Options{FS: errorfs.Wrap(vfs.NewMem(), fail), Logger: storetest.Quiet{}, CacheSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := Open(db, Options{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	mustStart(t, l, func([]Entry) {})
	defer l.Close()
	ids := []string{"user_id:a", "user_id:b", "user_id:c"}
	fill(t, l, ids, func(int) int { return 3 }, func(i, j int) time.Time { return time.Unix(int64(100*i+j), 0) })
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Timeline(ids, Cursor{}, 100); err != nil || len(got) != 9 {
		t.Fatalf("before the fault: %d pointers, %v", len(got), err)
	}
	fail.On()
	defer fail.Off()
	if got, err := l.Timeline(ids, Cursor{}, 100); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("with failing reads: %d pointers, err %v; want the read error", len(got), err)
	}
}
