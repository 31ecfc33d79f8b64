package recommend

import (
	"strings"
)

// group is the bestsellers and trending items among the members of one
// segment or the profiles with one trait value. Groups count purchases only
// (membership is checked once per order, not per view).
type group struct {
	sold  map[int32]decayed // units, BestsellerHalfLife
	trend map[int32]decayed // units, TrendingHalfLife
}

func segmentGroup(id string) string                     { return "seg:" + id }
func traitGroup(name, value string) string              { return "trait:" + name + "=" + value }
func splitTrait(s string) (name, value string, ok bool) { return strings.Cut(s, "=") }

// orderGroups returns the keys of the groups an order of pid counts
// toward: the tracked segments pid is a member of, and the group of pid's
// value of each tracked trait (which groupOrder creates when new). Caller
// holds mu.
func (e *Engine) orderGroups(pid string) []string {
	var keys []string
	for key := range e.groups {
		seg, ok := strings.CutPrefix(key, "seg:")
		if !ok || e.opts.Membership == nil {
			continue
		}
		if in, err := e.opts.Membership.Contains(seg, pid); err == nil && in {
			keys = append(keys, key)
		}
	}
	if e.opts.Traits == nil {
		return keys
	}
	for name := range e.traits {
		if v := e.opts.Traits.Trait(pid, name); v != "" {
			keys = append(keys, traitGroup(name, v))
		}
	}
	return keys
}

// groupOrder adds an order to the groups of keys (orderGroups), creating
// a trait value's group with its first order while Options.Groups allows.
// Caller holds mu for writing.
func (e *Engine) groupOrder(keys []string, basket []int32, qty []float64, t int64) {
	for _, key := range keys {
		g := e.groups[key]
		if g == nil {
			if !strings.HasPrefix(key, "trait:") || len(e.groups) >= e.opts.Groups {
				continue
			}
			g = newGroup()
			e.groups[key] = g
		}
		e.groupAdd(g, basket, qty, t)
	}
}

func newGroup() *group { return &group{sold: map[int32]decayed{}, trend: map[int32]decayed{}} }

func (e *Engine) groupAdd(g *group, basket []int32, qty []float64, t int64) {
	for i, ix := range basket {
		d := g.sold[ix]
		d.add(qty[i], t, e.opts.BestsellerHalfLife.Seconds())
		g.sold[ix] = d
		d = g.trend[ix]
		d.add(qty[i], t, e.opts.TrendingHalfLife.Seconds())
		g.trend[ix] = d
	}
}

// track makes sure the group of a request (Segment or Trait) exists. A new
// group is filled from the members' remembered purchases (their last
// Options.Distinct distinct items, at their last purchase time), then
// counted live. It takes the write lock; false when the group cannot be
// tracked (no membership or traits source, or Options.Groups reached).
func (e *Engine) track(key string) bool {
	e.mu.RLock()
	_, ok := e.groups[key]
	e.mu.RUnlock()
	if ok {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.groups[key]; ok {
		return true
	}
	if len(e.groups) >= e.opts.Groups {
		return false
	}
	if seg, ok := strings.CutPrefix(key, "seg:"); ok {
		if e.opts.Membership == nil {
			return false
		}
		g := newGroup()
		for pid, p := range e.profiles.all() {
			if in, err := e.opts.Membership.Contains(seg, pid); err == nil && in {
				e.backfill(g, p)
			}
		}
		e.groups[key] = g
		return true
	}
	name, _, _ := splitTrait(strings.TrimPrefix(key, "trait:"))
	if e.opts.Traits == nil || e.traits[name] {
		// A tracked trait's groups appear with their first order.
		return e.opts.Traits != nil
	}
	// Every value of a newly tracked trait is filled at once, so that all
	// its groups count the same purchases.
	e.traits[name] = true
	for pid, p := range e.profiles.all() {
		v := e.opts.Traits.Trait(pid, name)
		if v == "" || len(p.freq()) == 0 {
			continue
		}
		g := e.groups[traitGroup(name, v)]
		if g == nil {
			if len(e.groups) >= e.opts.Groups {
				continue
			}
			g = newGroup()
			e.groups[traitGroup(name, v)] = g
		}
		e.backfill(g, p)
	}
	return true
}

func (e *Engine) backfill(g *group, p profRef) {
	for _, f := range p.freq() {
		e.groupAdd(g, []int32{f.Item}, []float64{f.N}, f.Last)
	}
}
