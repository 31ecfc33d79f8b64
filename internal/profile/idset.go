package profile

import (
	"encoding/binary"
	"strings"

	"tailor/internal/event"
)

// idSet is a profile's identifiers packed into one string: per identifier a
// kind code byte, a uvarint length and the value, sorted by (kind, value),
// the order compareIdentifier gives.
//
// Why: as a []event.Identifier a profile's identifiers were one slice and
// one string per identifier, and with a million profiles the garbage
// collector marked all of them on every cycle. Packed they are one
// pointer-free object (BenchmarkGCWithProfiles: 7.2 heap objects per profile
// before). Values read out of it are substrings, so reading allocates
// nothing.
type idSet string

// Kind codes, in the order of the kinds' names, so that sorting by code
// sorts like the identifier keys "kind:value".
const (
	codeAnonymousID byte = iota
	codeEmail
	codePhone
	codeUserID
)

var kindByCode = [...]event.Kind{
	codeAnonymousID: event.KindAnonymousID,
	codeEmail:       event.KindEmail,
	codePhone:       event.KindPhone,
	codeUserID:      event.KindUserID,
}

func kindCode(k event.Kind) (byte, bool) {
	for i, c := range kindByCode {
		if c == k {
			return byte(i), true
		}
	}
	return 0, false
}

// next decodes the entry at the start of s and returns it and the rest.
// ok is false at the end (or on a malformed set, which insert never makes).
func (s idSet) next() (code byte, val string, rest idSet, ok bool) {
	if len(s) < 2 {
		return 0, "", "", false
	}
	l, n := uvarint(string(s[1:]))
	if n <= 0 || uint64(len(s)-1-n) < l {
		return 0, "", "", false
	}
	start := 1 + n
	return s[0], string(s[start : start+int(l)]), s[start+int(l):], true
}

// each calls fn for every identifier in order until fn returns false.
func (s idSet) each(fn func(code byte, val string) bool) {
	for {
		code, val, rest, ok := s.next()
		if !ok || !fn(code, val) {
			return
		}
		s = rest
	}
}

// has reports whether the set holds id.
func (s idSet) has(id event.Identifier) bool {
	code, ok := kindCode(id.Kind)
	if !ok {
		return false
	}
	found := false
	s.each(func(c byte, v string) bool {
		if c == code && v == id.Value {
			found = true
		}
		return !found && c <= code
	})
	return found
}

// countKind returns how many identifiers of kind code the set holds.
func (s idSet) countKind(code byte) int {
	n := 0
	s.each(func(c byte, _ string) bool {
		if c == code {
			n++
		}
		return c <= code
	})
	return n
}

// insert returns the set with id added (unchanged if present) and whether
// it was added. Unknown kinds are not added.
func (s idSet) insert(id event.Identifier) (idSet, bool) {
	code, ok := kindCode(id.Kind)
	if !ok {
		return s, false
	}
	pos := 0
	rest := s
	for {
		c, v, r, ok := rest.next()
		if !ok {
			break
		}
		if c > code || c == code && v >= id.Value {
			if c == code && v == id.Value {
				return s, false
			}
			break
		}
		pos = len(s) - len(r)
		rest = r
	}
	var b strings.Builder
	b.Grow(len(s) + 1 + binary.MaxVarintLen64 + len(id.Value))
	b.WriteString(string(s[:pos]))
	b.WriteByte(code)
	var l [binary.MaxVarintLen64]byte
	b.Write(l[:binary.PutUvarint(l[:], uint64(len(id.Value)))])
	b.WriteString(id.Value)
	b.WriteString(string(s[pos:]))
	return idSet(b.String()), true
}

// identities returns the set as identifiers (values share the set's memory).
func (s idSet) identities() []event.Identifier {
	var out []event.Identifier
	s.each(func(c byte, v string) bool {
		out = append(out, event.Identifier{Kind: kindByCode[c], Value: v})
		return true
	})
	return out
}

// uvarint is binary.Uvarint over a string (no conversion to []byte).
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, -(i + 1) // overflow
			}
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0
}
