package stats

// Point is one interval of a series: what the node did in it. Counts are
// of the interval; gauges are the last (profiles) or highest (lag) reading
// in it. Seconds is how much of the interval the readings covered: a rate
// is a count over Seconds, so a partly covered interval (the current one,
// or one with a restart in it) still gives a true rate, and a point never
// covered (Seconds 0) is a gap, not a zero.
type Point struct {
	T          int64   `json:"t"` // start of the interval, unix seconds
	Seconds    float64 `json:"s"`
	Accepted   uint64  `json:"acc"`
	Applied    uint64  `json:"app"`
	Rejected   uint64  `json:"rej"`
	Entered    uint64  `json:"ent"`
	Exited     uint64  `json:"exi"`
	Profiles   int64   `json:"pro"`
	LagEvents  int64   `json:"lag"`
	LagSeconds float64 `json:"lags"`
}

// fold adds the interval d (a delta between two readings) into p.
func (p *Point) fold(d Point) {
	p.Seconds += d.Seconds
	p.Accepted += d.Accepted
	p.Applied += d.Applied
	p.Rejected += d.Rejected
	p.Entered += d.Entered
	p.Exited += d.Exited
	p.Profiles = d.Profiles
	p.LagEvents = max(p.LagEvents, d.LagEvents)
	p.LagSeconds = max(p.LagSeconds, d.LagSeconds)
}

// ring holds the last len(pts) intervals of step seconds. The point of
// the interval starting at t lives in slot (t/step) mod len(pts); a slot
// whose T is not the wanted interval's start holds an older interval and
// reads as a gap. So the ring needs no clean-up when time jumps or the node
// was down: stale slots are overwritten when their turn comes.
type ring struct {
	step int64
	pts  []Point
}

func newRing(step int64, n int) ring { return ring{step: step, pts: make([]Point, n)} }

func (r *ring) slot(start int64) *Point { return &r.pts[(start/r.step)%int64(len(r.pts))] }

// add folds d into the interval holding unix second t.
func (r *ring) add(t int64, d Point) {
	start := t - t%r.step
	p := r.slot(start)
	if p.T != start {
		*p = Point{T: start}
	}
	p.fold(d)
}

// series returns the len(pts) intervals up to the one holding now, oldest
// first; intervals without readings have only T set.
func (r *ring) series(now int64) []Point {
	n := int64(len(r.pts))
	last := now - now%r.step
	out := make([]Point, n)
	for i := range n {
		start := last - (n-1-i)*r.step
		if p := r.slot(start); p.T == start {
			out[i] = *p
		} else {
			out[i] = Point{T: start}
		}
	}
	return out
}
