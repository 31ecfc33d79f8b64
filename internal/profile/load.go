package profile

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/arena"
	"tailor/internal/store"
)

// loadChunk is a run of consecutive profile records: read by the reader,
// decoded by a worker, inserted by the loader in key order.
type loadChunk struct {
	keys []string
	vals [][]byte // views of buf, one per record
	buf  []byte
	ps   []*loaded // their encodings view buf
	sts  []*State
	err  error
	done chan struct{} // closed once decoded
}

// loadChunkRecords is how many records a chunk holds: enough to make the
// hand-offs rare, few enough that the decoders start at once.
const loadChunkRecords = 512

// decodeAll reads every profile record of db in key order and calls put
// with each, decoded; what put gets is valid during the call. Decoding (validating each state and interning its
// strings) is most of a load's work and needs no store, so GOMAXPROCS
// workers do it while the caller inserts in order: at 1 M profiles the
// load was 20 s of a 67 s start on one core.
func decodeAll(db *pebble.DB, put func(id string, p *loaded, st *State)) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixProfile), UpperBound: store.UpperBound(store.PrefixProfile)})
	if err != nil {
		return err
	}
	workers := max(1, runtime.GOMAXPROCS(0))
	work := make(chan *loadChunk, workers)
	ordered := make(chan *loadChunk, 2*workers)
	stop := make(chan struct{})
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the reader
		defer wg.Done()
		defer close(work)
		defer close(ordered)
		c := &loadChunk{done: make(chan struct{})}
		var lens []int
		var ids arena.Strings // the keys: two allocations a chunk, not one a key
		flush := func() bool {
			c.vals = make([][]byte, len(lens))
			off := 0
			for i, n := range lens {
				c.vals[i] = c.buf[off : off+n : off+n]
				off += n
			}
			lens = lens[:0]
			select {
			case ordered <- c:
			case <-stop:
				return false
			}
			select {
			case work <- c:
			case <-stop:
				return false
			}
			c = &loadChunk{done: make(chan struct{})}
			return true
		}
		for it.First(); it.Valid(); it.Next() {
			c.keys = append(c.keys, ids.String(it.Key()[len(store.PrefixProfile):]))
			c.buf = append(c.buf, it.Value()...)
			lens = append(lens, len(it.Value()))
			if len(lens) == loadChunkRecords && !flush() {
				break
			}
		}
		if readErr = it.Close(); readErr == nil && len(lens) > 0 {
			flush()
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				c.ps, c.sts = make([]*loaded, len(c.vals)), make([]*State, len(c.vals))
				for i, v := range c.vals {
					p, st, err := decodeProfile(v)
					if err != nil {
						c.err = fmt.Errorf("load profile %s: %w", c.keys[i], err)
						break
					}
					c.ps[i], c.sts[i] = p, st
				}
				c.vals = nil
				close(c.done)
			}
		}()
	}
	for c := range ordered {
		<-c.done
		if c.err != nil {
			err = c.err
			break
		}
		for i, id := range c.keys {
			put(id, c.ps[i], c.sts[i])
		}
	}
	close(stop) // the reader gives up a send it waits on
	wg.Wait()
	if err != nil {
		return err
	}
	return readErr
}
