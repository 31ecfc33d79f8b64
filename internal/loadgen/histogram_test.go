package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	// Buckets tile the value range without gaps or overlaps.
	next := uint64(0)
	for i := 0; i < histBuckets; i++ {
		lo, hi := bucketBounds(i)
		if lo != next || hi < lo {
			t.Fatalf("bucket %d = [%d, %d], want it to start at %d", i, lo, hi, next)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d = [%d, %d] but bucketOf gives %d, %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if i >= 2*histSub && float64(hi-lo+1) > float64(lo)/histSub {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1/%d of its start", i, lo, hi, histSub)
		}
		next = hi + 1
	}
	if next != 0 { // wrapped: the last bucket ends at MaxUint64
		t.Fatalf("buckets end at %d, want MaxUint64", next-1)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func() time.Duration
	}{
		{"log-uniform 1µs..10s", func() time.Duration { return time.Duration(math.Exp(r.Float64()*math.Log(1e10/1e3)) * 1e3) }},
		{"normal around 3ms", func() time.Duration { return time.Duration(max(0, 3e6+r.NormFloat64()*5e5)) }},
		{"small exact values", func() time.Duration { return time.Duration(r.IntN(200)) }},
		{"bimodal", func() time.Duration {
			if r.IntN(100) == 0 {
				return time.Duration(40e6 + r.IntN(1e6))
			}
			return time.Duration(1e6 + r.IntN(1e5))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Three "workers" merged, as a run does.
			var hs [3]Histogram
			var ref []time.Duration
			for i := range 30001 {
				d := tc.gen()
				hs[i%3].Record(d)
				ref = append(ref, d)
			}
			slices.Sort(ref)
			snap := new(HistSnapshot)
			for i := range hs {
				part := hs[i].Snapshot()
				snap.Merge(part)
			}
			if snap.N != uint64(len(ref)) || time.Duration(snap.Max) != ref[len(ref)-1] || time.Duration(snap.Min) != ref[0] {
				t.Fatalf("N/min/max = %d/%d/%d, want %d/%d/%d", snap.N, snap.Min, snap.Max, len(ref), ref[0], ref[len(ref)-1])
			}
			for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
				rank := max(int(math.Ceil(q*float64(len(ref)))), 1)
				want := ref[rank-1]
				got := snap.Quantile(q)
				if diff := math.Abs(float64(got - want)); diff > float64(want)/histSub+1 {
					t.Errorf("q%.4f = %d, exact %d (off by %.2f%%)", q, got, want, 100*diff/float64(want))
				}
			}
			var sum time.Duration
			for _, d := range ref {
				sum += d
			}
			if mean := sum / time.Duration(len(ref)); snap.Mean() != mean {
				t.Errorf("mean %s, want %s", snap.Mean(), mean)
			}
		})
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	s := h.Snapshot()
	if s.Quantile(0.99) != 0 || s.Mean() != 0 || s.N != 0 {
		t.Fatalf("empty histogram: %+v", s.Quantile(0.99))
	}
	h.Record(-5)
	if s := h.Snapshot(); s.N != 1 || s.Max != 0 {
		t.Fatalf("negative duration not counted as 0: N %d max %d", s.N, s.Max)
	}
}

func TestHistogramRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Record(1234567) }); n != 0 {
		t.Fatalf("Record allocates %.1f times", n)
	}
}

func TestHistogramSince(t *testing.T) {
	var h Histogram
	for range 1000 {
		h.Record(time.Millisecond)
	}
	before := h.Snapshot()
	for range 99 {
		h.Record(2 * time.Millisecond)
	}
	h.Record(500 * time.Millisecond)
	d := h.Snapshot().Since(before)
	if d.N != 100 {
		t.Fatalf("interval holds %d observations, want 100", d.N)
	}
	// The whole run's p99 is still 1 ms-ish; the interval's is 2 ms and its
	// max the 500 ms outlier (within a bucket's width).
	if got := d.Quantile(0.5); got < 1960*time.Microsecond || got > 2040*time.Microsecond {
		t.Errorf("interval p50 = %v, want about 2ms", got)
	}
	if got := d.Max; got < uint64(490*time.Millisecond) || got > uint64(500*time.Millisecond) {
		t.Errorf("interval max = %v, want about 500ms", time.Duration(got))
	}
	if got := d.Min; got < uint64(1960*time.Microsecond) {
		t.Errorf("interval min = %v, want about 2ms", time.Duration(got))
	}
	if e := h.Snapshot().Since(h.Snapshot()); e.N != 0 || e.Quantile(0.99) != 0 {
		t.Errorf("empty interval: %+v", e.Quantile(0.99))
	}
}

// Over counts the observations above a threshold; one within a bucket's
// width of it counts by the bucket's midpoint, as Quantile reads it.
func TestHistogramOver(t *testing.T) {
	var h Histogram
	for _, ms := range []int{1, 2, 3, 30, 60, 60, 120} {
		h.Record(time.Duration(ms) * time.Millisecond)
	}
	s := h.Snapshot()
	for _, tc := range []struct {
		d    time.Duration
		want uint64
	}{
		{0, 7}, {2500 * time.Microsecond, 5}, {25 * time.Millisecond, 4}, {50 * time.Millisecond, 3},
		{100 * time.Millisecond, 1}, {time.Second, 0}, {-time.Second, 7},
	} {
		if got := s.Over(tc.d); got != tc.want {
			t.Errorf("over %s: %d, want %d", tc.d, got, tc.want)
		}
	}
	if got := (&HistSnapshot{}).Over(0); got != 0 {
		t.Errorf("an empty histogram: %d over 0", got)
	}
}
