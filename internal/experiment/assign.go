package experiment

import "math/bits"

// Assign picks a variant for unit in the experiment salted with salt: the
// index into weights, or -1 when the weights sum to zero. It is a pure
// function of its arguments, so the same unit always gets the same variant
// for as long as salt and weights stay the same, on every node, with no
// stored state.
//
// How: a 64-bit FNV-1a hash of salt, a zero byte and unit, finished with the
// SplitMix64 mixer so that every output bit depends on every input bit (FNV
// alone is weak in its high bits for inputs that differ at the end, such as
// sequential user ids), is scaled onto [0, total) by a 64×64→128-bit
// multiply (no modulo bias), and variant i owns the range
// [w₀+…+wᵢ₋₁, w₀+…+wᵢ).
//
// What stays stable when the weights change: a unit keeps its variant
// exactly when its point stays inside that variant's range, so
//   - keeping the total fixed and moving weight from the last variant to a
//     new one appended after it moves only units of the last variant, and
//     only to the new one (plan a total such as 10000 and a last "reserve"
//     variant, or grow the new one out of the old last one);
//   - changing the total, or weights in the middle, reshuffles units.
//
// The salt is per experiment, so assignments of different experiments are
// independent. The cost is a few nanoseconds per byte, with no allocation.
func Assign(salt, unit string, weights []uint32) int {
	var total uint64
	for _, w := range weights {
		total += uint64(w)
	}
	if total == 0 {
		return -1
	}
	point, _ := bits.Mul64(Hash(salt, unit), total)
	var acc uint64
	for i, w := range weights {
		acc += uint64(w)
		if point < acc {
			return i
		}
	}
	return len(weights) - 1 // unreachable: point < total
}

// Hash is the 64-bit hash Assign places units with: FNV-1a over
// salt + "\x00" + unit, then the SplitMix64 finalizer.
func Hash(salt, unit string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(salt); i++ {
		h ^= uint64(salt[i])
		h *= prime
	}
	h *= prime // the zero separator: "ab"+"c" and "a"+"bc" differ
	for i := 0; i < len(unit); i++ {
		h ^= uint64(unit[i])
		h *= prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
