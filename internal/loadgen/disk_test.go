package loadgen

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// The disk probe syncs overwrites in each phase, a writer's phase writes
// at about its rate, and no file of the probe is left behind. (A writer at
// full speed differs only in not sleeping; it would write hundreds of MB
// here.)
func TestDiskProbe(t *testing.T) {
	dir := t.TempDir()
	phases, err := RunDisk(context.Background(), DiskConfig{Dir: dir, Duration: 300 * time.Millisecond, Beside: []float64{0, 20, 60}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(phases) != 3 {
		t.Fatalf("%d phases, want 3", len(phases))
	}
	for i, ph := range phases {
		h := ph.Fsyncs
		if h.N < 10 {
			t.Errorf("phase %d: %d fsyncs in %s", i, h.N, ph.Elapsed)
		}
		if h.Quantile(0.5) > h.Quantile(1) || h.Over(0) != h.N || h.Over(time.Hour) != 0 {
			t.Errorf("phase %d: p50 %s max %s, over 0 %d, over an hour %d", i, h.Quantile(0.5), h.Quantile(1), h.Over(0), h.Over(time.Hour))
		}
	}
	if phases[0].Written != 0 {
		t.Errorf("the phase without a writer wrote %d bytes", phases[0].Written)
	}
	// 20 MB/s for 0.3 s is 6 MB; a chunk of slack either way.
	if w := phases[1].Written; w < 4<<20 || w > 8<<20 {
		t.Errorf("the writer at 20 MB/s wrote %d bytes in %s", w, phases[1].Elapsed)
	}
	if phases[2].Written <= phases[1].Written {
		t.Errorf("the writer at 60 MB/s wrote %d bytes, the one at 20 MB/s %d", phases[2].Written, phases[1].Written)
	}
	if !strings.Contains(phases[2].String(), "beside a writer at 60 MB/s: ") || !strings.Contains(phases[0].String(), "alone: ") {
		t.Errorf("reports %q, %q", phases[0].String(), phases[2].String())
	}
	left, err := os.ReadDir(dir)
	if err != nil || len(left) != 0 {
		t.Errorf("left behind: %v (%v)", left, err)
	}
}

func TestParseBeside(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []float64
		bad  bool
	}{
		{in: "0,50,full", want: []float64{0, 50, -1}},
		{in: " 12.5 , max", want: []float64{12.5, -1}},
		{in: "-3", bad: true},
		{in: "fast", bad: true},
		{in: "NaN", bad: true},
		{in: "Inf", bad: true},
		{in: "10,", bad: true},
		{in: "10abc", bad: true},
	} {
		got, err := ParseBeside(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: parsed as %v", tc.in, got)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}

// An interrupted probe stops at the phase it was in and says so.
func TestDiskProbeInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	phases, err := RunDisk(ctx, DiskConfig{Dir: t.TempDir(), Duration: time.Minute, Beside: []float64{0, 0, 0}}, nil)
	if err == nil || len(phases) != 1 || time.Since(start) > 20*time.Second {
		t.Fatalf("%d phases, error %v, after %s: want the first phase cut short and the error", len(phases), err, time.Since(start))
	}
}
