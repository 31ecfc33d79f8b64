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
