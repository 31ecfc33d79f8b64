package main

import (
	"fmt"
	"strings"

	"tailor/internal/event"
	"tailor/internal/segment"
)

// This file is the baseline `tailor bench segment` measures the columnar
// fast path against: what a naive engine does, holding each profile's traits
// and events as Go maps and looping over every profile and every event of
// it. It is written from the semantics documented on segment.Rule and its
// computed fields, not from the fast path, so that equal counts mean
// something.
//
// It stays separate from segment.Reference on purpose: the reference
// compiles each comparison for every profile (it is written to be obviously
// right, not fast), which would flatter the fast path; this loop prepares
// operands once, as a naive engine would. It covers what the benchmark's
// rules use and refuses the rest with an error.

// baselineProfile is one profile as a naive engine holds it, in the shape of
// the reference evaluator's RefProfile.
type baselineProfile struct {
	ID     string
	Traits map[string]any // decoded JSON: string, float64, bool, []any, map[string]any
	Events []baselineEvent
}

// baselineEvent is one event of a profile.
type baselineEvent struct {
	Key        string // segment.EventKey: the track event's name, or "$page" …
	Time       int64  // unix seconds
	Properties map[string]any
}

// baselineMatcher answers a compiled rule for one profile.
type baselineMatcher func(p *baselineProfile) bool

// compileBaseline turns r into a matcher at the instant now (unix seconds).
// Durations and operands are prepared once, as any engine would; the work
// per profile is the walk over its maps and events.
func compileBaseline(r *segment.Rule, now int64) (baselineMatcher, error) {
	switch r.Kind() {
	case segment.KindAnd, segment.KindOr:
		kids, isAnd := r.And, true
		if r.Kind() == segment.KindOr {
			kids, isAnd = r.Or, false
		}
		ms := make([]baselineMatcher, len(kids))
		for i, k := range kids {
			m, err := compileBaseline(k, now)
			if err != nil {
				return nil, err
			}
			ms[i] = m
		}
		return func(p *baselineProfile) bool {
			for _, m := range ms {
				if m(p) != isAnd {
					return !isAnd
				}
			}
			return isAnd
		}, nil
	case segment.KindNot:
		m, err := compileBaseline(r.Not, now)
		if err != nil {
			return nil, err
		}
		return func(p *baselineProfile) bool { return !m(p) }, nil
	case segment.KindTrait:
		cmp, err := compileBaselineCmp(r.Op, r.Value, r.CaseSensitive)
		if err != nil {
			return nil, fmt.Errorf("trait %q: %w", r.Trait, err)
		}
		return func(p *baselineProfile) bool { return cmp(p.Traits[r.Trait]) }, nil
	case segment.KindComputed:
		return compileBaselineComputed(r, now)
	case segment.KindEvent:
		return compileBaselineEvent(r, now)
	}
	return nil, fmt.Errorf("the baseline evaluates and, or, not, trait, computed and event conditions, not %+v", r)
}

// compileBaselineCmp compiles a comparison of one value. A missing value
// (nil) or a value of another type than the operand never matches, except
// for not_exists; strings compare ignoring case unless caseSensitive.
func compileBaselineCmp(op segment.Op, operand any, caseSensitive bool) (func(v any) bool, error) {
	fold := func(s string) string {
		if caseSensitive {
			return s
		}
		return strings.ToLower(s)
	}
	switch op {
	case segment.Exists:
		return func(v any) bool { return v != nil }, nil
	case segment.NotExists:
		return func(v any) bool { return v == nil }, nil
	case segment.Eq, segment.Neq:
		want := op == segment.Eq
		switch x := operand.(type) {
		case string:
			s := fold(x)
			return func(v any) bool {
				got, ok := v.(string)
				return ok && (fold(got) == s) == want
			}, nil
		case float64:
			return func(v any) bool {
				got, ok := v.(float64)
				return ok && (got == x) == want
			}, nil
		case bool:
			return func(v any) bool {
				got, ok := v.(bool)
				return ok && (got == x) == want
			}, nil
		}
	case segment.In:
		list, _ := operand.([]any)
		strs, nums := map[string]bool{}, map[float64]bool{}
		for _, x := range list {
			switch x := x.(type) {
			case string:
				strs[fold(x)] = true
			case float64:
				nums[x] = true
			}
		}
		return func(v any) bool {
			switch got := v.(type) {
			case string:
				return strs[fold(got)]
			case float64:
				return nums[got]
			}
			return false
		}, nil
	case segment.Gt, segment.Gte, segment.Lt, segment.Lte:
		x, ok := operand.(float64)
		if !ok {
			return nil, fmt.Errorf("%s takes a number, got %v", op, operand)
		}
		return func(v any) bool {
			got, ok := v.(float64)
			if !ok {
				return false
			}
			switch op {
			case segment.Gt:
				return got > x
			case segment.Gte:
				return got >= x
			case segment.Lt:
				return got < x
			}
			return got <= x
		}, nil
	case segment.Contains:
		x, ok := operand.(string)
		if !ok {
			return nil, fmt.Errorf("contains takes a string, got %v", operand)
		}
		sub := fold(x)
		return func(v any) bool {
			switch got := v.(type) {
			case string:
				return strings.Contains(fold(got), sub)
			case []any: // a list trait contains an element equal to the operand
				for _, el := range got {
					if s, ok := el.(string); ok && fold(s) == sub {
						return true
					}
				}
			}
			return false
		}, nil
	}
	return nil, fmt.Errorf("the baseline does not evaluate op %q with %v", op, operand)
}

// systemEvent reports whether key is an event Tailor records itself, which
// computed fields leave out.
func systemEvent(key string) bool {
	return key == segment.EventEntered || key == segment.EventExited
}

func compileBaselineComputed(r *segment.Rule, now int64) (baselineMatcher, error) {
	cmp, err := compileBaselineCmp(r.Op, r.Value, r.CaseSensitive)
	if err != nil {
		return nil, fmt.Errorf("computed %q: %w", r.Computed, err)
	}
	var value func(p *baselineProfile) float64
	switch r.Computed {
	case "event_count":
		value = func(p *baselineProfile) float64 {
			n := 0
			for i := range p.Events {
				if e := &p.Events[i]; e.Time <= now && !systemEvent(e.Key) {
					n++
				}
			}
			return float64(n)
		}
	case "orders", "total_spend":
		spend := r.Computed == "total_spend"
		value = func(p *baselineProfile) float64 {
			var n, micros int64
			for i := range p.Events {
				if e := &p.Events[i]; e.Time <= now && e.Key == event.OrderCompleted {
					n++
					micros += event.OrderRevenue(e.Properties)
				}
			}
			if spend {
				return float64(micros) / 1e6
			}
			return float64(n)
		}
	default:
		return nil, fmt.Errorf("the baseline does not compute %q", r.Computed)
	}
	return func(p *baselineProfile) bool { return cmp(value(p)) }, nil
}

func compileBaselineEvent(r *segment.Rule, now int64) (baselineMatcher, error) {
	lo := int64(-1 << 63)
	if w := r.Within; w != nil {
		if w.Last == "" {
			return nil, fmt.Errorf("event %q: the baseline evaluates only last windows", r.Event)
		}
		d, err := segment.ParseDuration(w.Last)
		if err != nil {
			return nil, fmt.Errorf("event %q: %w", r.Event, err)
		}
		// The last 90 days are the 90*86400 seconds up to and including now.
		lo = now - int64(d.Seconds()) + 1
	}
	type filter struct {
		path []string
		cmp  func(any) bool
	}
	var filters []filter
	for _, f := range r.Where {
		if strings.Contains(f.Property, "[]") {
			return nil, fmt.Errorf("event %q: the baseline does not evaluate array paths like %q", r.Event, f.Property)
		}
		cmp, err := compileBaselineCmp(f.Op, f.Value, f.CaseSensitive)
		if err != nil {
			return nil, fmt.Errorf("event %q where %q: %w", r.Event, f.Property, err)
		}
		filters = append(filters, filter{strings.Split(f.Property, "."), cmp})
	}
	op, operand := r.Op, r.Value
	if op == "" && operand == nil {
		op, operand = segment.Gte, 1.0 // did it at least once
	}
	cmp, err := compileBaselineCmp(op, operand, r.CaseSensitive)
	if err != nil {
		return nil, fmt.Errorf("event %q: %w", r.Event, err)
	}
	var of []string
	switch r.Measure {
	case "", segment.MeasureCount:
	case segment.MeasureSum:
		of = strings.Split(r.Of, ".")
	default:
		return nil, fmt.Errorf("event %q: the baseline evaluates count and sum, not %q", r.Event, r.Measure)
	}
	return func(p *baselineProfile) bool {
		var count, micros int64
	events:
		for i := range p.Events {
			e := &p.Events[i]
			if e.Key != r.Event || e.Time < lo || e.Time > now {
				continue
			}
			for _, f := range filters {
				if !f.cmp(propertyAt(e.Properties, f.path)) {
					continue events
				}
			}
			count++
			if of != nil {
				// Sums add micro-units, as profiles count money: a float sum
				// would depend on the order of the events.
				if x, ok := propertyAt(e.Properties, of).(float64); ok {
					micros += event.Micros(x)
				}
			}
		}
		if of != nil {
			return cmp(float64(micros) / 1e6)
		}
		return cmp(float64(count))
	}, nil
}

// propertyAt is the scalar (string, number, boolean) at path in props, nil
// when absent or not a scalar: the index keeps scalar properties only, so
// a filter on an object or an array without [] matches nothing.
func propertyAt(props map[string]any, path []string) any {
	var v any = props
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	switch v.(type) {
	case string, float64, bool:
		return v
	}
	return nil
}
