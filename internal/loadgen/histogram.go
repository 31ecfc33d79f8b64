package loadgen

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear: values below histSub are counted exactly, and
// every power-of-two range above is split into histSub linear buckets, so a
// bucket is never wider than 1/histSub of its lower bound (1.6% relative error).
// Values are nanoseconds; the top bucket covers the whole uint64 range.
const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	// bucketOf(MaxUint64) + 1: shift 57, top 127.
	histBuckets = (64-histSubBits-1)*histSub + 2*histSub
)

// Histogram records durations without allocating or locking. One writer (its
// worker) calls Record; any goroutine may call Snapshot concurrently and sees a
// consistent-enough view (each counter is read atomically).
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64 // nanoseconds; wraps after ~584 years of latency
	max    atomic.Uint64
	min    atomic.Uint64 // stored as ^v so that the zero value means "none"
}

func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	return shift*histSub + int(v>>uint(shift))
}

// bucketBounds returns the smallest and largest value counted in bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < 2*histSub {
		return uint64(i), uint64(i)
	}
	shift := i/histSub - 1
	top := uint64(i - shift*histSub)
	lo = top << uint(shift)
	return lo, lo + (1 << uint(shift)) - 1
}

// Record adds one observation. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	// Order matters: n is written last and read first by Add, so a reader that
	// counts an observation also sees its bucket, sum, min and max.
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
	for {
		m := h.min.Load()
		if ^v <= m || h.min.CompareAndSwap(m, ^v) {
			break
		}
	}
	h.sum.Add(v)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
}

// HistSnapshot is a point-in-time copy of one or more merged histograms.
type HistSnapshot struct {
	Counts [histBuckets]uint64
	N      uint64
	Sum    uint64
	Max    uint64
	Min    uint64 // 0 when N == 0
}

// Snapshot returns a copy of h.
func (h *Histogram) Snapshot() *HistSnapshot {
	s := new(HistSnapshot)
	s.Add(h)
	return s
}

// Add merges h into s.
func (s *HistSnapshot) Add(h *Histogram) {
	n := h.n.Load() // first: see Record
	if n == 0 {
		return
	}
	for i := range h.counts {
		s.Counts[i] += h.counts[i].Load()
	}
	hmin := ^h.min.Load()
	if s.N == 0 || hmin < s.Min {
		s.Min = hmin
	}
	s.N += n
	s.Sum += h.sum.Load()
	s.Max = max(s.Max, h.max.Load())
}

// Merge adds o into s.
func (s *HistSnapshot) Merge(o *HistSnapshot) {
	for i := range o.Counts {
		s.Counts[i] += o.Counts[i]
	}
	if o.N == 0 {
		return
	}
	if s.N == 0 || o.Min < s.Min {
		s.Min = o.Min
	}
	s.N += o.N
	s.Sum += o.Sum
	s.Max = max(s.Max, o.Max)
}

// Quantile returns the value at quantile q (0..1): the midpoint of the bucket
// holding the observation of rank ceil(q*N), clamped to [Min, Max]. It is
// within 1/64 of the exact order statistic.
func (s *HistSnapshot) Quantile(q float64) time.Duration {
	if s.N == 0 {
		return 0
	}
	rank := uint64(q * float64(s.N))
	if float64(rank) < q*float64(s.N) {
		rank++
	}
	rank = min(max(rank, 1), s.N)
	var seen uint64
	for i, c := range s.Counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketBounds(i)
			v := lo + (hi-lo)/2
			return time.Duration(min(max(v, s.Min), s.Max))
		}
	}
	return time.Duration(s.Max)
}

// Over returns how many observations exceed d, each taken as its bucket's
// midpoint, as Quantile reads them (so within 1/64 of d either way).
func (s *HistSnapshot) Over(d time.Duration) uint64 {
	var n uint64
	for i, c := range s.Counts {
		if lo, hi := bucketBounds(i); c > 0 && lo+(hi-lo)/2 > uint64(max(d, 0)) {
			n += c
		}
	}
	return n
}

// Mean returns the average observation.
func (s *HistSnapshot) Mean() time.Duration {
	if s.N == 0 {
		return 0
	}
	return time.Duration(s.Sum / s.N)
}

// Since returns the observations s holds that prev (an earlier snapshot of
// the same histograms) did not: what happened in between. N is the sum of
// the buckets' differences (the counters of a snapshot are read one by one,
// so s.N-prev.N may disagree with them by a few); Min and Max are those of
// the buckets the interval's observations fell in, clamped to s's.
func (s *HistSnapshot) Since(prev *HistSnapshot) *HistSnapshot {
	d := new(HistSnapshot)
	lo, hi := -1, -1
	for i := range s.Counts {
		c := s.Counts[i] - prev.Counts[i]
		d.Counts[i] = c
		d.N += c
		if c > 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if lo < 0 {
		return d
	}
	d.Sum = s.Sum - prev.Sum
	d.Min, _ = bucketBounds(lo)
	_, d.Max = bucketBounds(hi)
	d.Min, d.Max = max(d.Min, s.Min), min(d.Max, s.Max)
	return d
}
