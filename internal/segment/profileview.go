package segment

import (
	"fmt"
	"slices"
	"strings"
)

// SegmentRef names a saved segment.
type SegmentRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ProfileView is what the engine knows of one profile: the saved segments
// it is a member of (by id) and its computed fields and model scores (RFM,
// spend tier, lifecycle) as rules see them now. A field the profile has no
// value for (average_order_value without orders) is left out.
type ProfileView struct {
	Profile  string         `json:"profile"`
	Segments []SegmentRef   `json:"segments"`
	Computed map[string]any `json:"computed"`
}

// ProfileView returns the view of profile id (a profile id, "p_…"); a
// profile the index has not seen is ErrNoProfile. It costs one bitmap
// lookup per saved segment, under the read lock.
func (e *Engine) ProfileView(id string) (ProfileView, error) {
	e.ix.mu.RLock()
	defer e.ix.mu.RUnlock()
	o, ok := e.ix.lookup(id)
	if !ok || !e.ix.alive.Contains(o) {
		return ProfileView{}, fmt.Errorf("%w: %q", ErrNoProfile, id)
	}
	v := ProfileView{Profile: id, Segments: []SegmentRef{}, Computed: map[string]any{}}
	for sid, s := range e.segs {
		if s.members.Contains(o) {
			v.Segments = append(v.Segments, SegmentRef{ID: sid, Name: s.def.Name})
		}
	}
	slices.SortFunc(v.Segments, func(a, b SegmentRef) int { return strings.Compare(a.ID, b.ID) })
	sg := newSingle(e.ix, o, e.opts.Now(), e.resolve, false)
	for _, f := range ComputedFields() {
		if x := sg.figure(f); x != nil {
			v.Computed[f] = x
		}
	}
	return v, nil
}
