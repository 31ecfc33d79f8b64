package arena

import (
	"hash/maphash"
	"iter"
	"strings"
)

// StrIndex maps strings to int32s with no pointer per entry, for the large
// per-profile tables (an experiment's units by profile id): the map is keyed
// by a 64-bit hash of the string, and the entry names the string, kept in a
// Bytes, so that a look-up checks it; strings whose hash slot another string
// holds go to a small overflow map.
//
// Why: a map[string]int32 of a million entries is a million string pointers
// for every collection to follow.
//
// The zero value is ready to use. A StrIndex is not safe for concurrent use.
type StrIndex struct {
	seed     maphash.Seed
	byHash   map[uint64]strEntry
	overflow map[string]int32
	keys     Bytes
	// Hash replaces maphash when set: tests make strings collide.
	Hash func(string) uint64
}

type strEntry struct {
	key Ref
	val int32
}

func (x *StrIndex) hash(k string) uint64 {
	if x.Hash != nil {
		return x.Hash(k)
	}
	if x.byHash == nil {
		x.seed = maphash.MakeSeed()
		x.byHash = map[uint64]strEntry{}
	}
	return maphash.String(x.seed, k)
}

// Len is the number of strings indexed.
func (x *StrIndex) Len() int { return len(x.byHash) + len(x.overflow) }

// Get returns k's value.
func (x *StrIndex) Get(k string) (int32, bool) {
	if x.Len() == 0 {
		return 0, false
	}
	if e, ok := x.byHash[x.hash(k)]; ok && x.keys.String(e.key) == k {
		return e.val, true
	}
	v, ok := x.overflow[k]
	return v, ok
}

// Set sets k's value.
func (x *StrIndex) Set(k string, v int32) {
	if _, ok := x.overflow[k]; ok {
		x.overflow[k] = v
		return
	}
	h := x.hash(k)
	if x.byHash == nil {
		x.byHash = map[uint64]strEntry{}
	}
	if e, ok := x.byHash[h]; ok {
		if x.keys.String(e.key) == k {
			x.byHash[h] = strEntry{e.key, v}
			return
		}
		if x.overflow == nil {
			x.overflow = map[string]int32{}
		}
		x.overflow[strings.Clone(k)] = v
		return
	}
	r, dst := x.keys.Alloc(len(k))
	copy(dst, k)
	x.byHash[h] = strEntry{r, v}
}

// Delete removes k.
func (x *StrIndex) Delete(k string) {
	if x.Len() == 0 {
		return
	}
	h := x.hash(k)
	if e, ok := x.byHash[h]; ok && x.keys.String(e.key) == k {
		x.keys.Free(e.key)
		delete(x.byHash, h)
		return
	}
	delete(x.overflow, k)
}

// All yields every string and its value, in no order. The strings view
// the index's chunks: clone one to keep it.
func (x *StrIndex) All() iter.Seq2[string, int32] {
	return func(yield func(string, int32) bool) {
		for _, e := range x.byHash {
			if !yield(x.keys.String(e.key), e.val) {
				return
			}
		}
		for k, v := range x.overflow {
			if !yield(k, v) {
				return
			}
		}
	}
}

// Compact reclaims what deleted strings leave in the chunks (Bytes.Compact).
func (x *StrIndex) Compact() {
	x.keys.Compact(func(move func(Ref) Ref) {
		for h, e := range x.byHash {
			x.byHash[h] = strEntry{move(e.key), e.val}
		}
	})
}
