package server

import "testing"

func TestGCPercent(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		live uint64
		want int
	}{
		{0, maxGCPercent},
		{10 * mb, maxGCPercent},   // tiny heap: 512 MB of headroom would be 5120%: capped
		{256 * mb, 200},           // 512 MB headroom
		{512 * mb, 100},           // 512 MB headroom
		{2048 * mb, minGCPercent}, // large store: half the live heap
	}
	for _, tt := range tests {
		if got := gcPercent(tt.live, 512*mb); got != tt.want {
			t.Errorf("gcPercent(%d MB) = %d, want %d", tt.live/mb, got, tt.want)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	const gb = 1 << 30
	tests := []struct {
		total, offHeap, want int64
	}{
		{0, 0, 0}, // unknown: no limit
		{24 * gb, 1536 << 20, 24*gb*8/10 - 1536<<20}, // a 24 GiB machine: 80 % less 1.5 GiB of cache and memtables (17.7 GiB)
		{2 * gb, 1536 << 20, 2 * gb / 4},             // a small box with the default cache: a quarter, not a negative
	}
	for _, tt := range tests {
		if got := memoryLimit(tt.total, tt.offHeap); got != tt.want {
			t.Errorf("memoryLimit(%d, %d) = %d, want %d", tt.total, tt.offHeap, got, tt.want)
		}
	}
}
