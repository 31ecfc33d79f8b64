package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/s2"

	"tailor/internal/store"
)

// The log's values are most of what the store writes (81 % of the WAL under
// ingest into the 1 M-customer store), and every byte of them is written
// again by the memtable's flush and by each compaction that moves it. A
// message is small (~700 bytes) and alike its neighbours in everything but
// its ids, times and a few property values, which per-message compression
// without a dictionary cannot exploit (S2 alone: 0.82× the bytes) and a
// dictionary of the store's own messages can (0.29×, at ~1.6 µs an event to
// compress and ~0.5 µs to decompress, measured on the demo store's log).
//
// So the log trains an S2 dictionary from the first messages it is given
// (dictionaries from a store's own traffic beat any built-in one, and the
// traffic is whatever the customer's SDKs send), persists it under ld/<id>
// with a sync before any value uses it, and from then on stores each value
// framed and compressed with it. Traffic changes (the first messages of a
// store may be an import, or the server's own events), so the log reviews
// the ratio it gets every DictReview values and trains again when it has
// drifted from the one of the dictionary's first review; a new dictionary
// is kept only if it beats every one the store has by 10 % on the same
// samples (otherwise the best of those is used), and a futile attempt
// doubles the interval to the next review. Values written before any (and
// by older binaries) are read as they are: the frame is recognised by its
// first byte, which event.AppendStored never writes.
//
// A JetStream-backed log would use the stream's own S2 compression instead;
// the frame is this implementation's business and never leaves the package.
const (
	frameMark = 0xff
	// frameRaw, as a frame's dictionary id, stores a value as it is: only
	// for values that themselves begin with frameMark.
	frameRaw = 0
	// DefaultDictSamples is how many values the log collects to train its
	// dictionary: ~230 ms of one core to build, and more samples gained
	// little (0.286× the bytes with 2,000 against 0.282× with 5,000).
	DefaultDictSamples = 2000
	// sampleBytes bounds one sample: a dictionary is built from what
	// messages begin with, and a client's huge message must not make the
	// training costly.
	sampleBytes = 4 << 10
	// maxDecoded bounds what decompressing one stored value may allocate,
	// so that a corrupt length cannot ask for gigabytes; a stored message is
	// at most 32 KB (event.MaxMessageBytes) plus its metadata.
	maxDecoded = 1 << 20
	// worthIt is the largest compressed/raw ratio, over the training
	// samples, at which a dictionary is used: past it the traffic is not
	// compressible enough to pay for the CPU.
	worthIt = 0.8
	// DefaultDictReview is how many values pass between reviews of the
	// ratio: a few seconds of heavy traffic, so that a review's atomics and
	// a retraining (~0.2 s of a core) are rare.
	DefaultDictReview = 100_000
	// poorRatio is the ratio past which a dictionary is retrained at its
	// first review (after training, or loaded at start).
	poorRatio = 0.5
	// maxDicts bounds the dictionaries a store makes (each up to 64 KB,
	// and its encoder's table 32 KB, in memory): past it, retraining only
	// chooses among them, so that traffic that keeps changing cannot grow
	// them without bound.
	maxDicts = 64
)

// errCorruptValue is returned for a stored value whose frame cannot be read.
// The log's readers wrap it with the entry's seq.
var errCorruptValue = errors.New("corrupt stored value")

// codec frames and compresses the log's values. encode and decode are safe
// for concurrent use; the dictionaries are immutable once published.
type codec struct {
	db      *pebble.DB
	samples int // values to collect before training; 0: no compression
	review  uint64

	dicts  atomic.Pointer[map[uint64]*s2.Dict] // every dictionary of the store, by id
	active atomic.Pointer[activeDict]          // the one new values use; nil before training

	mu         sync.Mutex
	sample     [][]byte
	collecting atomic.Bool // samples are wanted
	training   atomic.Bool // a training goroutine runs: one at a time, so ids are unique
	wg         sync.WaitGroup

	// The review: values and their bytes since the last one, and how many
	// values to the next (doubled by each retraining that found nothing better).
	winN, winIn, winOut atomic.Uint64
	next                atomic.Uint64

	// received and stored count the bytes of values before and after
	// encoding, for the compression ratio.
	received, stored atomic.Uint64
}

type activeDict struct {
	id uint64
	d  *s2.Dict
	// ratio is what the dictionary made of the values of its first review,
	// or of the samples of a retraining that kept it (0: not reviewed yet).
	ratio float64
}

// openCodec loads the store's dictionaries. samples is how many values to
// collect to train one when the store has none; 0 turns compression off
// (values are stored as they are; reads still decode the compressed ones).
func openCodec(db *pebble.DB, samples, review int) (*codec, error) {
	c := &codec{db: db, samples: samples, review: uint64(max(review, 1))}
	c.next.Store(c.review)
	dicts := map[uint64]*s2.Dict{}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixLogDict), UpperBound: store.UpperBound(store.PrefixLogDict)})
	if err != nil {
		return nil, err
	}
	var last uint64
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(store.PrefixLogDict):]
		if len(k) != 8 {
			continue
		}
		id := binary.BigEndian.Uint64(k)
		d := s2.NewDict(append([]byte(nil), it.Value()...))
		if d == nil {
			it.Close()
			return nil, fmt.Errorf("eventlog: compression dictionary %d is corrupt", id)
		}
		dicts[id], last = d, id
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	c.dicts.Store(&dicts)
	if last > 0 && samples > 0 {
		c.active.Store(&activeDict{id: last, d: dicts[last]})
	}
	c.collecting.Store(samples > 0 && c.active.Load() == nil)
	return c, nil
}

func dictKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(store.PrefixLogDict), id)
}

// encodedLen bounds the length of encode's output for a value of n bytes.
func encodedLen(n int) int { return 2 + binary.MaxVarintLen64 + s2.MaxEncodedLen(n) }

// encode appends v's stored form to dst: compressed with a (nil: none)
// when that makes it smaller.
func (c *codec) encode(dst, v []byte, a *activeDict) []byte {
	if c.collecting.Load() {
		c.offer(v)
	}
	start := len(dst)
	if a != nil && len(v) > 0 {
		dst = slices.Grow(dst, encodedLen(len(v)))
		dst = append(dst, frameMark)
		dst = binary.AppendUvarint(dst, a.id)
		n := len(dst)
		out := a.d.Encode(dst[n:n+s2.MaxEncodedLen(len(v))], v)
		dst = dst[:n+len(out)]
		if len(dst)-start >= len(v) { // not smaller: stored as it is
			dst = dst[:start]
		}
	}
	if len(dst) == start {
		if len(v) > 0 && v[0] == frameMark {
			dst = append(dst, frameMark, frameRaw)
		}
		dst = append(dst, v...)
	}
	return dst
}

// account counts n values of in bytes stored in out bytes, those
// compressed with a (nil: none) toward the review. Once a request: the
// counters are shared by every handler.
func (c *codec) account(a *activeDict, n, in, out int) {
	c.received.Add(uint64(in))
	c.stored.Add(uint64(out))
	if a != nil && c.samples > 0 {
		c.observe(a, n, in, out)
	}
}

// decode returns the value stored as v. A compressed value is decompressed
// into buf's storage when it is large enough, or a new slice; own says so.
// Otherwise the result is v or part of it (own is false).
func (c *codec) decode(buf, v []byte) (out []byte, own bool, err error) {
	if len(v) == 0 || v[0] != frameMark {
		return v, false, nil
	}
	id, n := binary.Uvarint(v[1:])
	if n <= 0 {
		return nil, false, errCorruptValue
	}
	body := v[1+n:]
	if id == frameRaw {
		return body, false, nil
	}
	d := (*c.dicts.Load())[id]
	if d == nil {
		return nil, false, fmt.Errorf("compressed with dictionary %d, which the store does not have", id)
	}
	if l, err := s2.DecodedLen(body); err != nil || l > maxDecoded {
		return nil, false, errCorruptValue
	}
	out, err = d.Decode(buf[:cap(buf)], body)
	if err != nil {
		return nil, false, errCorruptValue
	}
	return out, true, nil
}

// observe counts values compressed with a toward the review, and reviews
// when it is due: a ratio that drifted from a's starts a new collection.
func (c *codec) observe(a *activeDict, values, in, out int) {
	c.winIn.Add(uint64(in))
	c.winOut.Add(uint64(out))
	if n := c.winN.Add(uint64(values)); n < c.next.Load() || !c.winN.CompareAndSwap(n, 0) {
		return
	}
	ratio := float64(c.winOut.Swap(0)) / float64(max(c.winIn.Swap(0), 1))
	drifted := ratio > 1.25*a.ratio && ratio > a.ratio+0.05
	if a.ratio == 0 {
		// The first review of a dictionary sets what it is judged against
		// later: the traffic it compresses, not the samples it was trained
		// on (it fits those better than any other values).
		drifted = ratio > poorRatio
		c.active.CompareAndSwap(a, &activeDict{id: a.id, d: a.d, ratio: ratio})
	}
	if drifted && !c.collecting.Load() && !c.training.Load() {
		slog.Info("eventlog: compression ratio drifted, training a new dictionary", "dictionary", a.id,
			"before", fmt.Sprintf("%.3f", a.ratio), "now", fmt.Sprintf("%.3f", ratio))
		c.collecting.Store(true)
	}
}

// offer collects v as a training sample until there are enough, then
// trains a dictionary in the background.
func (c *codec) offer(v []byte) {
	if len(v) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.collecting.Load() {
		return
	}
	c.sample = append(c.sample, append([]byte(nil), v[:min(len(v), sampleBytes)]...))
	if len(c.sample) < c.samples {
		return
	}
	c.collecting.Store(false)
	samples := c.sample
	c.sample = nil
	if !c.training.CompareAndSwap(false, true) {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.training.Store(false)
		if err := c.train(samples); err != nil {
			slog.Warn("eventlog: no new compression dictionary", "err", err)
		}
	}()
}

// ratioOf is what d makes of samples.
func ratioOf(d *s2.Dict, samples [][]byte) float64 {
	var in, out int
	var buf []byte
	for _, s := range samples {
		buf = d.Encode(buf[:cap(buf)], s)
		in, out = in+len(s), out+len(buf)
	}
	return float64(out) / float64(max(in, 1))
}

// train chooses the dictionary for the traffic samples come from: a new
// one built from them, persisted (synced, before any value can use it),
// unless one the store has does nearly as well, or the one in use still
// does. Switching takes a 10 % gain; the store keeps at most maxDicts.
func (c *codec) train(samples [][]byte) error {
	start := time.Now()
	old := c.active.Load()
	dicts := *c.dicts.Load()
	ratios := make(map[uint64]float64, len(dicts)) // what each dictionary the store has makes of samples
	var bestID uint64
	bestRatio := 2.0
	for id, d := range dicts {
		ratios[id] = ratioOf(d, samples)
		if ratios[id] < bestRatio {
			bestID, bestRatio = id, ratios[id]
		}
	}
	var buildErr error
	if len(dicts) < maxDicts {
		raw, d, ratio, err := build(samples)
		switch {
		case err != nil:
			buildErr = err
		case ratio < 0.9*bestRatio:
			id, err := c.persist(raw, d)
			if err != nil {
				return err
			}
			slog.Info("eventlog: values are stored compressed", "dictionary", id, "bytes", len(raw), "samples", len(samples),
				"ratio", fmt.Sprintf("%.3f", ratio), "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
	}
	if bestRatio <= worthIt && (old == nil || bestID != old.id && bestRatio < 0.9*ratios[old.id]) {
		c.use(bestID, dicts[bestID])
		slog.Info("eventlog: values are stored compressed", "dictionary", bestID, "samples", len(samples),
			"ratio", fmt.Sprintf("%.3f", bestRatio), "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	if old == nil {
		return buildErr
	}
	// Nothing does better enough: keep the one in use, measured on
	// today's traffic, and review less often.
	c.active.Store(&activeDict{id: old.id, d: old.d, ratio: ratios[old.id]})
	c.next.Store(min(2*c.next.Load(), 1<<40))
	slog.Info("eventlog: the compression dictionary in use still fits best", "dictionary", old.id,
		"ratio", fmt.Sprintf("%.3f", ratios[old.id]), "next_review", c.next.Load())
	return nil
}

// build makes a dictionary of samples and says what it makes of them; an
// error when it cannot, or when it would not pay for its CPU (worthIt).
func build(samples [][]byte) (raw []byte, d *s2.Dict, ratio float64, err error) {
	if raw, err = buildDict(samples); err != nil {
		return nil, nil, 0, fmt.Errorf("train a dictionary: %w", err)
	}
	if d = s2.NewDict(raw); d == nil {
		return nil, nil, 0, errors.New("train a dictionary: the builder made an invalid one")
	}
	if ratio = ratioOf(d, samples); ratio > worthIt {
		return nil, nil, 0, fmt.Errorf("a dictionary of %d messages compresses them only to %.2f× their size", len(samples), ratio)
	}
	return raw, d, ratio, nil
}

// persist writes d under the next id, synced, then puts it in use.
func (c *codec) persist(raw []byte, d *s2.Dict) (uint64, error) {
	dicts := *c.dicts.Load()
	id := uint64(1)
	for k := range dicts {
		id = max(id, k+1)
	}
	// An id names one dictionary forever: values compressed with it must
	// never meet another.
	if _, closer, err := c.db.Get(dictKey(id)); err == nil {
		closer.Close()
		return 0, fmt.Errorf("compression dictionary %d exists already", id)
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return 0, fmt.Errorf("compression dictionary %d: %w", id, err)
	}
	if err := c.db.Set(dictKey(id), raw, pebble.Sync); err != nil {
		return 0, fmt.Errorf("persist compression dictionary %d: %w", id, err)
	}
	next := maps.Clone(dicts)
	next[id] = d
	c.dicts.Store(&next)
	c.use(id, d)
	return id, nil
}

// use makes d the dictionary new values are compressed with.
func (c *codec) use(id uint64, d *s2.Dict) {
	c.active.Store(&activeDict{id: id, d: d})
	c.next.Store(c.review)
	// The next review judges d alone, not the values compressed with the
	// previous dictionary while d was being trained.
	c.winN.Store(0)
	c.winIn.Store(0)
	c.winOut.Store(0)
}

// buildDict builds an S2 dictionary from samples. The builder panics on
// samples with no repeated substrings (v1.20.1 indexes an empty list); the
// samples are clients' messages, so that is an error, not a crash.
func buildDict(samples [][]byte) (raw []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			raw, err = nil, fmt.Errorf("the builder failed on these samples: %v", r)
		}
	}()
	return dict.BuildS2Dict(samples, dict.Options{HashBytes: 8, MaxDictSize: s2.MaxDictSize})
}

// wait waits for a training still running (Close: it writes to the store).
func (c *codec) wait() { c.wg.Wait() }
