package recommend

import (
	"math/rand/v2"
	"testing"
)

func TestSizeClassesAreContiguousAndTight(t *testing.T) {
	prevClass, prevCap := -1, 0
	for n := 1; n <= 1<<16; n++ {
		class, c := sizeClass(n)
		if c < n || (n > 8 && 4*c > 5*n+4*c/8) {
			t.Fatalf("n %d: capacity %d", n, c)
		}
		switch {
		case c == prevCap && class != prevClass:
			t.Fatalf("n %d: capacity %d in class %d and %d", n, c, prevClass, class)
		case c != prevCap && class != prevClass+1:
			t.Fatalf("n %d: class %d after %d: classes must be contiguous", n, class, prevClass)
		}
		if again, c2 := sizeClass(c); again != class || c2 != c {
			t.Fatalf("a class's own capacity %d is in class %d (cap %d), want %d", c, again, c2, class)
		}
		prevClass, prevCap = class, c
	}
}

// TestTouchPoolArraysNeverOverlap allocates, writes, frees and reuses
// arrays at random and checks that every live array keeps what was written
// to it, and the accounting.
func TestTouchPoolArraysNeverOverlap(t *testing.T) {
	p := newTouchPool()
	type arr struct {
		s    span
		n    int
		mark int32
	}
	var live []arr
	rnd := rand.New(rand.NewPCG(1, 2))
	used, peak, big := 0, 0, 0
	for step := range 20000 {
		if len(live) > 300 || len(live) > 0 && rnd.IntN(2) == 0 {
			i := rnd.IntN(len(live))
			p.release(live[i].s)
			used -= int(live[i].s.cap)
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		} else {
			n := 1 + rnd.IntN(60)
			if rnd.IntN(500) == 0 {
				n = maxPoolChunk/8 + rnd.IntN(maxPoolChunk) // a chunk of its own
			}
			s := p.alloc(n)
			if n > maxPoolChunk/8 {
				big += int(s.cap)
			}
			h := p.get(s, n)
			if len(h) != n || cap(h) != int(s.cap) || cap(h) < n {
				t.Fatalf("step %d: alloc(%d) gave len %d cap %d (span cap %d)", step, n, len(h), cap(h), s.cap)
			}
			for i := range h[:cap(h)] {
				h[:cap(h)][i] = touch{Item: int32(step), T: int64(i)}
			}
			live = append(live, arr{s, n, int32(step)})
			used += int(s.cap)
			peak = max(peak, used)
		}
		if step%97 == 0 || step == 19999 {
			for _, a := range live {
				h := p.get(a.s, int(a.s.cap))
				for i, tc := range h {
					if tc.Item != a.mark || tc.T != int64(i) {
						t.Fatalf("step %d: array %d's touch %d is %+v: another array wrote over it", step, a.mark, i, tc)
					}
				}
			}
		}
		if p.used != used || p.used > p.held {
			t.Fatalf("step %d: used %d (want %d), held %d", step, p.used, used, p.held)
		}
	}
	// Freed arrays are reused: the pool holds not much more than its peak
	// (10,000 arrays of 30 touches on average went through it).
	if p.held > 3*peak+big {
		t.Fatalf("held %d touches for a peak of %d in use (%d in chunks of their own)", p.held, peak, big)
	}
	if p.get(p.alloc(0), 0) != nil {
		t.Fatal("an empty array has a chunk")
	}
}
