package segment

import (
	"strconv"
	"strings"
	"testing"
)

// BenchmarkDictInternHit looks up ids that are in a dictionary of a million
// profile ids, in an order that defeats the caches, as Apply does for the
// values of each event. The values looked up are copied, in the order of
// the look-ups, into memory of their own read in sequence, as an event's
// values are at hand when the processor interns them: the random reads
// measured are the dictionary's own.
func BenchmarkDictInternHit(b *testing.B) {
	const n, m = 1 << 20, 1 << 16
	var d dict
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "p_" + strconv.FormatUint(uint64(i)*2654435761%1000000007, 16) + "-4f1c-9a2e"
		d.intern(kindString, ids[i], 0)
	}
	var buf strings.Builder
	for i := range m {
		buf.WriteString(ids[(i*7919)&(n-1)])
	}
	all, keys := buf.String(), make([]string, m)
	for i, off := 0, 0; i < m; i++ {
		l := len(ids[(i*7919)&(n-1)])
		keys[i], off = all[off:off+l], off+l
	}
	i := 0
	for b.Loop() {
		d.intern(kindString, keys[i&(m-1)], 0)
		i++
	}
}
