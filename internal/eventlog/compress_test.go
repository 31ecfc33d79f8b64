package eventlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/klauspost/compress/s2"

	"tailor/internal/store/storetest"
)

// message renders a Segment-like message: the same field names and shapes
// every time, ids, times and a few values different.
func message(r *rand.Rand, i int) []byte {
	pages := []string{"/c/sports/fitness/yoga-mats", "/products/pro-wallet-case-sku-09273", "/cart", "/"}
	p := pages[r.IntN(len(pages))]
	return fmt.Appendf(nil, `{"type":"page","messageId":"m-%d-%x","timestamp":"2026-11-%02dT13:%02d:58.377Z",`+
		`"anonymousId":"%08x-6a52-46fa-9c3d-%012x","context":{"ip":"192.0.2.%d","locale":"nl-NL",`+
		`"userAgent":"Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36",`+
		`"library":{"name":"analytics.js","version":"2.11.1"},"page":{"path":"%s","url":"https://example.com%s"}},`+
		`"properties":{"path":"%s","url":"https://example.com%s","title":"Shop"}}`,
		i, r.Uint32(), 1+r.IntN(28), r.IntN(60), r.Uint32(), r.Uint64()&0xffffffffffff, r.IntN(255), p, p, p, p)
}

func openCompressed(t testing.TB, db *pebble.DB, samples int) *Log {
	t.Helper()
	l, err := Open(db, Options{Partitions: 2, Compress: true, DictSamples: samples, DictReview: 200})
	if err != nil {
		t.Fatal(err)
	}
	mustStart(t, l, nil)
	return l
}

// sampledLog opens a compressing log that trains on its first n values and
// appends n messages (seeded) to it.
func sampledLog(t *testing.T, n int, seed uint64) (*pebble.DB, *Log, *rand.Rand, [][]byte, []uint64) {
	t.Helper()
	db, _ := openTest(t, 2)
	l := openCompressed(t, db, n)
	r := rand.New(rand.NewPCG(seed, seed+1))
	var values [][]byte
	for i := range n {
		values = append(values, message(r, i))
	}
	return db, l, r, values, appendValues(t, l, values)
}

// appendValues appends values, the i-th to partition i%2.
func appendValues(t testing.TB, l *Log, values [][]byte) []uint64 {
	t.Helper()
	recs := make([]Record, len(values))
	for i, v := range values {
		recs[i] = Record{Partition: i % 2, Value: v}
	}
	res, err := l.Append(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, len(res))
	for i, r := range res {
		seqs[i] = r.Seq
	}
	return seqs
}

func waitTrained(t testing.TB, l *Log) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); l.codec.active.Load() == nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no dictionary trained")
		}
	}
}

// TestCompressedValues: the log stores values as they are until it has
// collected its samples, then trains a dictionary and compresses; Get and
// ReplayAll give back every value as it was appended, across a reopen (with
// and without compression), and a reopened log keeps its dictionary.
func TestCompressedValues(t *testing.T) {
	db, l, r, values, seqs := sampledLog(t, 50, 1)
	defer db.Close()
	var parts []int
	for i := range values {
		parts = append(parts, i%2)
	}
	waitTrained(t, l)
	given0, stored0 := l.ValueBytes()
	if given0 != stored0 {
		t.Errorf("before the dictionary: %d bytes stored for %d given", stored0, given0)
	}
	var later [][]byte
	for i := 50; i < 550; i++ {
		later = append(later, message(r, i))
	}
	// Values a frame could be mistaken for, and ones too small to compress.
	later = append(later, []byte{frameMark}, []byte{frameMark, 1, 2, 3}, []byte("x"), []byte{}, bytes.Repeat([]byte("ab"), 5000))
	values = append(values, later...)
	seqs = append(seqs, appendValues(t, l, later)...)
	for i := range later {
		parts = append(parts, i%2)
	}
	given, stored := l.ValueBytes()
	given, stored = given-given0, stored-stored0
	if ratio := float64(stored) / float64(given); ratio > 0.5 {
		t.Errorf("with the dictionary: %d bytes stored for %d given (%.2f×), want at most 0.5×", stored, given, ratio)
	}

	check := func(name string, l *Log) {
		t.Helper()
		for i, seq := range seqs {
			got, err := l.Get(parts[i], seq)
			if err != nil {
				t.Fatalf("%s: Get %d: %v", name, seq, err)
			}
			if !bytes.Equal(got, values[i]) {
				t.Fatalf("%s: Get %d: got %.60q, want %.60q", name, seq, got, values[i])
			}
		}
		i := 0
		err := l.ReplayAll(context.Background(), 0, func(e Entry) error {
			if e.Seq != seqs[i] || !bytes.Equal(e.Value, values[i]) {
				return fmt.Errorf("entry %d: seq %d %.60q, want seq %d %.60q", i, e.Seq, e.Value, seqs[i], values[i])
			}
			i++
			return nil
		})
		if err != nil || i != len(values) {
			t.Fatalf("%s: replay: %v after %d of %d entries", name, err, i, len(values))
		}
	}
	check("live", l)
	l.Close()

	plain, err := Open(db, Options{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	mustStart(t, plain, nil)
	// Compression off: new values are stored as given, framed only when
	// they begin with the frame's mark; the compressed ones still read.
	seqs = append(seqs, appendValues(t, plain, values[540:555])...)
	values = append(values, values[540:555]...)
	parts = append(parts, parts[540:555]...)
	if g, s := plain.ValueBytes(); plain.Dictionary() != 0 || s != g+4 {
		t.Errorf("without compression: dictionary %d, %d bytes stored for %d given, want 4 more (two framed values)", plain.Dictionary(), s, g)
	}
	check("reopened without compression", plain)
	plain.Close()

	again := openCompressed(t, db, 50)
	defer again.Close()
	if a := again.codec.active.Load(); a == nil || a.id != 1 {
		t.Fatalf("reopened: active dictionary %v, want the stored one (1)", a)
	}
	seqs = append(seqs, appendValues(t, again, values[:60])...)
	values = append(values, values[:60]...)
	parts = append(parts, parts[:60]...)
	again.codec.wait()
	if n := len(*again.codec.dicts.Load()); n != 1 {
		t.Errorf("reopened: %d dictionaries, want 1 (no second training)", n)
	}
	check("reopened", again)
}

// identify renders a message of another shape than message's.
func identify(r *rand.Rand, i int) []byte {
	return fmt.Appendf(nil, `{"type":"identify","userId":"customer-%d","traits":{"email":"c%x@mail.example.org",`+
		`"first_name":"N%x","plan":"%s","created_at":"2025-%02d-01"},"_metadata":{"bundled":["Segment.io"]}}`,
		i, r.Uint32(), r.Uint32(), []string{"free", "pro", "team"}[r.IntN(3)], 1+r.IntN(12))
}

// TestDictionaryFollowsTraffic: the first dictionary is trained on one kind
// of message; when another kind follows, the review sees the ratio drift
// and a second dictionary is made; when the first kind comes back, the
// first dictionary is chosen again instead of a third. Every value reads
// back as appended.
func TestDictionaryFollowsTraffic(t *testing.T) {
	db, _ := openTest(t, 2)
	defer db.Close()
	l := openCompressed(t, db, 200)
	r := rand.New(rand.NewPCG(11, 12))
	var values [][]byte
	var seqs []uint64
	send := func(kind func(*rand.Rand, int) []byte, n int) {
		batch := make([][]byte, n)
		for i := range batch {
			batch[i] = kind(r, len(values)+i)
		}
		// Even lengths keep appendValues' partitions (i%2) those of the index.
		seqs = append(seqs, appendValues(t, l, batch)...)
		values = append(values, batch...)
	}
	until := func(what string, kind func(*rand.Rand, int) []byte, done func() bool) {
		t.Helper()
		for sent := 0; !done(); sent += 100 {
			if sent > 20_000 {
				t.Fatalf("%s: not after %d values", what, sent)
			}
			send(kind, 100)
			time.Sleep(time.Millisecond) // let a training finish
		}
	}
	send(identify, 200)
	waitTrained(t, l)
	until("a dictionary for the second kind", message, func() bool { return l.Dictionary() == 2 })
	g0, s0 := l.ValueBytes()
	send(message, 500)
	if g, s := l.ValueBytes(); float64(s-s0) > 0.5*float64(g-g0) {
		t.Errorf("second kind with its dictionary: %d bytes stored for %d", s-s0, g-g0)
	}
	until("back to the first dictionary", identify, func() bool { return l.Dictionary() == 1 })
	l.Close()
	if n := len(*l.codec.dicts.Load()); n != 2 {
		t.Errorf("%d dictionaries, want 2", n)
	}
	for i, seq := range seqs {
		got, err := l.Get(i%2, seq)
		if err != nil || !bytes.Equal(got, values[i]) {
			t.Fatalf("Get %d: %q, %v; want %q", seq, got, err, values[i])
		}
	}
}

// TestIncompressibleTrafficStaysRaw: values a dictionary cannot shrink
// enough do not get one (it would cost CPU for nothing): random bytes (the
// builder finds nothing to put in it) and random bytes behind a common
// prefix (it does, but saves too little). They are stored as they are.
func TestIncompressibleTrafficStaysRaw(t *testing.T) {
	for _, prefix := range []string{"", `{"type":"track","event":"x","properties":{"blob":"`} {
		t.Run(fmt.Sprintf("prefix %d bytes", len(prefix)), func(t *testing.T) {
			db, _ := openTest(t, 2)
			defer db.Close()
			l := openCompressed(t, db, 40)
			defer l.Close()
			r := rand.New(rand.NewPCG(3, 4))
			var values [][]byte
			for range 40 {
				v := []byte(prefix)
				for range 500 {
					v = append(v, byte(r.Uint32()))
				}
				values = append(values, v)
			}
			appendValues(t, l, values)
			l.codec.wait()
			if l.codec.active.Load() != nil {
				t.Fatal("a dictionary was made")
			}
			appendValues(t, l, values[:5])
			if g, s := l.ValueBytes(); g != s {
				t.Errorf("%d bytes stored for %d given", s, g)
			}
		})
	}
}

// TestCorruptValues: a stored value that cannot be decoded is an error
// naming the entry, never a panic or an allocation its length asks for.
func TestCorruptValues(t *testing.T) {
	db, l, r, _, _ := sampledLog(t, 20, 5)
	defer db.Close()
	waitTrained(t, l)
	good := appendValues(t, l, [][]byte{message(r, 99)})[0]
	l.Close()
	v, closer, err := db.Get(logKey(0, good))
	if err != nil {
		t.Fatal(err)
	}
	stored := append([]byte(nil), v...)
	closer.Close()
	if stored[0] != frameMark || stored[1] != 1 {
		t.Fatalf("not compressed with dictionary 1: % x", stored[:4])
	}
	huge := append([]byte{frameMark, 1}, binary.AppendUvarint(nil, 1<<40)...)
	cases := []struct {
		name  string
		value []byte
		want  string
	}{
		{"unknown dictionary", append([]byte{frameMark, 9}, stored[2:]...), "dictionary 9"},
		{"truncated id", []byte{frameMark, 0x80}, "corrupt"},
		{"truncated body", stored[:len(stored)/2], "corrupt"},
		{"huge length", append(huge, 0, 0), "corrupt"},
		{"garbage", append([]byte{frameMark, 1}, strings.Repeat("\xfe", 40)...), "corrupt"},
	}
	ro, err := Open(db, Options{Partitions: 2, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for i, c := range cases {
		seq := good + 1 + uint64(i)
		if err := db.Set(logKey(0, seq), c.value, pebble.Sync); err != nil {
			t.Fatal(err)
		}
		_, err := ro.Get(0, seq)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), fmt.Sprint(seq)) {
			t.Errorf("%s: Get: %v, want an error naming entry %d and %q", c.name, err, seq, c.want)
		}
		if err := db.Delete(logKey(0, seq), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecodeValue: any stored bytes decode or fail, without panicking, and
// whatever encode stores decodes to what was given.
func FuzzDecodeValue(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	var samples [][]byte
	for i := range 30 {
		samples = append(samples, message(r, i))
	}
	raw := mustDict(f, samples)
	c := &codec{}
	d := s2.NewDict(raw)
	c.dicts.Store(&map[uint64]*s2.Dict{1: d})
	c.active.Store(&activeDict{id: 1, d: d})
	f.Add(message(r, 100))
	f.Add([]byte{frameMark, 1, 5, 0, 0})
	f.Add([]byte{frameMark, frameRaw, 'x'})
	f.Fuzz(func(t *testing.T, v []byte) {
		c.decode(nil, v) // must not panic
		stored := c.encode(nil, v, c.active.Load())
		got, _, err := c.decode(nil, stored)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("round trip of %q: %q, %v", v, got, err)
		}
	})
}

func mustDict(tb testing.TB, samples [][]byte) []byte {
	tb.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: storetest.Quiet{}})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	c := &codec{db: db}
	c.dicts.Store(&map[uint64]*s2.Dict{})
	if err := c.train(samples); err != nil {
		tb.Fatal(err)
	}
	v, closer, err := db.Get(dictKey(1))
	if err != nil {
		tb.Fatal(err)
	}
	defer closer.Close()
	return append([]byte(nil), v...)
}

// BenchmarkValueCodec: what compressing and decompressing one Segment-like
// message costs, against copying it (what storing it as it is costs the
// caller), and the bytes it leaves to write.
//
//	go test -run '^$' -bench ValueCodec ./internal/eventlog/
func BenchmarkValueCodec(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	var samples [][]byte
	for i := range DefaultDictSamples {
		samples = append(samples, message(r, i))
	}
	c := &codec{}
	d := s2.NewDict(mustDict(b, samples))
	c.dicts.Store(&map[uint64]*s2.Dict{1: d})
	msgs := make([][]byte, 1024)
	raw := 0
	for i := range msgs {
		msgs[i] = message(r, DefaultDictSamples+i)
		raw += len(msgs[i])
	}
	b.Run("copy", func(b *testing.B) {
		var dst []byte
		for i := 0; b.Loop(); i++ {
			dst = append(dst[:0], msgs[i%len(msgs)]...)
		}
	})
	b.Run("encode", func(b *testing.B) {
		c.active.Store(&activeDict{id: 1, d: d})
		var dst []byte
		stored := 0
		for i := 0; b.Loop(); i++ {
			dst = c.encode(dst[:0], msgs[i%len(msgs)], c.active.Load())
			stored += len(dst)
		}
		b.ReportMetric(float64(stored)/float64(b.N), "B/value")
		b.ReportMetric(float64(raw)/float64(len(msgs)), "rawB/value")
	})
	b.Run("decode", func(b *testing.B) {
		c.active.Store(&activeDict{id: 1, d: d})
		stored := make([][]byte, len(msgs))
		for i, m := range msgs {
			stored[i] = c.encode(nil, m, c.active.Load())
		}
		var buf []byte
		for i := 0; b.Loop(); i++ {
			out, _, err := c.decode(buf, stored[i%len(stored)])
			if err != nil {
				b.Fatal(err)
			}
			buf = out
		}
	})
}

// TestCompressionUnderConcurrentAppends: eight writers append while the log
// trains, reviews and switches dictionaries (two kinds of messages, the
// mix changing); every acknowledged value reads back as it was appended.
func TestCompressionUnderConcurrentAppends(t *testing.T) {
	db, _ := openTest(t, 2)
	defer db.Close()
	l, err := Open(db, Options{Partitions: 2, Compress: true, DictSamples: 100, DictReview: 300})
	if err != nil {
		t.Fatal(err)
	}
	mustStart(t, l, nil)
	type rec struct {
		part  int
		value []byte
	}
	var mu sync.Mutex
	want := map[uint64]rec{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 13))
			for round := range 40 {
				recs := make([]Record, 1+r.IntN(30))
				for i := range recs {
					kind := message
					if (round/10)%2 == 0 {
						kind = identify
					}
					recs[i] = Record{Partition: r.IntN(2), Value: kind(r, w*100_000+round*100+i)}
				}
				res, err := l.Append(context.Background(), recs)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for i, x := range res {
					want[x.Seq] = rec{recs[i].Partition, recs[i].Value}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	l.Close()
	if l.codec.dicts.Load() == nil || len(*l.codec.dicts.Load()) == 0 {
		t.Fatal("no dictionary was trained")
	}
	seen := 0
	err = l.ReplayAll(context.Background(), 0, func(e Entry) error {
		w, ok := want[e.Seq]
		if !ok || w.part != e.Partition || !bytes.Equal(w.value, e.Value) {
			return fmt.Errorf("entry %d (partition %d): %.80q, want %.80q in partition %d", e.Seq, e.Partition, e.Value, w.value, w.part)
		}
		seen++
		return nil
	})
	if err != nil || seen != len(want) {
		t.Fatalf("replay: %v after %d of %d entries", err, seen, len(want))
	}
	given, stored := l.ValueBytes()
	t.Logf("%d values, %d dictionaries, %d bytes stored for %d", seen, len(*l.codec.dicts.Load()), stored, given)
}
