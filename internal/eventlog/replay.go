package eventlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// ReplayAll calls fn for every entry with seq > after, across all partitions,
// in seq order: the order in which they were appended and applied live.
func (l *Log) ReplayAll(ctx context.Context, after uint64, fn func(Entry) error) error {
	its := make([]*pebble.Iterator, 0, l.opts.Partitions)
	defer func() {
		for _, it := range its {
			it.Close()
		}
	}()
	for p := 0; p < l.opts.Partitions; p++ {
		it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: logKey(p, after+1), UpperBound: logKey(p+1, 0)})
		if err != nil {
			return err
		}
		its = append(its, it)
		it.First()
	}
	var buf []byte // decompressed values; an Entry's Value is valid only during fn
	// Partitions are few; a linear scan for the smallest head is cheaper than a heap.
	n := 0
	for {
		best, bestSeq := -1, uint64(0)
		for p, it := range its {
			if !it.Valid() {
				continue
			}
			if s := binary.BigEndian.Uint64(it.Key()[4:]); best < 0 || s < bestSeq {
				best, bestSeq = p, s
			}
		}
		if best < 0 {
			break
		}
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		v, own, err := l.codec.decode(buf, its[best].Value())
		if err != nil {
			return fmt.Errorf("eventlog: entry %d: %w", bestSeq, err)
		}
		if own {
			buf = v // reused for the next value, grown if it had to be
		}
		if err := fn(Entry{Partition: best, Seq: bestSeq, Value: v}); err != nil {
			return err
		}
		its[best].Next()
	}
	var errs []error
	for _, it := range its {
		errs = append(errs, it.Error())
	}
	return errors.Join(errs...)
}
