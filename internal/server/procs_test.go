package server

import "testing"

func TestProcs(t *testing.T) {
	for _, tc := range []struct{ cpus, want int }{{0, 2}, {1, 2}, {2, 4}, {16, 32}} {
		if got := Procs(tc.cpus); got != tc.want {
			t.Errorf("Procs(%d) = %d, want %d", tc.cpus, got, tc.want)
		}
	}
}
