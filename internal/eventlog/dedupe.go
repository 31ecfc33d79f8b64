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
type dedupe struct {
	db   *pebble.DB
	mu   sync.Mutex
	days []*dayFilters // ascending by day
	// reads counts filter hits confirmed against Pebble.
	reads atomic.Uint64
}

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

// mayContain reports whether key may have been added (false: certainly not).
func (d *dedupe) mayContain(key []byte) bool { return d.mayContainHash(hashKey(key)) }

func (d *dedupe) mayContainHash(h uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
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

// dropBefore forgets days older than cutoff.
func (d *dedupe) dropBefore(cutoff uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := 0
	for i < len(d.days) && d.days[i].day < cutoff {
		i++
	}
	d.days = append(d.days[:0], d.days[i:]...)
}

// load fills the filters from the d/ keyspace, skipping expired days.
func (d *dedupe) load(cutoff uint64) (int, error) {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixDedupe), UpperBound: store.UpperBound(store.PrefixDedupe)})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		day, k := binary.Uvarint(it.Value())
		if k <= 0 || day < cutoff {
			continue
		}
		d.add(day, it.Key()[len(store.PrefixDedupe):])
		n++
	}
	return n, it.Error()
}
