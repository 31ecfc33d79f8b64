package eventlog

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"tailor/internal/store"
	"tailor/internal/store/storetest"
)

func openTest(t testing.TB, parts int) (*pebble.DB, *Log) {
	t.Helper()
	o := &pebble.Options{Logger: storetest.Quiet{}, MemTableSize: 64 << 20}
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(db, Options{Partitions: parts})
	if err != nil {
		t.Fatal(err)
	}
	<-l.loaded // tests that write d/ keys themselves must not race the load
	return db, l
}

func mustStart(t testing.TB, l *Log, sink Sink) {
	t.Helper()
	if err := l.Start(sink); err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlyLogDoesNotStart: a log opened for reading loads no filters,
// and refuses to start instead of appending without de-duplication.
func TestReadOnlyLogDoesNotStart(t *testing.T) {
	db, l := openTest(t, 1)
	defer db.Close()
	mustStart(t, l, nil)
	if _, err := l.Append(context.Background(), []Record{{Value: []byte("v"), DedupeKey: []byte("s\x00m")}}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	ro, err := Open(db, Options{Partitions: 1, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Start(nil); err == nil {
		t.Fatal("a read-only log started")
	}
	if ro.dedupe.mayContain([]byte("s\x00m")) {
		t.Error("a read-only log loaded the de-duplication filters")
	}
	if ro.LastSeq() != 1 {
		t.Errorf("read-only log: last seq %d, want 1", ro.LastSeq())
	}
}

func TestAppendReplayDedupe(t *testing.T) {
	db, l := openTest(t, 4)
	var mu sync.Mutex
	var sunk []Entry
	mustStart(t, l, func(es []Entry) {
		mu.Lock()
		sunk = append(sunk, es...)
		mu.Unlock()
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				recs := []Record{
					{Partition: (w + i) % 4, Value: []byte(fmt.Sprintf("v%d-%d", w, i)), DedupeKey: []byte(fmt.Sprintf("s\x00m%d-%d", w, i)),
						Index: [][]byte{IndexKey(fmt.Sprintf("user_id:u%d", w), time.Unix(int64(i), 0))}},
					// The same message twice in one request: only the first is written.
					{Partition: 0, Value: []byte("dup"), DedupeKey: []byte(fmt.Sprintf("s\x00m%d-%d", w, i))},
				}
				res, err := l.Append(ctx, recs)
				if err != nil {
					t.Error(err)
					return
				}
				if res[0].Duplicate || !res[1].Duplicate {
					t.Errorf("results %+v", res)
				}
			}
		}()
	}
	wg.Wait()
	l.Close()
	if len(sunk) != 400 {
		t.Fatalf("sink got %d entries, want 400", len(sunk))
	}
	for i := 1; i < len(sunk); i++ {
		if sunk[i].Seq != sunk[i-1].Seq+1 {
			t.Fatalf("sink order: seq %d after %d", sunk[i].Seq, sunk[i-1].Seq)
		}
	}
	// Reopen: seq continues, dedupe remembered, replay is in seq order.
	l2, err := Open(db, Options{Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	if l2.LastSeq() != 400 {
		t.Fatalf("LastSeq = %d", l2.LastSeq())
	}
	var last uint64
	n := 0
	if err := l2.ReplayAll(ctx, 100, func(e Entry) error {
		if e.Seq <= last || e.Seq <= 100 {
			t.Fatalf("replay order: %d after %d", e.Seq, last)
		}
		last = e.Seq
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 300 {
		t.Fatalf("replayed %d, want 300", n)
	}
	mustStart(t, l2, nil)
	res, err := l2.Append(ctx, []Record{{Partition: 1, Value: []byte("again"), DedupeKey: []byte("s\x00m3-7")}})
	if err != nil || !res[0].Duplicate {
		t.Fatalf("dedupe after reopen: %+v %v", res, err)
	}
	ptrs, err := l2.Timeline([]string{"user_id:u3"}, Cursor{}, 10)
	if err != nil || len(ptrs) != 10 || ptrs[0].TsNanos != int64(49*time.Second) {
		t.Fatalf("timeline: %+v %v", ptrs, err)
	}
	more, _ := l2.Timeline([]string{"user_id:u3"}, ptrs[9].Cursor(), 100)
	if len(more) != 40 {
		t.Fatalf("timeline page 2: %d entries", len(more))
	}
	l2.Close()
	// The window expires old keys.
	if n, err := l2.ExpireDedupe(ctx, time.Now().Add(8*24*time.Hour)); err != nil || n != 400 {
		t.Fatalf("expired %d, %v", n, err)
	}
	db.Close()
}

// BenchmarkAppend measures durable group commit: concurrent requests of 100
// records (as /v1/batch does), one sync per group.
func BenchmarkAppend(b *testing.B) {
	db, l := openTest(b, 8)
	mustStart(b, l, func([]Entry) {})
	defer db.Close()
	defer l.Close()
	val := make([]byte, 600)
	var ctr atomicCounter
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		recs := make([]Record, 100)
		for pb.Next() {
			for i := range recs {
				n := ctr.next()
				recs[i] = Record{Partition: int(n % 8), Value: val, DedupeKey: fmt.Appendf(nil, "s\x00%d", n),
					Index: [][]byte{IndexKey(fmt.Sprintf("user_id:%d", n%1000), time.Unix(int64(n), 0))}}
			}
			if _, err := l.Append(context.Background(), recs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}

type atomicCounter struct {
	mu sync.Mutex
	n  uint64
}

func (c *atomicCounter) next() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

// TestDedupeFalsePositives fills a day's filter chain past three filters and
// checks that new keys rarely need a confirming read: each read sits in the
// log writer, which every acknowledgement waits for.
func TestDedupeFalsePositives(t *testing.T) {
	d := &dedupe{}
	const n = 1 << 20 // filters of 256k, 512k and 1M keys
	for i := range n {
		d.add(20000, fmt.Appendf(nil, "src\x00msg-%d", i))
	}
	if len(d.days) != 1 || len(d.days[0].filters) != 3 {
		t.Fatalf("%d days, %d filters; want 1 day of 3 filters", len(d.days), len(d.days[0].filters))
	}
	for i := 0; i < n; i += n / 100 {
		if !d.mayContain(fmt.Appendf(nil, "src\x00msg-%d", i)) {
			t.Fatalf("key %d was added but the filters miss it", i)
		}
	}
	const probes = 200000
	fp := 0
	for i := range probes {
		if d.mayContain(fmt.Appendf(nil, "src\x00new-%d", i)) {
			fp++
		}
	}
	// Expected about 3 × 0.01 % = 60; at the old 1 % per filter it was ~6,000.
	if rate := float64(fp) / probes; rate > 0.001 {
		t.Fatalf("false positive rate %.4f over a chain of 3 filters, want under 0.001", rate)
	}
}

// dayKey is the i-th test messageId stored on day.
func dayKey(day uint64, i int) []byte { return fmt.Appendf(nil, "src\x00%d-%d", day, i) }

// writeDays stores sizes[day] d/ keys (dayKey) for each day, handing each
// to add when not nil, as the log writer feeds its filters.
func writeDays(t *testing.T, db *pebble.DB, sizes map[uint64]int, add func(day uint64, key []byte)) {
	t.Helper()
	b := db.NewBatch()
	for day, n := range sizes {
		v := binary.AppendUvarint(nil, day)
		for i := range n {
			k := dayKey(day, i)
			if err := b.Set(dedupeKey(k), v, nil); err != nil {
				t.Fatal(err)
			}
			if add != nil {
				add(day, k)
			}
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// TestDedupeFold: the expiry scan folds the chains of ended days into one
// filter that still holds every key of them; today's chain stays; a key
// counted but not yet in the store keeps its day's chain; an expired day
// leaves the folded filter at the next fold.
func TestDedupeFold(t *testing.T) {
	db, l := openTest(t, 1)
	defer db.Close()
	defer l.Close()
	ctx := context.Background()
	now := time.Now()
	today := dayOf(now)
	key := dayKey
	// Two ended days, the first a chain of two filters, and today.
	sizes := map[uint64]int{today - 2: 300_000, today - 1: 100_000, today: 1_000}
	writeDays(t, db, sizes, l.dedupe.add)
	if got := len(l.dedupe.days); got != 3 {
		t.Fatalf("%d chains before the fold, want 3", got)
	}
	if got := len(l.dedupe.days[0].filters); got != 2 {
		t.Fatalf("the first day's chain has %d filters, want 2", got)
	}
	if _, err := l.ExpireDedupe(ctx, now); err != nil {
		t.Fatal(err)
	}
	if len(l.dedupe.days) != 1 || l.dedupe.days[0].day != today || l.dedupe.past == nil {
		t.Fatalf("after the fold: %d chains (first day %d), past filter %v; want only today's chain (%d) and a past filter",
			len(l.dedupe.days), l.dedupe.days[0].day, l.dedupe.past != nil, today)
	}
	for day, n := range sizes {
		for i := 0; i < n; i += 97 {
			if !l.dedupe.mayContain(key(day, i)) {
				t.Fatalf("day %d key %d was written but the filters miss it after the fold", day, i)
			}
		}
	}
	falsePositives := func(prefix string) float64 {
		fp := 0
		const probes = 200_000
		for i := range probes {
			if l.dedupe.mayContain(fmt.Appendf(nil, "src\x00%s-%d", prefix, i)) {
				fp++
			}
		}
		return float64(fp) / probes
	}
	if rate := falsePositives("new"); rate > 0.0005 {
		t.Fatalf("false positive rate %.5f after the fold, want under 0.0005", rate)
	}
	// Nothing changed: the next scan does not fold again.
	past := l.dedupe.past
	if _, err := l.ExpireDedupe(ctx, now); err != nil {
		t.Fatal(err)
	}
	if l.dedupe.past != past {
		t.Fatal("a scan with nothing new to fold built the past filter again")
	}

	// A key of an ended day that the writer has counted but not committed
	// (a fold at midnight): its chain must survive the fold.
	late := key(today-1, -1)
	l.dedupe.add(today-1, late)
	if _, err := l.ExpireDedupe(ctx, now); err != nil {
		t.Fatal(err)
	}
	if !l.dedupe.mayContain(late) {
		t.Fatal("a counted key the scan could not see was dropped from the filters")
	}

	// Six days later the oldest day has expired: its keys are deleted and
	// leave the folded filter.
	n, err := l.ExpireDedupe(ctx, now.Add(6*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != sizes[today-2] {
		t.Fatalf("expired %d keys, want the oldest day's %d", n, sizes[today-2])
	}
	if rate := falsePositives(fmt.Sprint(today - 2)); rate > 0.0005 {
		t.Fatalf("%.5f of the expired day's keys still pass the filters, want under 0.0005", rate)
	}
	for _, day := range []uint64{today - 1, today} {
		for i := 0; i < sizes[day]; i += 97 {
			if !l.dedupe.mayContain(key(day, i)) {
				t.Fatalf("day %d key %d lost at the second fold", day, i)
			}
		}
	}
}

// TestExpireDedupeScansOnlyWhenDue: the expiry scan reads every key of the
// window, so it runs only when a day has left the window or ended since the
// last fold, and the start's load tells it about expired keys still stored.
func TestExpireDedupeScansOnlyWhenDue(t *testing.T) {
	dir := t.TempDir()
	o := &pebble.Options{Logger: storetest.Quiet{}}
	db, err := pebble.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(db, Options{Partitions: 1, DedupeWindow: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	<-l.loaded
	ctx := context.Background()
	// Noon of today (UTC), not the wall clock: run in the last hour of a
	// day, "an hour later" was the next day and the step failed.
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	today := dayOf(now)
	write := func(day uint64, n int) {
		t.Helper()
		b := db.NewBatch()
		for i := range n {
			k := fmt.Appendf(nil, "src\x00%d-%d", day, i)
			if err := b.Set(dedupeKey(k), binary.AppendUvarint(nil, day), nil); err != nil {
				t.Fatal(err)
			}
			l.dedupe.add(day, k)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	write(today, 50)
	steps := []struct {
		name      string
		at        time.Time
		expired   int
		scansLeft uint64 // total scans after the step
	}{
		{"today's keys only: nothing to expire or fold", now, 0, 0},
		{"an hour later: still nothing", now.Add(time.Hour), 0, 0},
		{"the next day: today has ended, fold it", now.Add(24 * time.Hour), 0, 1},
		{"later that day: the fold is current", now.Add(25 * time.Hour), 0, 1},
		{"a week later: the day has left the window", now.Add(8 * 24 * time.Hour), 50, 2},
		{"then: no keys left, the fold is current", now.Add(8*24*time.Hour + time.Hour), 0, 2},
	}
	for _, s := range steps {
		n, err := l.ExpireDedupe(ctx, s.at)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if n != s.expired || l.dedupe.scans.Load() != s.scansLeft {
			t.Fatalf("%s: expired %d keys in %d scans so far, want %d in %d", s.name, n, l.dedupe.scans.Load(), s.expired, s.scansLeft)
		}
	}
	// Keys of a day already out of the window when the log opens: the load
	// skips them, but the first expiry scan must still delete them.
	write(today-30, 20)
	l.Close()
	l, err = Open(db, Options{Partitions: 1, DedupeWindow: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	<-l.loaded
	if n, err := l.ExpireDedupe(ctx, now); err != nil || n != 20 || l.dedupe.scans.Load() != 1 {
		t.Fatalf("after reopening: expired %d keys in %d scans (%v), want 20 in 1", n, l.dedupe.scans.Load(), err)
	}
	if n, err := l.ExpireDedupe(ctx, now); err != nil || n != 0 || l.dedupe.scans.Load() != 1 {
		t.Fatalf("again: expired %d keys in %d scans (%v), want 0 in 1", n, l.dedupe.scans.Load(), err)
	}
	db.Close()
}

// BenchmarkDedupeMayContain measures the filter test every new messageId
// gets inside the log writer, with a day of 2 M keys (four filters).
//
//	go test -run '^$' -bench DedupeMayContain ./internal/eventlog/
func BenchmarkDedupeMayContain(b *testing.B) {
	d := &dedupe{}
	for i := range 2 << 20 {
		d.add(20000, fmt.Appendf(nil, "src\x00msg-%d", i))
	}
	keys := make([][]byte, 4096)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "src\x00new-%d", i)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d.mayContain(keys[i%len(keys)])
	}
}

// BenchmarkDedupeMayContainBigDay is the same test with a day of 21 M keys
// (the 1 M demo store's import: eight filters, tens of MB, far more than
// the CPU caches) and a million distinct new keys, as live traffic sends.
//
//	go test -run '^$' -bench DedupeMayContainBigDay -benchtime 2000000x ./internal/eventlog/
func BenchmarkDedupeMayContainBigDay(b *testing.B) { benchBigDay(b, false) }

// BenchmarkDedupeMayContainFolded is BenchmarkDedupeMayContainBigDay after
// the day has ended and the expiry scan has folded its eight filters into
// one.
//
//	go test -run '^$' -bench 'DedupeMayContain(BigDay|Folded)' -benchtime 2000000x ./internal/eventlog/
func BenchmarkDedupeMayContainFolded(b *testing.B) { benchBigDay(b, true) }

func benchBigDay(b *testing.B, folded bool) {
	const n = 21_000_000
	d := &dedupe{}
	key := make([]byte, 0, 64)
	for i := range n {
		key = fmt.Appendf(key[:0], "src\x00msg-%d", i)
		d.add(20000, key)
	}
	if folded {
		f := d.beginFold(20000, 20001)
		for i := range n {
			key = fmt.Appendf(key[:0], "src\x00msg-%d", i)
			f.add(20000, key)
		}
		d.finishFold(f)
		if len(d.days) != 0 || d.past == nil {
			b.Fatalf("%d chains left after the fold", len(d.days))
		}
	}
	keys := make([][]byte, 1<<20)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "src\x00new-%d", i)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d.mayContain(keys[i%len(keys)])
	}
}

// TestLoadFolds: a start's load puts the ended days' keys into one filter
// when the last full scan's dn/ record bounds them, so the expiry scan a
// minute after the start has nothing to fold; without a record (a store
// from before it) or with one that bounds too few keys, the keys it cannot
// hold go into chains and the expiry scan folds them as before. Every key
// is found whichever way it was loaded.
func TestLoadFolds(t *testing.T) {
	dir := t.TempDir()
	o := &pebble.Options{Logger: storetest.Quiet{}}
	db, err := pebble.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	today := dayOf(now)
	key := dayKey
	sizes := map[uint64]int{today - 2: 300_000, today - 1: 100_000, today: 1_000}
	writeDays(t, db, sizes, nil)
	ctx := context.Background()
	open := func() *Log {
		t.Helper()
		l, err := Open(db, Options{Partitions: 1})
		if err != nil {
			t.Fatal(err)
		}
		<-l.loaded
		if l.loadErr != nil {
			t.Fatal(l.loadErr)
		}
		return l
	}
	check := func(step string, l *Log) {
		t.Helper()
		for day, n := range sizes {
			for i := 0; i < n; i += 97 {
				if !l.dedupe.mayContain(key(day, i)) {
					t.Fatalf("%s: day %d key %d was written but the filters miss it", step, day, i)
				}
			}
		}
		fp := 0
		const probes = 100_000
		for i := range probes {
			if l.dedupe.mayContain(fmt.Appendf(nil, "src\x00new-%d", i)) {
				fp++
			}
		}
		if rate := float64(fp) / probes; rate > 0.0005 {
			t.Fatalf("%s: false positive rate %.5f, want under 0.0005", step, rate)
		}
	}
	chains := func(l *Log) int { l.dedupe.mu.Lock(); defer l.dedupe.mu.Unlock(); return len(l.dedupe.days) }
	total := uint64(0)
	for _, n := range sizes {
		total += uint64(n)
	}

	// No record: chains for all three days; the expiry scan folds.
	l := open()
	if got := chains(l); got != 3 {
		t.Fatalf("without a record: %d chains after the load, want 3", got)
	}
	check("without a record", l)
	if _, err := l.ExpireDedupe(ctx, now); err != nil || l.dedupe.scans.Load() != 1 {
		t.Fatalf("without a record: %d expiry scans (%v), want 1 (the fold)", l.dedupe.scans.Load(), err)
	}
	l.Close()
	if got, err := keysBound(db, 0); err != nil || got != total {
		t.Fatalf("the load and the scan recorded a bound of %d keys (%v), want the %d stored", got, err, total)
	}

	// With the record the load folds the ended days itself.
	l = open()
	if got := chains(l); got != 1 || l.dedupe.past == nil || l.dedupe.days[0].day != today {
		t.Fatalf("with a record: %d chains, past filter %v; want today's chain only and a past filter", got, l.dedupe.past != nil)
	}
	check("folded by the load", l)
	if _, err := l.ExpireDedupe(ctx, now); err != nil || l.dedupe.scans.Load() != 0 {
		t.Fatalf("after a folding load: %d expiry scans (%v), want none", l.dedupe.scans.Load(), err)
	}
	l.Close()

	// A record that bounds too few keys: the rest go into chains, and
	// the expiry scan folds them.
	if err := db.Set([]byte(store.PrefixDedupeSize), binary.AppendUvarint(binary.AppendUvarint(nil, 1000), 0), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	l = open()
	if got := chains(l); got != 3 {
		t.Fatalf("with too small a bound: %d chains after the load, want 3", got)
	}
	check("past a too small bound", l)
	if _, err := l.ExpireDedupe(ctx, now); err != nil || l.dedupe.scans.Load() != 1 {
		t.Fatalf("with too small a bound: %d expiry scans (%v), want 1 (the fold)", l.dedupe.scans.Load(), err)
	}
	check("after the fold", l)
	l.Close()
}

// TestKeysBoundCoversAppends: every d/ key the writer adds after the last
// full scan comes with a new seq, so the bound holds every key the next
// load finds, also after a crash that lost no acknowledged append.
func TestKeysBoundCoversAppends(t *testing.T) {
	db, l := openTest(t, 2)
	defer db.Close()
	mustStart(t, l, nil)
	ctx := context.Background()
	for i := range 30 {
		recs := []Record{
			{Partition: i % 2, Value: []byte("v"), DedupeKey: fmt.Appendf(nil, "s\x00a%d", i)},
			{Partition: 0, Value: []byte("no dedupe key")},
			{Partition: 1, Value: []byte("dup"), DedupeKey: fmt.Appendf(nil, "s\x00a%d", i)},
		}
		if _, err := l.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	// A scan records what it kept and where the log was; appends follow.
	if _, err := l.ExpireDedupe(ctx, time.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := l.Append(ctx, []Record{{Partition: 0, Value: []byte("v"), DedupeKey: fmt.Appendf(nil, "s\x00b%d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	last := l.committed.Load()
	l.Close()
	stored := 0
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixDedupe), UpperBound: store.UpperBound(store.PrefixDedupe)})
	if err != nil {
		t.Fatal(err)
	}
	for it.First(); it.Valid(); it.Next() {
		stored++
	}
	it.Close()
	bound, err := keysBound(db, last)
	if err != nil {
		t.Fatal(err)
	}
	if stored != 50 || bound < uint64(stored) || bound > 80 {
		t.Fatalf("%d d/ keys stored, bound %d; want 50 keys and a bound of at least them, at most the 80 entries' worth", stored, bound)
	}
}

// BenchmarkGroupCommitIntoBigMemtable appends as ingest does (8 clients,
// requests of 100 records: a de-duplication key, a log entry in one of 8
// partitions and a timeline key of one of a million users each) into a
// memtable that already holds 150,000 events, and reports the process's CPU
// an event (cpu-ns/event: the wall time is mostly the disk's syncs). Much of
// it is the writer inserting each group into Pebble's skiplist, where the
// order of a batch's keys decides how much of each search the previous
// insert saves.
//
//	go test -run '^$' -bench GroupCommitIntoBigMemtable -benchtime 1000x ./internal/eventlog/
func BenchmarkGroupCommitIntoBigMemtable(b *testing.B) {
	db, err := store.Open(b.TempDir(), 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l, err := Open(db, Options{Partitions: 8})
	if err != nil {
		b.Fatal(err)
	}
	mustStart(b, l, func([]Entry) {})
	defer l.Close()
	val := make([]byte, 250)
	r := rand.New(rand.NewPCG(1, 2))
	n := 0
	// Rendered before the clock starts: the clients only append.
	requests := func(count int) [][]Record {
		out := make([][]Record, count)
		for j := range out {
			recs := make([]Record, 100)
			for i := range recs {
				n++
				recs[i] = Record{Partition: r.IntN(8), Value: val, DedupeKey: fmt.Appendf(nil, "src\x00%016x", r.Uint64()),
					Index: [][]byte{IndexKey(fmt.Sprintf("user_id:user-%07d", r.IntN(1_000_000)), time.Unix(int64(n), 0))}}
			}
			out[j] = recs
		}
		return out
	}
	appendAll := func(reqs [][]Record) {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 8 {
			wg.Go(func() {
				for k := next.Add(1) - 1; k < int64(len(reqs)); k = next.Add(1) - 1 {
					if _, err := l.Append(context.Background(), reqs[k]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	appendAll(requests(1500))
	reqs := requests(b.N)
	cpu0 := processCPU()
	b.ResetTimer()
	appendAll(reqs)
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*100), "cpu-ns/event")
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

func TestSortByPartition(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []int // each record's partition, in sequence order
	}{
		{"empty", nil},
		{"one partition", []int{2, 2, 2}},
		{"interleaved", []int{3, 0, 3, 1, 0, 3, 1}},
		{"descending", []int{3, 2, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := make([]keptRec, len(tc.parts))
			for i, p := range tc.parts {
				recs[i] = keptRec{i: i, part: p}
			}
			got := sortByPartition(make([]keptRec, 1), recs, make([]int, 5))
			if len(got) != len(recs) {
				t.Fatalf("%d records out of %d", len(got), len(recs))
			}
			for j := 1; j < len(got); j++ {
				a, b := got[j-1], got[j]
				if a.part > b.part || a.part == b.part && a.i > b.i {
					t.Fatalf("record %d (partition %d) before record %d (partition %d): %+v", a.i, a.part, b.i, b.part, got)
				}
			}
			seen := map[int]bool{}
			for _, k := range got {
				seen[k.i] = true
			}
			if len(seen) != len(recs) {
				t.Fatalf("records lost or repeated: %+v", got)
			}
		})
	}
}
