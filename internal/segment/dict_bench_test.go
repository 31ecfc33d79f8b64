package segment

import (
	"strconv"
	"testing"
)

// BenchmarkDictInternHit looks up ids that are in a dictionary of a million
// profile ids, in an order that defeats the caches, as Apply does for the
// profile of each event.
func BenchmarkDictInternHit(b *testing.B) {
	const n = 1 << 20
	var d dict
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "p_" + strconv.FormatUint(uint64(i)*2654435761%1000000007, 16) + "-4f1c-9a2e"
		d.intern(kindString, ids[i], 0)
	}
	i := 0
	for b.Loop() {
		d.intern(kindString, ids[(i*7919)&(n-1)], 0)
		i++
	}
}
