package segment

import (
	"fmt"
	"time"
)

// Holds evaluates rule r (validated, its segment references resolved
// against the saved segments) for one profile at instant at, as the live
// engine would: journeys branch on it. A profile the index has not seen
// is ErrNoProfile.
func (e *Engine) Holds(r *Rule, profileID string, at time.Time) (bool, error) {
	e.ix.mu.RLock()
	defer e.ix.mu.RUnlock()
	o, ok := e.ix.lookup(profileID)
	if !ok || !e.ix.alive.Contains(o) {
		return false, fmt.Errorf("%w: %q", ErrNoProfile, profileID)
	}
	in, _, err := newSingle(e.ix, o, at, e.resolve, false).rule(r, "")
	if err != nil {
		return false, fmt.Errorf("evaluate rule for %s: %w", profileID, err)
	}
	return in, nil
}

// ValidateFilters checks event property filters as an event condition's
// Where would be checked; the error is an *Error whose path is relative
// to the list ("/0/op").
func ValidateFilters(fs []*Filter) error {
	v := validator{}
	v.event(&Rule{Event: "x", Where: fs}, "")
	if err, ok := v.err.(*Error); ok && len(err.Path) >= len("/where") {
		err.Path = err.Path[len("/where"):]
	}
	return v.err
}

// MatchFilters reports whether every filter holds on one event's
// properties, with the semantics of an event condition's Where; filters
// that do not compile (never validated) do not hold.
func MatchFilters(fs []*Filter, props map[string]any, at time.Time) bool {
	for _, f := range fs {
		if f == nil {
			return false
		}
		c, err := compileComparison(f.Op, f.Value, f.CaseSensitive, anyType)
		if err != nil {
			return false
		}
		p, err := ParsePath(f.Property)
		if err != nil {
			return false
		}
		if !refFilter(c, p, props, at.Unix()) {
			return false
		}
	}
	return true
}
