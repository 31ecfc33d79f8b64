package segment

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// The index's events are persisted at every checkpoint, in the same batch
// as the processor's applied seq, so a restart reads them back instead of
// decoding the whole log again (21 M events took minutes; reading the
// columns takes seconds). Keyspace si/:
//
//	si/m                              -> meta: streams and their columns, in creation order (JSON)
//	si/p<stream:4><page:4>            -> rows [page*pageRows, …) of a stream
//	si/d<stream:4><column:4><block:4> -> dictionary entries [block*dictBlock, …) of a column
//
// Rows and dictionary entries are append-only: a full page or block is
// written once; the last, partial one is rewritten until it fills up.
// prev, heads and the per-profile aggregates are derived again at load.
const (
	pageRows     = 4096
	dictBlock    = 4096
	indexVersion = 2 // 2: array columns share their item offsets
)

type indexMeta struct {
	Version int          `json:"v"`
	Streams []streamMeta `json:"streams"`
}

type streamMeta struct {
	Key  string    `json:"key"`
	Cols []colMeta `json:"cols"`
}

type colMeta struct {
	Path    string `json:"path"`
	Multi   bool   `json:"multi,omitempty"`
	Dropped bool   `json:"dropped,omitempty"` // identifier-like, values not kept
}

var metaKey = store.Key(store.PrefixIndex, "m")

func pageKey(stream, page int) []byte {
	k := store.Key(store.PrefixIndex, "p")
	k = binary.BigEndian.AppendUint32(k, uint32(stream))
	return binary.BigEndian.AppendUint32(k, uint32(page))
}

func dictKey(stream, col, block int) []byte {
	k := store.Key(store.PrefixIndex, "d")
	k = binary.BigEndian.AppendUint32(k, uint32(stream))
	k = binary.BigEndian.AppendUint32(k, uint32(col))
	return binary.BigEndian.AppendUint32(k, uint32(block))
}

// checkpointStreams writes the rows and dictionary entries added since the
// last checkpoint. Caller holds ix.mu.
func (e *Engine) checkpointStreams(b *pebble.Batch) error {
	ix := e.ix
	changed := ix.staleColumns
	if ix.staleColumns {
		if err := b.DeleteRange([]byte(store.PrefixIndex), store.UpperBound(store.PrefixIndex), nil); err != nil {
			return err
		}
		ix.staleColumns = false
	}
	// One buffer for every record: the batch copies what it is given, and
	// each checkpoint rewrites each stream's last page and dictionary block,
	// which made them most of what a checkpoint allocated.
	var buf []byte
	for _, s := range ix.streamOrd {
		if s.saved == s.n {
			continue
		}
		changed = true
		for page := s.saved / pageRows; page*pageRows < s.n; page++ {
			buf = s.appendPage(buf[:0], page)
			if err := b.Set(pageKey(s.num, page), buf, nil); err != nil {
				return err
			}
		}
		s.saved = s.n
		for _, c := range s.colOrder {
			if c.dropped {
				if !c.droppedSeen {
					if err := b.DeleteRange(dictKey(s.num, c.num, 0), dictKey(s.num, c.num+1, 0), nil); err != nil {
						return err
					}
					c.droppedSeen = true
				}
				continue
			}
			for blk := c.savedDict / dictBlock; blk*dictBlock < c.dict.len(); blk++ {
				buf = c.dict.appendBlock(buf[:0], blk)
				if err := b.Set(dictKey(s.num, c.num, blk), buf, nil); err != nil {
					return err
				}
			}
			c.savedDict = c.dict.len()
		}
	}
	if !changed {
		return nil
	}
	m := indexMeta{Version: indexVersion}
	for _, s := range ix.streamOrd {
		sm := streamMeta{Key: s.key}
		for _, c := range s.colOrder {
			sm.Cols = append(sm.Cols, colMeta{Path: c.path, Multi: c.multi, Dropped: c.dropped})
		}
		m.Streams = append(m.Streams, sm)
	}
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return b.Set(metaKey, v, nil)
}

// appendPage appends the encoding of the rows of one page to v: for each
// row its ordinal and time, the revenue of an order, then per column the
// row's value ids.
func (s *stream) appendPage(v []byte, page int) []byte {
	lo, hi := page*pageRows, min((page+1)*pageRows, s.n)
	v = binary.AppendUvarint(v, uint64(hi-lo))
	for r := lo; r < hi; r++ {
		v = binary.AppendUvarint(v, uint64(s.ord.get(r)))
		v = binary.AppendUvarint(v, uint64(s.ts.get(r)))
	}
	if len(s.rev.chunks) > 0 {
		v = append(v, 1)
		for r := lo; r < hi; r++ {
			v = binary.AppendVarint(v, s.rev.get(r))
		}
	} else {
		v = append(v, 0)
	}
	v = binary.AppendUvarint(v, uint64(len(s.colOrder)))
	for _, c := range s.colOrder {
		// A dropped column's rows are left out; a page written before the
		// drop still holds them, and loading skips them (decodePage).
		if c.dropped {
			v = append(v, 0)
			continue
		}
		v = append(v, 1)
		for r := lo; r < hi; r++ {
			if !c.multi {
				v = binary.AppendUvarint(v, uint64(c.get(r)))
				continue
			}
			a, z := c.span(r)
			v = binary.AppendUvarint(v, uint64(z-a))
			for k := a; k < z; k++ {
				id := c.mvals.get(int(k))
				v = binary.AppendUvarint(v, uint64(id))
			}
		}
	}
	return v
}

// appendBlock appends the encoding of dictionary entries
// [blk*dictBlock, …) to v.
func (d *dict) appendBlock(v []byte, blk int) []byte {
	for id := blk*dictBlock + 1; id <= min((blk+1)*dictBlock, d.len()); id++ {
		if d.kinds[id-1] == kindString { // most entries: read in place, not boxed by value
			v = appendStringEntry(v, d.str(uint32(id-1)))
			continue
		}
		switch x := d.value(uint32(id)).(type) {
		case string: // times and digit strings, formatted
			v = appendStringEntry(v, x)
		case float64:
			v = append(v, 'n')
			v = binary.BigEndian.AppendUint64(v, math.Float64bits(x))
		case bool:
			if x {
				v = append(v, 't')
			} else {
				v = append(v, 'f')
			}
		default:
			j, _ := json.Marshal(x)
			v = append(v, 'j')
			v = binary.AppendUvarint(v, uint64(len(j)))
			v = append(v, j...)
		}
	}
	return v
}

func appendStringEntry(v []byte, x string) []byte {
	v = append(v, 's')
	v = binary.AppendUvarint(v, uint64(len(x)))
	return append(v, x...)
}

var errCorruptIndex = errors.New("segment index: corrupt record")

// reader decodes varints from a record, remembering the first error.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) uvarint() uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) varint() int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) bytes(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.err = true
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// loadStreams reads the persisted event columns; found is false when the
// store has none (a data directory from before the index was persisted).
// Caller holds ix.mu; ordinals are loaded.
func (e *Engine) loadStreams(db *pebble.DB) (found bool, err error) {
	ix := e.ix
	v, closer, err := db.Get(metaKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var m indexMeta
	err = json.Unmarshal(v, &m)
	closer.Close()
	if err != nil {
		return false, fmt.Errorf("segment index meta: %w", err)
	}
	if m.Version != indexVersion {
		return false, nil // rebuilt from the log
	}
	for i, sm := range m.Streams {
		s := &stream{ix: ix, key: sm.Key, num: i, tup: &tuples{}}
		for _, cm := range sm.Cols {
			c := s.column(cm.Path, cm.Multi)
			if c == nil {
				return false, fmt.Errorf("segment index: stream %q has too many columns", sm.Key)
			}
			c.dropped, c.droppedSeen = cm.Dropped, cm.Dropped
			if c.dropped && c.tup != nil {
				s.retuple(c)
			}
		}
		ix.streams[sm.Key] = s
		ix.streamOrd = append(ix.streamOrd, s)
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: store.Key(store.PrefixIndex, "d"), UpperBound: store.Key(store.PrefixIndex, "e")})
	if err != nil {
		return false, err
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(store.PrefixIndex)+1:]
		if len(k) != 12 {
			it.Close()
			return false, errCorruptIndex
		}
		sn, cn, blk := int(binary.BigEndian.Uint32(k)), int(binary.BigEndian.Uint32(k[4:])), int(binary.BigEndian.Uint32(k[8:]))
		if sn >= len(ix.streamOrd) || cn >= len(ix.streamOrd[sn].colOrder) {
			it.Close()
			return false, errCorruptIndex
		}
		c := ix.streamOrd[sn].colOrder[cn]
		if c.dropped {
			continue
		}
		if c.dict.len() != blk*dictBlock {
			it.Close()
			return false, fmt.Errorf("segment index: dictionary block %d of %q out of order", blk, c.path)
		}
		if err := c.dict.decodeBlock(it.Value()); err != nil {
			it.Close()
			return false, err
		}
		c.savedDict = c.dict.len()
	}
	if err := it.Close(); err != nil {
		return false, err
	}
	it, err = db.NewIter(&pebble.IterOptions{LowerBound: store.Key(store.PrefixIndex, "p"), UpperBound: store.Key(store.PrefixIndex, "q")})
	if err != nil {
		return false, err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(store.PrefixIndex)+1:]
		if len(k) != 8 {
			return false, errCorruptIndex
		}
		sn, page := int(binary.BigEndian.Uint32(k)), int(binary.BigEndian.Uint32(k[4:]))
		if sn >= len(ix.streamOrd) || ix.streamOrd[sn].n != page*pageRows {
			return false, fmt.Errorf("segment index: page %d of stream %d out of order", page, sn)
		}
		if err := ix.streamOrd[sn].decodePage(it.Value(), ix.nords()); err != nil {
			return false, err
		}
	}
	for _, s := range ix.streamOrd {
		s.saved = s.n
		ix.derive(s)
	}
	return true, nil
}

func (d *dict) decodeBlock(b []byte) error {
	r := reader{b: b}
	for len(r.b) > 0 && !r.err {
		t := r.bytes(1)
		if r.err {
			break
		}
		var x any
		switch t[0] {
		case 's':
			x = string(r.bytes(r.uvarint()))
		case 'n':
			b := r.bytes(8)
			if r.err {
				return errCorruptIndex
			}
			x = math.Float64frombits(binary.BigEndian.Uint64(b))
		case 't':
			x = true
		case 'f':
			x = false
		case 'j':
			if json.Unmarshal(r.bytes(r.uvarint()), &x) != nil {
				return errCorruptIndex
			}
		default:
			return errCorruptIndex
		}
		if r.err {
			break
		}
		d.id(x)
	}
	if r.err {
		return errCorruptIndex
	}
	return nil
}

// decodePage appends the rows of one page; ords must be below nords.
func (s *stream) decodePage(b []byte, nords int) error {
	r := reader{b: b}
	rows := int(r.uvarint())
	if rows > pageRows || r.err {
		return errCorruptIndex
	}
	base := s.n
	for i := range rows {
		o, t := r.uvarint(), r.uvarint()
		if o >= uint64(nords) || t > math.MaxUint32 {
			return errCorruptIndex
		}
		s.ord.set(base+i, uint32(o))
		s.ts.set(base+i, uint32(t))
	}
	if flag := r.bytes(1); !r.err && flag[0] == 1 {
		for i := range rows {
			s.rev.set(base+i, r.varint())
		}
	}
	ncols := int(r.uvarint())
	if ncols > len(s.colOrder) {
		return errCorruptIndex
	}
	// Tuple columns are read whole first, then each row's combination
	// interned, as appending it did.
	var tupled [][]uint32
	if s.tup != nil {
		tupled = make([][]uint32, len(s.tup.cols))
	}
	for _, c := range s.colOrder[:ncols] {
		flag := r.bytes(1)
		if r.err || flag[0] > 1 {
			return errCorruptIndex
		}
		if flag[0] == 0 {
			continue // not written: dropped (or for an array, no rows to set)
		}
		keep := !c.dropped
		n := uint64(c.dict.len())
		if !keep {
			n = math.MaxUint32
		}
		for i := range rows {
			if !c.multi {
				id := r.uvarint()
				if id > n {
					return errCorruptIndex
				}
				switch {
				case !keep:
				case c.tup != nil:
					if tupled[c.slot] == nil {
						tupled[c.slot] = make([]uint32, rows)
					}
					tupled[c.slot][i] = uint32(id)
				default:
					c.vals.set(base+i, uint32(id))
				}
				continue
			}
			// Every column of an array writes the row's item count; the
			// first one read sets the array's offsets, the others must agree.
			cnt := r.uvarint()
			if cnt > pageRows*64 {
				return errCorruptIndex
			}
			a, row := c.arr, base+i
			if a.rows <= row && cnt > 0 {
				a.catchUp(row)
				a.items += int(cnt)
				a.ends.set(row, uint32(a.items))
				a.rows = row + 1
			}
			lo, hi := a.span(row)
			if uint64(hi-lo) != cnt {
				return errCorruptIndex
			}
			for k := range uint32(cnt) {
				id := r.uvarint()
				if id > n {
					return errCorruptIndex
				}
				if id != 0 && keep {
					c.mvals.set(int(lo+k), uint32(id))
				}
			}
		}
	}
	if r.err || len(r.b) != 0 {
		return errCorruptIndex
	}
	var cols []*column
	if s.tup != nil {
		cols = s.tup.cols
	}
	for i := range rows {
		if s.tup == nil && tupled != nil {
			// Untupled at a row of this page: the rest go to the columns.
			for slot, ids := range tupled {
				if ids != nil && ids[i] != 0 {
					cols[slot].vals.set(base+i, ids[i])
				}
			}
			continue
		}
		if s.tup == nil {
			break
		}
		for slot, ids := range tupled {
			if ids != nil {
				s.tup.cur[slot] = ids[i]
			}
		}
		s.n = base + i + 1
		s.endRow(base + i)
	}
	s.n = base + rows
	for _, a := range s.arrays {
		s.compactItems(a)
	}
	return nil
}

// derive rebuilds what the persisted columns imply: the per-profile chains
// of a stream and the profiles' aggregates. Caller holds ix.mu; canon is
// loaded.
func (ix *Index) derive(s *stream) {
	for ci := range s.n >> vecShift {
		s.sortChunk(ci)
	}
	order := s.key == "Order Completed"
	system := systemEvents[s.key]
	for row := range s.n {
		o, ts := s.ord.get(row), s.ts.get(row)
		s.link(row, o)
		if ts > ix.maxTs {
			ix.maxTs = ts
		}
		if system {
			continue
		}
		c := int(ix.canon[o])
		ix.events.set(c, ix.events.get(c)+1)
		minTime(&ix.first, uint32(c), ts+1)
		maxTime(&ix.last, uint32(c), ts+1)
		if order {
			ix.orders.set(c, ix.orders.get(c)+1)
			ix.spend.set(c, ix.spend.get(c)+s.rev.get(row))
			minTime(&ix.firstOrder, uint32(c), ts+1)
			maxTime(&ix.lastOrder, uint32(c), ts+1)
		}
	}
}
