package decide

import (
	"context"
	"strings"
)

// fakeFacts is a profile: traits by name and its aggregates.
type fakeFacts struct {
	traits  map[string]any
	orders  int
	revenue float64
	events  int
}

func (f *fakeFacts) TraitString(n string) (string, bool) { s, ok := f.traits[n].(string); return s, ok }
func (f *fakeFacts) TraitNumber(n string) (float64, bool) {
	v, ok := f.traits[n].(float64)
	return v, ok
}
func (f *fakeFacts) TraitBool(n string) (bool, bool) { v, ok := f.traits[n].(bool); return v, ok }
func (f *fakeFacts) Orders() int                     { return f.orders }
func (f *fakeFacts) Revenue() float64                { return f.revenue }
func (f *fakeFacts) EventCount() int                 { return f.events }

// fakeProfiles maps identifier keys to profile ids and ids to facts.
type fakeProfiles struct {
	ids   map[string]string
	facts map[string]*fakeFacts
	reads int
}

func (p *fakeProfiles) Read(key string, fn func(string, Facts)) bool {
	p.reads++
	id, ok := p.ids[key]
	if !ok && strings.HasPrefix(key, "p_") {
		id, ok = key, p.facts[key] != nil
	}
	if !ok {
		return false
	}
	fn(id, p.facts[id])
	return true
}

type fakeMembership map[string]map[string]bool // segment → profile → member

func (m fakeMembership) Contains(seg, id string) (bool, error) { return m[seg][id], nil }

type fakeAssigner map[string]string // unit → variant

func (a fakeAssigner) Assign(exp, unit string) (string, bool) { v, ok := a[unit]; return v, ok }

// fakeRecs returns items named after the request, so tests see what was asked.
type fakeRecs struct{ last RecRequest }

func (r *fakeRecs) Recommend(_ context.Context, req RecRequest) ([]RecItem, error) {
	r.last = req
	out := make([]RecItem, 0, req.Limit)
	for i := range req.Limit + 2 { // more than asked: the engine must cut
		out = append(out, RecItem{ID: req.Strategy + "-" + string(rune('a'+i)), Name: "Item", Price: 10 * float64(i+1), Strategy: req.Strategy, Reason: "popular"})
	}
	return out, nil
}
