package eventlog

import (
	"bytes"
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"
)

// Pointer locates one event of a timeline.
type Pointer struct {
	Partition int
	Seq       uint64
	TsNanos   int64
}

// Timeline returns up to limit pointers to events filed under any of the
// identifier keys, newest first by (event time, seq), strictly older than
// (beforeTs, beforeSeq) when beforeSeq > 0. Each identifier's range is read
// backwards and the ranges merged, so a profile's timeline needs no rewrite
// when identity resolution merges two profiles.
func (l *Log) Timeline(identifiers []string, beforeTs int64, beforeSeq uint64, limit int) ([]Pointer, error) {
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
