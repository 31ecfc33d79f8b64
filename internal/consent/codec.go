package consent

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"unsafe"
)

// recordVersion leads every consent record written since the binary
// format. Records written before it are JSON objects (a State), so they
// start with '{': Load reads both, and rewrites the JSON ones once.
const recordVersion = 1

// appendRecord encodes one profile's facts: version, State.Reach, the
// count, then per fact its kind, channel and purpose (by name, so that the
// lists can grow in any order), granted, time (unix nanos, varint) and
// text. At 1 M profiles, decoding the JSON form took 3.6 s of every start.
func appendRecord(b []byte, rs []rec) []byte {
	var reach uint8
	if len(rs) > 0 {
		reach = rs[0].reach
	}
	b = append(b, recordVersion, reach)
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for _, r := range rs {
		pur := ""
		if r.kind == kindConsent {
			pur = Purposes[r.pur]
		}
		var granted byte
		if r.granted {
			granted = 1
		}
		b = append(b, r.kind)
		b = appendStr(b, Channels[r.ch])
		b = appendStr(b, pur)
		b = append(b, granted)
		b = binary.AppendVarint(b, r.at)
		b = appendStr(b, r.text)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

var errRecord = errors.New("corrupt consent record")

// decodeRecord reads a record of either format, appending its facts to rs.
// Facts of a channel or purpose this version does not know are dropped, as
// the JSON form's were. The facts' texts may view v.
func (c *Consent) decodeRecord(rs []rec, v []byte) ([]rec, error) {
	if len(v) > 0 && v[0] == '{' {
		var s State
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, err
		}
		return append(rs, c.pack(&s)...), nil
	}
	if len(v) < 2 || v[0] != recordVersion {
		return nil, errRecord
	}
	reach, b := v[1], v[2:]
	n, k := binary.Uvarint(b)
	// A fact takes 7 bytes at least: a count no record can hold is corrupt.
	if k <= 0 || n > uint64(len(b)-k)/7 {
		return nil, errRecord
	}
	b = b[k:]
	for range n {
		if len(b) == 0 {
			return nil, errRecord
		}
		r := rec{kind: b[0]}
		var ch, pur, text []byte
		var ok bool
		if ch, b, ok = readStr(b[1:]); !ok {
			return nil, errRecord
		}
		if pur, b, ok = readStr(b); !ok || len(b) == 0 {
			return nil, errRecord
		}
		r.granted, b = b[0] == 1, b[1:]
		if r.at, k = binary.Varint(b); k <= 0 {
			return nil, errRecord
		}
		if text, b, ok = readStr(b[k:]); !ok {
			return nil, errRecord
		}
		if r.kind > kindPending {
			return nil, errRecord
		}
		ci, pi := slices.Index(Channels, string(ch)), 0
		if r.kind == kindConsent {
			pi = slices.Index(Purposes, string(pur))
		}
		if ci < 0 || pi < 0 {
			continue
		}
		r.ch, r.pur = uint8(ci), uint8(pi)
		if r.kind == kindSuppressed {
			r.text = unsafe.String(unsafe.SliceData(text), len(text)) // reason and address: one each
		} else {
			r.text = c.internBytes(text)
		}
		rs = append(rs, r)
	}
	if len(b) > 0 {
		return nil, errRecord
	}
	if len(rs) > 0 {
		rs[0].reach = reach
	}
	return slices.Clip(rs), nil
}

func readStr(b []byte) (s, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}
