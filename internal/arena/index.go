package arena

import (
	"hash/maphash"
	"iter"
	"strings"
)

// StrIndex maps strings to numbers (an index, a Ref) with no pointer per
// entry, for the large per-profile tables (an experiment's units, consent's
// records, by profile id): the map is keyed
// by a 64-bit hash of the string, and the entry names the string, kept in a
// Bytes, so that a look-up checks it; strings whose hash slot another string
// holds go to a small overflow map.
//
// Why: a map[string]int32 of a million entries is a million string pointers
// for every collection to follow.
//
// The zero value is ready to use. A StrIndex is not safe for concurrent use.
type StrIndex[V ~int32 | ~uint64] struct {
	seed     maphash.Seed
	byHash   map[uint64]strEntry[V]
	overflow map[string]V
	keys     Bytes
	// Hash replaces maphash when set: tests make strings collide.
	Hash func(string) uint64
}

type strEntry[V ~int32 | ~uint64] struct {
	key Ref
	val V
}

func (x *StrIndex[V]) hash(k string) uint64 {
	if x.Hash != nil {
		return x.Hash(k)
	}
	if x.byHash == nil {
		x.seed = maphash.MakeSeed()
		x.byHash = map[uint64]strEntry[V]{}
	}
	return maphash.String(x.seed, k)
}

// Collisions is how many strings sit in the overflow map, their hash slot
// taken by another string.
func (x *StrIndex[V]) Collisions() int { return len(x.overflow) }

// Len is the number of strings indexed.
func (x *StrIndex[V]) Len() int { return len(x.byHash) + len(x.overflow) }

// Get returns k's value.
func (x *StrIndex[V]) Get(k string) (V, bool) {
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
func (x *StrIndex[V]) Set(k string, v V) {
	if _, ok := x.overflow[k]; ok {
		x.overflow[k] = v
		return
	}
	h := x.hash(k)
	if x.byHash == nil {
		x.byHash = map[uint64]strEntry[V]{}
	}
	if e, ok := x.byHash[h]; ok {
		if x.keys.String(e.key) == k {
			x.byHash[h] = strEntry[V]{e.key, v}
			return
		}
		if x.overflow == nil {
			x.overflow = map[string]V{}
		}
		x.overflow[strings.Clone(k)] = v
		return
	}
	r, dst := x.keys.Alloc(len(k))
	copy(dst, k)
	x.byHash[h] = strEntry[V]{r, v}
}

// Delete removes k.
func (x *StrIndex[V]) Delete(k string) {
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
// the index's chunks: clone one to keep it. The loop may Set the string it
// is given.
func (x *StrIndex[V]) All() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
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
func (x *StrIndex[V]) Compact() {
	x.keys.Compact(func(move func(Ref) Ref) {
		for h, e := range x.byHash {
			x.byHash[h] = strEntry[V]{move(e.key), e.val}
		}
	})
}
