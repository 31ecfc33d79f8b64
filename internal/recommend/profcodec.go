package recommend

import (
	"encoding/binary"
	"encoding/json"
	"errors"
)

// profVersion leads every profile record written since the binary format.
// Records written before it are JSON objects, so they start with '{': Load
// reads both, and the next checkpoint of a profile writes it anew.
const profVersion = 1

// appendProf encodes p's history: version, then the views, carts and buys
// (each a uvarint count, then per touch the product id as uvarint length +
// bytes and the time as a varint), then the distinct purchases (count, then
// per purchase product id, count as float64 bits, first and last time as
// varints). Products are named through items (see appendItem).
//
// At 1 M profiles, decoding the JSON form was 13 of the 67 s a restart
// took, and encoding it a tenth of the checkpoint's CPU.
func appendProf(b []byte, p hist, items []*item) []byte {
	b = append(b, profVersion)
	for _, ts := range [...][]touch{p.views(), p.carts(), p.buys()} {
		b = binary.AppendUvarint(b, uint64(len(ts)))
		for _, t := range ts {
			b = appendString(b, items[t.Item].id)
			b = binary.AppendVarint(b, t.T)
		}
	}
	fr := p.freq()
	b = binary.AppendUvarint(b, uint64(len(fr)))
	for _, f := range fr {
		b = appendString(b, items[f.Item].id)
		b = appendFloat(b, f.N)
		b = binary.AppendVarint(b, f.First)
		b = binary.AppendVarint(b, f.Last)
	}
	return b
}

var errProfVersion = errors.New("unknown profile record version")

// decodeProf reads a profile record into r, reusing r's slices: either
// format (see profVersion).
func decodeProf(v []byte, r *profRecord) error {
	if len(v) > 0 && v[0] == '{' {
		*r = profRecord{}
		return json.Unmarshal(v, r)
	}
	if len(v) == 0 || v[0] != profVersion {
		return errProfVersion
	}
	rd := &itemReader{b: v[1:]}
	for _, ts := range [...]*[]touchRecord{&r.Views, &r.Carts, &r.Buys} {
		n := rd.count(2) // an id length and a time: two bytes at least
		*ts = (*ts)[:0]
		for range n {
			id := rd.str()
			*ts = append(*ts, touchRecord{id, rd.varint()})
		}
	}
	n := rd.count(11) // length, float64, two times
	r.Freq = r.Freq[:0]
	for range n {
		id := rd.str()
		f := boughtRecord{I: id, N: rd.f64()}
		f.First, f.Last = rd.varint(), rd.varint()
		r.Freq = append(r.Freq, f)
	}
	if rd.err != nil {
		return rd.err
	}
	if len(rd.b) > 0 {
		return errors.New("profile record has trailing bytes")
	}
	return nil
}

// count reads a count of elements of at least size bytes each, refusing
// one the rest of the record cannot hold (so a corrupt count cannot make
// the reader allocate or loop for nothing).
func (r *itemReader) count(size int) uint64 {
	n := r.uvarint()
	if n > uint64(len(r.b)/size) {
		r.fail()
		return 0
	}
	return n
}

func (r *itemReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}
