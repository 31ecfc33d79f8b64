package eventlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("eventlog: closed")

// Record is one message to append.
type Record struct {
	Partition int
	// Value is the stored message bytes.
	Value []byte
	// DedupeKey identifies the message for de-duplication ("source\x00messageId");
	// empty disables de-duplication for the record.
	DedupeKey []byte
	// Index lists secondary keys (without the t/ prefix, seq suffix included by
	// the caller via IndexKey) that point at the record.
	Index [][]byte
	// Payload travels with the record to the Sink (the decoded event), so the
	// processor does not decode what ingest already decoded.
	Payload any
}

// Result says what happened to one appended record.
type Result struct {
	Seq       uint64
	Duplicate bool
}

// Entry is a record as the Sink and Replay see it.
type Entry struct {
	Partition int
	Seq       uint64
	Value     []byte // valid only during the callback in Replay
	Payload   any    // nil on Replay
	// AppendedAt is when the record was synced (zero on Replay).
	AppendedAt time.Time
}

// Sink receives the entries of each group commit after the sync, in seq
// order. It may block (back-pressure): the writer waits, and so do the
// requests being acknowledged. It owns the slice.
type Sink func(entries []Entry)

// Options configure a Log.
type Options struct {
	Partitions int
	// DedupeWindow is how long a messageId is remembered (at least this long).
	DedupeWindow time.Duration
	// MaxBatchBytes bounds one group commit.
	MaxBatchBytes int
	// ReadOnly opens the log for Replay, Get and the timeline only (verify,
	// tools): the de-duplication filters are not loaded and Start fails.
	ReadOnly bool
	// Compress stores values compressed with a dictionary trained from the
	// first DictSamples values appended (default DefaultDictSamples), once
	// the store has one, and trains a new one when the ratio of the
	// DictReview values (default DefaultDictReview) since the last review
	// drifted (see compress.go). Values are read back the same either way.
	Compress    bool
	DictSamples int
	DictReview  int
}

// Log is the embedded Pebble event log. Append is safe for concurrent use.
type Log struct {
	db     *pebble.DB
	opts   Options
	reqs   chan *appendReq
	sink   Sink
	wg     sync.WaitGroup
	closed atomic.Bool
	mu     sync.RWMutex // held for reading by Append while sending on reqs

	nextSeq uint64 // owned by the writer goroutine after Start
	// committed is the last seq of the last committed group, for readers
	// outside the writer (the expiry scan's dn/ record).
	committed atomic.Uint64
	dedupe    *dedupe
	codec     *codec
	bufs      sync.Pool // *[]byte: the stored values of one Append
	// loaded is closed when the de-duplication filters are loaded (or
	// failed to load, then loadErr says why); see Open.
	loaded   chan struct{}
	loadErr  error
	stopLoad chan struct{} // closed by Close: a load still running gives up

	// Stats for metrics.
	Appended   atomic.Uint64
	Duplicates atomic.Uint64
	Commits    atomic.Uint64
	// Bytes counts the bytes of the committed batches (entries, their
	// timeline and de-duplication keys).
	Bytes atomic.Uint64
}

// ValueBytes returns the bytes of the values appended since start, as given
// and as stored (compressed, once the log has a dictionary).
func (l *Log) ValueBytes() (given, stored uint64) {
	return l.codec.received.Load(), l.codec.stored.Load()
}

// Dictionary is the id of the dictionary new values are compressed with
// (0: none yet, or compression is off).
func (l *Log) Dictionary() uint64 {
	if a := l.codec.active.Load(); a != nil {
		return a.id
	}
	return 0
}

// DedupeReads counts the messageIds the in-memory filters could not rule
// out, confirmed with a read (duplicates and false positives).
func (l *Log) DedupeReads() uint64 { return l.dedupe.reads.Load() }

type appendReq struct {
	recs    []Record
	values  [][]byte // each record's stored form
	results []Result
	done    chan error
}

// Open prepares the log over db. Start must be called before Append, and
// Close before db is closed.
//
// The de-duplication filters are loaded in the background, from every d/
// key of the window: 8 of the 67 s a 1 M-customer store took to start, and
// nothing before Start needs them, so the start loads the profiles and the
// engines meanwhile. Start waits for them.
func Open(db *pebble.DB, opts Options) (*Log, error) {
	if opts.Partitions <= 0 || opts.Partitions > 1<<16 {
		return nil, fmt.Errorf("eventlog: partitions must be 1..65536, got %d", opts.Partitions)
	}
	if opts.DedupeWindow <= 0 {
		opts.DedupeWindow = 7 * 24 * time.Hour
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = 2 << 20
	}
	if opts.DictSamples <= 0 {
		opts.DictSamples = DefaultDictSamples
	}
	if opts.DictReview <= 0 {
		opts.DictReview = DefaultDictReview
	}
	l := &Log{db: db, opts: opts, reqs: make(chan *appendReq, 256)}
	l.bufs.New = func() any { return new([]byte) }
	samples := 0
	if opts.Compress && !opts.ReadOnly {
		samples = opts.DictSamples
	}
	var err error
	if l.codec, err = openCodec(db, samples, opts.DictReview); err != nil {
		return nil, err
	}
	last, err := l.lastSeq()
	if err != nil {
		return nil, err
	}
	l.nextSeq = last + 1
	l.committed.Store(last)
	l.dedupe = &dedupe{db: db}
	l.loaded, l.stopLoad = make(chan struct{}), make(chan struct{})
	if opts.ReadOnly {
		l.loadErr = errors.New("eventlog: opened read-only")
		close(l.loaded)
		return l, nil
	}
	bound, err := keysBound(db, last)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	cutoff, today := dayOf(now.Add(-opts.DedupeWindow)), dayOf(now)
	go func() {
		defer close(l.loaded)
		start := time.Now()
		n, err := l.dedupe.load(cutoff, today, bound, l.stopLoad)
		if err != nil {
			l.loadErr = fmt.Errorf("eventlog: load dedupe keys: %w", err)
			return
		}
		if err := l.dedupe.saveSize(uint64(n), last); err != nil {
			slog.Warn("eventlog: record the de-duplication keys", "err", err)
		}
		slog.Debug("eventlog: de-duplication filters loaded", "keys", n, "bound", bound, "took", time.Since(start).Round(time.Millisecond))
	}()
	return l, nil
}

// Partitions is the number of partitions.
func (l *Log) Partitions() int { return l.opts.Partitions }

// LastSeq is the highest sequence number written (0 when empty). Only valid
// before Start or after Close.
func (l *Log) LastSeq() uint64 { return l.nextSeq - 1 }

func (l *Log) lastSeq() (uint64, error) {
	var max uint64
	for p := 0; p < l.opts.Partitions; p++ {
		it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: logKey(p, 0), UpperBound: logKey(p+1, 0)})
		if err != nil {
			return 0, err
		}
		if it.Last() {
			if s := binary.BigEndian.Uint64(it.Key()[4:]); s > max {
				max = s
			}
		}
		if err := it.Close(); err != nil {
			return 0, err
		}
	}
	return max, nil
}

// Start runs the writer until Close, once the de-duplication filters are
// loaded; sink receives every appended entry. It fails, and the log stays
// unwritable, when they could not be loaded.
func (l *Log) Start(sink Sink) error {
	<-l.loaded
	if l.loadErr != nil {
		return l.loadErr
	}
	l.sink = sink
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.writeLoop()
	}()
	return nil
}

// Append writes recs durably and returns, per record, its seq or that it was
// a duplicate. It returns after the records are synced to disk.
func (l *Log) Append(ctx context.Context, recs []Record) ([]Result, error) {
	for i := range recs {
		if recs[i].Partition < 0 || recs[i].Partition >= l.opts.Partitions {
			return nil, fmt.Errorf("eventlog: record %d: partition %d out of range", i, recs[i].Partition)
		}
	}
	values, buf := l.encode(recs)
	if buf != nil {
		defer func() {
			if cap(*buf) <= maxPooledBuf {
				l.bufs.Put(buf)
			}
		}()
	}
	req := &appendReq{recs: recs, values: values, results: make([]Result, len(recs)), done: make(chan error, 1)}
	l.mu.RLock()
	if l.closed.Load() {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case l.reqs <- req:
		l.mu.RUnlock()
	case <-ctx.Done():
		l.mu.RUnlock()
		return nil, ctx.Err()
	}
	// Once queued the request is committed or failed by the writer; waiting
	// for it even if ctx ends keeps "acknowledged" and "durable" the same thing.
	err := <-req.done
	return req.results, err
}

// encode returns the records' stored forms, compressed in the caller's
// goroutine (the HTTP handlers run in parallel; the writer is one
// goroutine), in a buffer from bufs when it needs one (nil otherwise): the
// caller gives it back once the writer is done with the values.
func (l *Log) encode(recs []Record) (values [][]byte, buf *[]byte) {
	values = make([][]byte, len(recs))
	in := 0
	framed := false
	for i := range recs {
		v := recs[i].Value
		in += len(v)
		framed = framed || len(v) > 0 && v[0] == frameMark
	}
	a := l.codec.active.Load()
	// Nothing to compress, frame or sample (compression off, or no
	// dictionary worth using): stored as given, without a copy.
	if a == nil && !framed && !l.codec.collecting.Load() {
		for i := range recs {
			values[i] = recs[i].Value
		}
		l.codec.account(nil, len(recs), in, in)
		return values, nil
	}
	buf = l.bufs.Get().(*[]byte)
	b := (*buf)[:0]
	ends := make([]int, len(recs))
	for i := range recs {
		b = l.codec.encode(b, recs[i].Value, a)
		ends[i] = len(b)
	}
	*buf = b
	// Cut at the end: encode may have grown the buffer.
	start := 0
	for i, end := range ends {
		values[i] = b[start:end:end]
		start = end
	}
	l.codec.account(a, len(recs), in, len(b))
	return values, buf
}

// Close stops accepting appends, finishes the queued ones and stops the
// writer (and the filters' load, if still running: it reads the store).
func (l *Log) Close() {
	l.mu.Lock()
	if !l.closed.Swap(true) {
		close(l.reqs)
		close(l.stopLoad)
	}
	l.mu.Unlock()
	l.wg.Wait()
	<-l.loaded
	l.codec.wait()
}

// writeLoop is the group commit: it takes every request queued while the
// previous batch was syncing, writes them as one Pebble batch with one sync,
// hands the entries to the sink, then answers the requests.
func (l *Log) writeLoop() {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("stage", "log-writer")))
	var pending []*appendReq
	seen := make(map[string]struct{})
	var ptr [2]byte
	var keyBuf []byte
	var own *pebble.Batch // the last group commit's batch, reset
	defer func() {
		if own != nil {
			own.Close()
		}
	}()
	dayBuf := make([]byte, 0, binary.MaxVarintLen64)
	var kept, byPart []keptRec
	starts := make([]int, l.opts.Partitions+1)
	for {
		req, ok := <-l.reqs
		if !ok {
			return
		}
		pending = append(pending[:0], req)
		size := reqSize(req)
	drain:
		for size < l.opts.MaxBatchBytes {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break drain
				}
				pending = append(pending, r)
				size += reqSize(r)
			default:
				break drain
			}
		}

		// Sized for the group up front, and the writer's own: a batch
		// grown from 1 KB by doubling was 11 % of the bytes the server
		// allocated under load, and one returned to Pebble's pool was
		// mostly lost (other writers take it and drop its buffer, being
		// over their 1 MB; every collection empties the pool): 10 % of the
		// bytes allocated. Reset keeps the buffer up to batchRetainBytes.
		b := own
		own = nil
		if b == nil {
			b = l.db.NewBatch(pebble.WithInitialSizeBytes(size+size/4), pebble.WithMaxRetainedSizeBytes(batchRetainBytes))
		}
		clear(seen)
		now := time.Now()
		today := dayOf(now)
		dayBuf = binary.AppendUvarint(dayBuf[:0], today)
		var err error
		startSeq := l.nextSeq
		nrecs := 0
		// Duplicates first, then the keys in three runs: Pebble inserts a
		// batch into its memtable key by key, and an insert next to the
		// previous one skips most of the skiplist's search. Interleaved per
		// record (its de-duplication key, log entry, timeline keys), every
		// insert searched from the top; the log entries of one partition
		// have consecutive sequence numbers, so grouped by partition each
		// lands beside the one before.
		kept = kept[:0]
		for _, r := range pending {
			nrecs += len(r.recs)
			for i := range r.recs {
				rec := &r.recs[i]
				if len(rec.DedupeKey) > 0 {
					h := hashKey(rec.DedupeKey)
					dup, derr := l.isDuplicate(rec.DedupeKey, h, seen)
					if derr != nil {
						err = derr
						break
					}
					if dup {
						r.results[i] = Result{Duplicate: true}
						continue
					}
					seen[string(rec.DedupeKey)] = struct{}{}
					// Added before the commit: if it fails, the extra filter
					// entry only costs a confirming read later.
					l.dedupe.addHash(today, h)
				}
				seq := l.nextSeq
				l.nextSeq++
				r.results[i] = Result{Seq: seq}
				kept = append(kept, keptRec{r, i, rec.Partition})
			}
			if err != nil {
				break
			}
		}
		if err == nil {
			byPart = sortByPartition(byPart, kept, starts)
			for _, k := range byPart {
				b.Set(logKey(k.part, k.r.results[k.i].Seq), k.r.values[k.i], nil)
			}
			for _, k := range kept {
				binary.BigEndian.PutUint16(ptr[:], uint16(k.part))
				for _, ix := range k.r.recs[k.i].Index {
					// Set copies the key: one buffer serves every key.
					keyBuf = append(keyBuf[:0], store.PrefixTimeline...)
					keyBuf = append(keyBuf, ix...)
					keyBuf = binary.BigEndian.AppendUint64(keyBuf, k.r.results[k.i].Seq)
					b.Set(keyBuf, ptr[:], nil)
				}
			}
			for _, k := range kept {
				if dk := k.r.recs[k.i].DedupeKey; len(dk) > 0 {
					b.Set(dedupeKey(dk), dayBuf, nil)
				}
			}
		}
		// Not to hold this group's requests (and their values) until a
		// later group overwrites the slots.
		clear(kept)
		clear(byPart)
		if err == nil {
			err = b.Commit(pebble.Sync)
		}
		batchBytes := b.Len()
		if err == nil {
			// Pebble drops the buffer of a batch it took as a memtable of
			// its own (half a memtable or more), so reuse is always safe.
			b.Reset()
			own = b
		} else {
			b.Close()
		}
		if err != nil {
			// Nothing of this batch is durable: reuse its sequence numbers.
			l.nextSeq = startSeq
			slog.Error("eventlog: commit failed", "err", err)
			for _, r := range pending {
				r.done <- fmt.Errorf("eventlog: commit: %w", err)
			}
			continue
		}
		l.committed.Store(l.nextSeq - 1)
		l.Commits.Add(1)
		l.Bytes.Add(uint64(batchBytes))
		synced := time.Now()
		var appended, dups uint64
		entries := make([]Entry, 0, nrecs)
		for _, r := range pending {
			for i := range r.recs {
				if r.results[i].Duplicate {
					dups++
					continue
				}
				appended++
				entries = append(entries, Entry{Partition: r.recs[i].Partition, Seq: r.results[i].Seq, Payload: r.recs[i].Payload, AppendedAt: synced})
			}
		}
		l.Appended.Add(appended)
		l.Duplicates.Add(dups)
		// Hand off before acknowledging, so that an acknowledged event is
		// always either applied or visible to the lag metric.
		if l.sink != nil && len(entries) > 0 {
			l.sink(entries)
		}
		for _, r := range pending {
			r.done <- nil
		}
	}
}

// keptRec is a record of a group commit that is not a duplicate: request
// r's record i.
type keptRec struct {
	r    *appendReq
	i    int
	part int // r.recs[i].Partition, for the sort
}

// sortByPartition returns recs ordered by partition into dst's memory, with
// a counting sort (partitions are few and dense; starts has one more slot
// than there are). It is stable: within a partition, recs keep their
// order, which is sequence order.
func sortByPartition(dst, recs []keptRec, starts []int) []keptRec {
	clear(starts)
	for _, k := range recs {
		starts[k.part+1]++
	}
	for p := 1; p < len(starts); p++ {
		starts[p] += starts[p-1]
	}
	dst = slices.Grow(dst[:0], len(recs))[:len(recs)]
	for _, k := range recs {
		dst[starts[k.part]] = k
		starts[k.part]++
	}
	return dst
}

// maxPooledBuf is the largest buffer of stored values kept for reuse: a
// full batch request, compressed or not.
const maxPooledBuf = 1 << 20

// batchRetainBytes is the largest group commit batch Pebble's pool keeps
// for reuse: MaxBatchBytes by default, and the records' keys.
const batchRetainBytes = 4 << 20

func reqSize(r *appendReq) int {
	n := 0
	for _, v := range r.values {
		n += len(v) + 64
	}
	return n
}

func (l *Log) isDuplicate(key []byte, h uint64, seen map[string]struct{}) (bool, error) {
	if _, ok := seen[string(key)]; ok {
		return true, nil
	}
	return l.dedupe.contains(key, h)
}

// Get reads one entry's stored value.
func (l *Log) Get(p int, seq uint64) ([]byte, error) {
	v, closer, err := l.db.Get(logKey(p, seq))
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	out, own, err := l.codec.decode(nil, v)
	if err != nil {
		return nil, fmt.Errorf("eventlog: entry %d: %w", seq, err)
	}
	if !own { // Pebble's memory, valid until closer.Close
		out = append([]byte(nil), out...)
	}
	return out, nil
}

// ExpireDedupe deletes de-duplication keys older than the window, and folds
// the filters of the days before now's into one (see dedupe). Both need a
// scan of the whole d/ keyspace, so it runs in the background, hourly, and
// scans only when a day has left the window or ended since the last fold.
func (l *Log) ExpireDedupe(ctx context.Context, now time.Time) (int, error) {
	select { // the fold replaces filters: the load must have made them
	case <-l.loaded:
		if l.loadErr != nil {
			return 0, l.loadErr
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	start := time.Now()
	cutoff := dayOf(now.Add(-l.opts.DedupeWindow))
	l.dedupe.dropBefore(cutoff)
	f := l.dedupe.beginFold(cutoff, dayOf(now))
	if !l.dedupe.beginScan(cutoff, f != nil) {
		return 0, nil
	}
	seq := l.committed.Load() // before the scan's iterator: see keysBound
	n, kept, keys, err := l.expireScan(ctx, cutoff, f)
	l.dedupe.endScan(err == nil, kept)
	if err != nil {
		return n, err
	}
	if err := l.dedupe.saveSize(keys, seq); err != nil {
		slog.Warn("eventlog: record the de-duplication keys", "err", err)
	}
	if f != nil {
		l.dedupe.finishFold(f)
		var folded uint64
		for _, n := range f.seen {
			folded += n
		}
		slog.Info("dedupe filters folded", "days", len(f.seen), "keys", folded, "took", time.Since(start).Round(time.Millisecond))
	}
	return n, nil
}

// expireScan deletes the d/ keys of days before cutoff and adds the others
// to f (when not nil). It returns how many it deleted, the earliest day it
// kept (noKeys: none) and how many it kept.
func (l *Log) expireScan(ctx context.Context, cutoff uint64, f *fold) (n int, kept, keys uint64, err error) {
	kept = noKeys
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixDedupe), UpperBound: store.UpperBound(store.PrefixDedupe)})
	if err != nil {
		return 0, kept, 0, err
	}
	defer it.Close()
	b := l.db.NewBatch()
	for it.First(); it.Valid(); it.Next() {
		day, k := binary.Uvarint(it.Value())
		if k > 0 && day < cutoff {
			b.Delete(it.Key(), nil)
			n++
		} else if k > 0 {
			kept = min(kept, day)
			keys++
			if f != nil {
				f.add(day, it.Key()[len(store.PrefixDedupe):])
			}
		}
		if b.Len() > 4<<20 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return n, kept, keys, err
			}
			b = l.db.NewBatch()
			if ctx.Err() != nil {
				return n, kept, keys, ctx.Err()
			}
		}
	}
	if err := it.Error(); err != nil {
		return n, kept, keys, err
	}
	return n, kept, keys, b.Commit(pebble.NoSync)
}

func logKey(p int, seq uint64) []byte {
	k := make([]byte, 0, 12)
	k = append(k, store.PrefixLog...)
	k = binary.BigEndian.AppendUint16(k, uint16(p))
	if p >= 1<<16 { // upper bound past the last partition
		k = append(k[:2], 0xff, 0xff, 0xff)
	}
	return binary.BigEndian.AppendUint64(k, seq)
}

func dedupeKey(k []byte) []byte {
	out := make([]byte, 0, 2+len(k))
	return append(append(out, store.PrefixDedupe...), k...)
}

// dayOf is the de-duplication bucket of t: days since the Unix epoch, UTC.
func dayOf(t time.Time) uint64 { return uint64(t.Unix() / 86400) }
