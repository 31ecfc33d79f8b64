package recommend

import (
	"encoding/binary"
	"errors"
	"math"
)

// itemVersion leads every stored item record; a record of another version
// is refused by Load (change it with a migration: the log rebuilds the
// engine only when it has no state at all, see processor.Backfiller).
const itemVersion = 1

// appendItem encodes it: version, name, category, url, image (uvarint
// length + bytes), price, the three kind counts, trend and sold (value,
// time), the repurchase gaps, then per kind the neighbour count and each
// neighbour's id and count (float32 bits). Numbers are little-endian.
// Neighbours are named through items, the engine's items as of a
// checkpoint's pause (see CheckpointSplit).
func appendItem(b []byte, it *item, items []*item) []byte {
	b = append(b, itemVersion)
	for _, s := range [...]string{it.name, it.category, it.url, it.image} {
		b = appendString(b, s)
	}
	b = appendFloat(b, it.price)
	for _, n := range it.n {
		b = appendFloat(b, n)
	}
	b = appendFloat(b, it.trend.V)
	b = binary.LittleEndian.AppendUint64(b, uint64(it.trend.T))
	b = appendFloat(b, it.sold.V)
	b = binary.LittleEndian.AppendUint64(b, uint64(it.sold.T))
	b = appendFloat(b, it.gapSum)
	b = appendFloat(b, it.gapN)
	for k := range it.co {
		b = binary.AppendUvarint(b, uint64(len(it.co[k])))
		for _, oc := range it.co[k] {
			b = appendString(b, items[oc.o].id)
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(oc.c))
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

var errShort = errors.New("item record ends early")

// itemReader reads what appendItem wrote; the first error sticks.
type itemReader struct {
	b   []byte
	err error
}

func (r *itemReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *itemReader) fail() {
	if r.err == nil {
		r.err = errShort
	}
	r.b = nil
}

func (r *itemReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *itemReader) u64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *itemReader) f64() float64 { return math.Float64frombits(r.u64()) }

func (r *itemReader) f32() float32 {
	if len(r.b) < 4 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return math.Float32frombits(v)
}

// decodeItem reads an item record.
func decodeItem(v []byte) (itemRecord, error) {
	var rec itemRecord
	if len(v) == 0 || v[0] != itemVersion {
		return rec, errors.New("unknown item record version")
	}
	r := &itemReader{b: v[1:]}
	rec.Name, rec.Category, rec.URL, rec.Image = r.str(), r.str(), r.str(), r.str()
	rec.Price = r.f64()
	for k := range rec.N {
		rec.N[k] = r.f64()
	}
	rec.Trend = decayed{r.f64(), int64(r.u64())}
	rec.Sold = decayed{r.f64(), int64(r.u64())}
	rec.GapSum, rec.GapN = r.f64(), r.f64()
	for k := range rec.Co {
		n := r.uvarint()
		if n > uint64(len(r.b)) {
			r.fail()
			break
		}
		rec.Co[k] = make(map[string]float32, n)
		for range n {
			id := r.str()
			rec.Co[k][id] = r.f32()
		}
	}
	if r.err == nil && len(r.b) > 0 {
		return rec, errors.New("item record has trailing bytes")
	}
	return rec, r.err
}
