package eventlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/greatroar/blobloom"

	"tailor/internal/store"
)

// dedupe answers "was this (source, messageId) appended within the window?"
// without a Pebble read for the common answer, no.
//
// The durable truth is the d/ keyspace. In memory, each receive day has a
// chain of Bloom filters over the keys written that day (each twice the
// capacity of the previous, so a day of any size costs a handful of
// filters). A filter miss is a certain "new"; a hit is confirmed with a
// Pebble read, so false positives cost a read, never a lost event.
//
// The filters are blocked (all of a key's bits in one 64-byte block) and a
// key is hashed once for the whole chain: a new key is tested against every
// filter, and with a plain Bloom filter each test cost fourteen cache
// misses and a hash of its own. A day of 21 M keys made that about 8 µs a
// message in the serial log writer, a third of its time at 40k events/s.
//
// A new key is still tested against every filter of the window: a day of
// 27 M keys is a chain of eight, and a week of such days 56, each test a
// cache miss in the log writer that every acknowledgement waits for. A day
// that has ended gets no more keys (a key's day is the day it is written),
// so its number of keys is final: the hourly expiry scan (ExpireDedupe),
// which reads every d/ key anyway, folds the chains of all ended days into
// one filter sized for exactly their keys. A new key then costs one test
// for the past days and today's chain.
//
// The start's load folds too. After a restart every day of the window but
// today has ended, and the first expiry scan used to read all their keys
// again to fold them: 27.8 M keys of the 1 M-customer demo, 9.5 s of a core
// on an idle server and 44 s under load, in the minutes after every start.
// The load reads every key anyway; what it lacks is the filter's size before
// it begins. Each full scan (the load, a complete expiry scan) records in
// dn/ the keys it kept and the log's last seq when it began, and since every
// d/ key is written with a new seq, kept + (last seq now − last seq then)
// bounds the keys the next load finds (keysBound). The load adds the ended
// days' keys to one filter of that size, and chains only today's.
type dedupe struct {
	db *pebble.DB
	mu sync.Mutex
	// past holds every key of the days folded by the last fold (those in
	// [pastFrom, pastEnd)); nil before the first fold. Days that have
	// expired since only make it answer "maybe" more often, which a read
	// then corrects.
	past              *blobloom.Filter
	pastFrom, pastEnd uint64
	days              []*dayFilters // the chains of the days not folded, ascending by day
	// counts is the number of keys of each day in the window: what sizes
	// the folded filter.
	counts map[uint64]uint64
	// reads counts filter hits confirmed against Pebble.
	reads atomic.Uint64

	// oldest is the earliest day a d/ key may hold: the load and every add
	// lower it, a complete expiry scan sets it to what the scan kept. An
	// expiry scan reads every key of the window (27 M in the 1 M-customer
	// demo store), so ExpireDedupe skips it unless a day has left the window
	// (oldest < cutoff) or a fold is due: once a day instead of every hour.
	// Zero, before a load, means any day: scan.
	oldest uint64
	// scanning is set while an expiry scan runs; scanMin is then the
	// earliest day added since it began, which the scan may not see.
	scanning bool
	scanMin  uint64
	// scans counts expiry scans (tests).
	scans atomic.Uint64
}

// noKeys is oldest when no d/ key exists.
const noKeys = ^uint64(0)

type dayFilters struct {
	day     uint64
	filters []*blobloom.Filter
	n, cap  uint // entries in and capacity of the last filter
}

// A new key is tested against every filter of every day in the window, so
// the false positives of the filters add up: with a day of 21 M keys (seven
// filters) at 1 % each, 7 % of new messages needed a Pebble read, and those
// reads (filter blocks of a 6 GB store, out of the block cache) took a third
// of the log writer's time, which every acknowledgement waits for. At 0.01 %
// a filter costs about 23 bits per key (blocked) instead of 10, and a whole
// chain stays under 0.1 % false positives.
const (
	firstFilterCap = 1 << 18
	falsePositive  = 0.0001
)

// hashSeed is per process: the filters are rebuilt from the d/ keys at
// every start, so their hashes never outlive it.
var hashSeed = maphash.MakeSeed()

func hashKey(key []byte) uint64 { return maphash.Bytes(hashSeed, key) }

func (d *dedupe) add(day uint64, key []byte) { d.addHash(day, hashKey(key)) }

// addHash adds the key whose hashKey is h: the log writer hashes a new
// key once for the test and the add.
func (d *dedupe) addHash(day uint64, h uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.countLocked(day)
	var df *dayFilters
	if n := len(d.days); n > 0 && d.days[n-1].day == day {
		df = d.days[n-1]
	} else {
		// Keys arrive in day order except at load time; keep days sorted.
		df = &dayFilters{day: day}
		i := len(d.days)
		for i > 0 && d.days[i-1].day > day {
			i--
		}
		if i > 0 && d.days[i-1].day == day {
			df = d.days[i-1]
		} else {
			d.days = append(d.days, nil)
			copy(d.days[i+1:], d.days[i:])
			d.days[i] = df
		}
	}
	if len(df.filters) == 0 || df.n >= df.cap {
		c := uint(firstFilterCap)
		if df.cap > 0 {
			c = df.cap * 2
		}
		df.filters = append(df.filters, blobloom.NewOptimized(blobloom.Config{Capacity: uint64(c), FPRate: falsePositive}))
		df.n, df.cap = 0, c
	}
	df.filters[len(df.filters)-1].Add(h)
	df.n++
}

// countLocked counts one more key of day; d.mu is held.
func (d *dedupe) countLocked(day uint64) {
	if d.counts == nil {
		d.counts = make(map[uint64]uint64)
	}
	d.counts[day]++
	d.noteDayLocked(day)
}

// noteDayLocked records that a d/ key of day exists; d.mu is held.
func (d *dedupe) noteDayLocked(day uint64) {
	d.oldest = min(d.oldest, day)
	if d.scanning {
		d.scanMin = min(d.scanMin, day)
	}
}

// beginScan reports whether an expiry scan is needed (a key may be older
// than cutoff, or folding is set) and, if so, starts tracking the days
// added while it runs.
func (d *dedupe) beginScan(cutoff uint64, folding bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !folding && d.oldest >= cutoff {
		return false
	}
	d.scanning, d.scanMin = true, noKeys
	d.scans.Add(1)
	return true
}

// endScan ends a scan; a complete one saw every key that existed when it
// began and kept none older than kept.
func (d *dedupe) endScan(complete bool, kept uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if complete {
		d.oldest = min(kept, d.scanMin)
	}
	d.scanning = false
}

// mayContain reports whether key may have been added (false: certainly not).
func (d *dedupe) mayContain(key []byte) bool { return d.mayContainHash(hashKey(key)) }

func (d *dedupe) mayContainHash(h uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.past != nil && d.past.Has(h) {
		return true
	}
	for i := len(d.days) - 1; i >= 0; i-- {
		for _, f := range d.days[i].filters {
			if f.Has(h) {
				return true
			}
		}
	}
	return false
}

// contains is the exact answer: filter, then the d/ key.
// h is hashKey(key).
func (d *dedupe) contains(key []byte, h uint64) (bool, error) {
	if !d.mayContainHash(h) {
		return false, nil
	}
	d.reads.Add(1)
	_, closer, err := d.db.Get(dedupeKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("dedupe lookup: %w", err)
	}
	closer.Close()
	return true, nil
}

// dropBefore forgets days older than cutoff. The folded filter keeps their
// keys until the next fold.
func (d *dedupe) dropBefore(cutoff uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := 0
	for i < len(d.days) && d.days[i].day < cutoff {
		i++
	}
	d.days = append(d.days[:0], d.days[i:]...)
	for day := range d.counts {
		if day < cutoff {
			delete(d.counts, day)
		}
	}
}

// fold is one folding of the ended days [from, end) into a new past
// filter: begin sizes it, the caller adds the hash of every d/ key of
// those days, finish swaps it in.
type fold struct {
	from, end uint64
	filter    *blobloom.Filter
	counts    map[uint64]uint64 // each folded day's keys when the fold began
	seen      map[uint64]uint64 // each folded day's keys the scan added
}

// beginFold starts folding the days in [from, end), or returns nil when the
// last fold already covers exactly them.
func (d *dedupe) beginFold(from, end uint64) *fold {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := &fold{from: from, end: end, counts: make(map[uint64]uint64), seen: make(map[uint64]uint64)}
	var total uint64
	for day, n := range d.counts {
		if day >= from && day < end {
			f.counts[day] = n
			total += n
		}
	}
	unfolded := len(d.days) > 0 && d.days[0].day < end
	current := d.past != nil && d.pastFrom == from && d.pastEnd == end
	if !unfolded && (current || d.past == nil && total == 0) {
		return nil
	}
	if total > 0 {
		f.filter = blobloom.NewOptimized(blobloom.Config{Capacity: max(total, 1024), FPRate: falsePositive})
	}
	return f
}

func (f *fold) add(day uint64, key []byte) {
	if f.filter != nil && day >= f.from && day < f.end {
		f.filter.Add(hashKey(key))
		f.seen[day]++
	}
}

// finishFold makes f's filter the past one and drops the chains it covers.
// The log writer adds a key to the filters just before it commits the key,
// so the scan can miss a key its day's count already holds (a fold at
// midnight, or a clock set back to an ended day): a chain is dropped only
// if the scan added as many of its day's keys as were counted, and no key
// was counted since.
func (d *dedupe) finishFold(f *fold) {
	d.mu.Lock()
	defer d.mu.Unlock()
	kept := d.days[:0]
	for _, df := range d.days {
		if n, ok := f.counts[df.day]; ok && d.counts[df.day] == n && f.seen[df.day] >= n {
			continue
		}
		kept = append(kept, df)
	}
	clear(d.days[len(kept):])
	d.days = kept
	d.past, d.pastFrom, d.pastEnd = f.filter, f.from, f.end
}

// errLoadStopped: the log was closed during the load.
var errLoadStopped = errors.New("closed while loading")

// load fills the filters from the d/ keyspace, skipping expired days,
// until stop is closed. With bound (keysBound; 0: unknown) the keys of the
// days before today go into one filter of that capacity, folded as the
// expiry scan would fold them; past the bound, or without one, into their
// days' chains, which the next expiry scan folds.
func (d *dedupe) load(cutoff, today, bound uint64, stop <-chan struct{}) (int, error) {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixDedupe), UpperBound: store.UpperBound(store.PrefixDedupe)})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	d.mu.Lock()
	d.oldest = noKeys
	d.mu.Unlock()
	var past *blobloom.Filter
	if bound > 0 {
		past = blobloom.NewOptimized(blobloom.Config{Capacity: max(bound, 1024), FPRate: falsePositive})
	}
	var folded uint64
	n, skipped := 0, 0
	for it.First(); it.Valid(); it.Next() {
		if (n+skipped)%(1<<16) == 0 {
			select {
			case <-stop:
				return n, errLoadStopped
			default:
			}
		}
		day, k := binary.Uvarint(it.Value())
		if k <= 0 || day < cutoff {
			// Expired keys stay until the next expiry scan deletes them.
			skipped++
			if k > 0 {
				d.mu.Lock()
				d.noteDayLocked(day)
				d.mu.Unlock()
			}
			continue
		}
		key := it.Key()[len(store.PrefixDedupe):]
		if past != nil && day < today && folded < bound {
			past.Add(hashKey(key))
			folded++
			d.mu.Lock()
			d.countLocked(day)
			d.mu.Unlock()
		} else {
			d.add(day, key)
		}
		n++
	}
	if err := it.Error(); err != nil {
		return n, err
	}
	if folded > 0 {
		// Ended days whose keys went past the bound have chains, which
		// makes the next expiry scan fold them (beginFold).
		d.mu.Lock()
		d.past, d.pastFrom, d.pastEnd = past, cutoff, today
		d.mu.Unlock()
	}
	return n, nil
}

// keysBound bounds the d/ keys when the log's last seq is last, from the
// dn/ record of the last full scan; 0 when it cannot (no record yet, or a
// log older than the record).
func keysBound(db *pebble.DB, last uint64) (uint64, error) {
	v, closer, err := db.Get([]byte(store.PrefixDedupeSize))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("dedupe size: %w", err)
	}
	defer closer.Close()
	keys, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, nil
	}
	seq, m := binary.Uvarint(v[n:])
	if m <= 0 || seq > last {
		return 0, nil
	}
	return keys + (last - seq), nil
}

// saveSize records a full scan that kept keys d/ keys and began when the
// log's last seq was seq. Unsynced: a lost record only costs the next start
// its fold.
func (d *dedupe) saveSize(keys, seq uint64) error {
	v := binary.AppendUvarint(nil, keys)
	return d.db.Set([]byte(store.PrefixDedupeSize), binary.AppendUvarint(v, seq), pebble.NoSync)
}
