package segment

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Rule is one node of a segment's rule tree: the canonical form the API
// stores and the dashboard's builder edits. Exactly one kind of node is set:
//
//   - a group: And, Or (one or more children) or Not (one child);
//   - a trait condition: Trait with Op and Value;
//   - a computed-field condition: Computed (see computedFields) with Op and Value;
//   - an event condition: Event, optional Where filters and Within window,
//     and a comparison of a Measure of the matching events (by default
//     "count gte 1": did it at least once);
//   - a membership condition: Segment, the id of another saved segment;
//   - a reachability condition: Reachable, a channel (see Channels): the
//     profile may get marketing messages on it now, as package consent
//     decides (consent given, or not needed on that channel; not suppressed
//     after a hard bounce or complaint; an address or token to send to).
//     The engine reads it from the index's reach column, which the server
//     feeds from consent (Engine.SetReachable).
//
// Semantics every evaluator shares (and an SQL engine can check):
//   - only events whose timestamp is at or before the evaluation instant
//     ("now", or a preview's "at") count, in every condition;
//   - a comparison with a missing value, or a value of another type than
//     the operand, is false, whatever the operator (neq too), except
//     not_exists; write not(…) to include profiles without the value;
//   - string comparisons ignore case unless CaseSensitive is set.
type Rule struct {
	And []*Rule `json:"and,omitempty"`
	Or  []*Rule `json:"or,omitempty"`
	Not *Rule   `json:"not,omitempty"`

	Trait    string `json:"trait,omitempty"`
	Computed string `json:"computed,omitempty"`
	Event    string `json:"event,omitempty"`
	Segment  string `json:"segment,omitempty"`
	// Reachable is a channel of a reachability condition.
	Reachable string `json:"reachable,omitempty"`

	// Where filters an event condition's events; all must hold.
	Where []*Filter `json:"where,omitempty"`
	// Within restricts an event condition to a time window.
	Within *Window `json:"within,omitempty"`
	// Measure is what an event condition compares: count (the default),
	// sum, avg, min or max of the numeric property Of, or the first or last
	// time it happened.
	Measure string `json:"measure,omitempty"`
	Of      string `json:"of,omitempty"`

	Op            Op   `json:"op,omitempty"`
	Value         any  `json:"value,omitempty"`
	CaseSensitive bool `json:"case_sensitive,omitempty"`

	// leaf is the engine's compiled form of a saved rule's leaf (see
	// planCache); never set on other rules.
	leaf *leafPlan
}

// Filter is a condition on one property of an event. Property is a dotted
// path ("category", "page.path"); "products[].category" holds when any
// element of the products array matches. Filters compare strings, numbers
// and booleans: a property holding a list or an object as a whole is
// absent to them (reach into it with a path to its fields).
type Filter struct {
	Property      string `json:"property"`
	Op            Op     `json:"op"`
	Value         any    `json:"value,omitempty"`
	CaseSensitive bool   `json:"case_sensitive,omitempty"`
}

// Window is the time window of an event condition; exactly one form is set.
// Last is a duration back from now ("90d"); Since an instant up to now;
// From and To an interval [From, To).
type Window struct {
	Last  string `json:"last,omitempty"`
	Since string `json:"since,omitempty"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
}

// Op is a comparison operator.
type Op string

// The operators. Relative date operators take a duration ("30d"):
// more_than_ago (the date is older than that), less_than_ago (within the
// last …, not in the future), within_next (from now to now+…), and
// anniversary_within_next (the date's next yearly anniversary, for
// birthdays and renewals).
const (
	Eq, Neq, Gt, Gte, Lt, Lte Op = "eq", "neq", "gt", "gte", "lt", "lte"
	Between                   Op = "between"
	In, NotIn                 Op = "in", "not_in"
	Contains, StartsWith      Op = "contains", "starts_with"
	Exists, NotExists         Op = "exists", "not_exists"
	Before, After             Op = "before", "after"
	MoreThanAgo, LessThanAgo  Op = "more_than_ago", "less_than_ago"
	WithinNext                Op = "within_next"
	AnniversaryWithinNext     Op = "anniversary_within_next"
)

// Measures of an event condition.
const (
	MeasureCount = "count"
	MeasureSum   = "sum"
	MeasureAvg   = "avg"
	MeasureMin   = "min"
	MeasureMax   = "max"
	MeasureFirst = "first"
	MeasureLast  = "last"
)

// Kind is what a node is.
type Kind uint8

// The node kinds.
const (
	KindInvalid Kind = iota
	KindAnd
	KindOr
	KindNot
	KindTrait
	KindComputed
	KindEvent
	KindSegment
	KindReachable
)

// Channels are the channels a reachability condition may name: the
// delivery channels (package consent keeps the same list; a server test
// checks that they agree).
var Channels = []string{"email", "sms", "push", "webpush", "inapp", "webhook", "mail"}

// Kind reports which kind of node r is; KindInvalid when none or more than
// one is set.
func (r *Rule) Kind() Kind {
	k, n := KindInvalid, 0
	set := func(b bool, kind Kind) {
		if b {
			k, n = kind, n+1
		}
	}
	set(r.And != nil, KindAnd)
	set(r.Or != nil, KindOr)
	set(r.Not != nil, KindNot)
	set(r.Trait != "", KindTrait)
	set(r.Computed != "", KindComputed)
	set(r.Event != "", KindEvent)
	set(r.Segment != "", KindSegment)
	set(r.Reachable != "", KindReachable)
	if n != 1 {
		return KindInvalid
	}
	return k
}

// Computed field types.
type fieldType uint8

const (
	typeNumber fieldType = iota + 1
	typeString
	typeTime
)

// computedFields are the profile fields rules may use, derived from the
// profile's events so that every evaluator, and SQL, computes them alike.
// "orders" and "total_spend" read Order Completed events (total_spend sums
// their revenue as profiles do: revenue, else total, else line items).
var computedFields = map[string]fieldType{
	"event_count":           typeNumber, // events of every type
	"orders":                typeNumber,
	"total_spend":           typeNumber,
	"average_order_value":   typeNumber, // total_spend / orders; absent without orders
	"first_seen":            typeTime,
	"last_seen":             typeTime,
	"first_order":           typeTime,
	"last_order":            typeTime,
	"days_since_last_order": typeNumber, // whole days; absent without orders
	"days_since_last_seen":  typeNumber,
	// The built-in models (models.go); absent without orders but lifecycle.
	FieldRFMRecency:   typeNumber, // 1–5, by quintile of days since the last order
	FieldRFMFrequency: typeNumber, // 1–5, by quintile of orders
	FieldRFMMonetary:  typeNumber, // 1–5, by quintile of total_spend
	FieldRFM:          typeNumber, // the three scores as digits: 545
	FieldSpendTier:    typeString, // low, mid, high by trailing-12-month spend
	FieldLifecycle:    typeString, // new, active, at_risk, lapsed, prospect
}

// ComputedFields lists the computed field names rules may use, sorted.
func ComputedFields() []string {
	names := make([]string, 0, len(computedFields))
	for n := range computedFields {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Limits on a rule tree, so that one rule cannot cost the engine without
// bound (every write key and admin token is a budget).
const (
	MaxDepth       = 16
	MaxNodes       = 256
	MaxListValues  = 1000
	MaxStringBytes = 1 << 10
	MaxIDBytes     = 64
	// MaxWindow bounds Last and relative-date durations: 100 years.
	MaxWindow = 100 * 365 * 24 * time.Hour
)

// Error is a rule that cannot be used: Path points at the offending node or
// field in JSON Pointer form ("/and/1/where/0/op"), Msg says why.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "rule: " + e.Msg
	}
	return "rule " + e.Path + ": " + e.Msg
}

// ValidID reports whether id can name a segment: 1 to 64 of a-z, 0-9, '-'
// and '_', starting with a letter or digit.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// ParseJSON decodes and validates a rule tree.
func ParseJSON(b []byte) (*Rule, error) {
	var r Rule
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, &Error{Msg: "not a rule tree: " + err.Error()}
	}
	if dec.More() {
		return nil, &Error{Msg: "not a rule tree: data after the rule"}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks r and its children: one kind per node, known operators
// and fields, operands of the right type, the limits. The error is an
// *Error naming the first offending node.
func (r *Rule) Validate() error {
	v := validator{}
	v.rule(r, "", 1)
	return v.err
}

// Segments returns the ids of the segments r refers to, sorted, without
// duplicates.
func (r *Rule) Segments() []string {
	var ids []string
	r.walk(func(n *Rule) {
		if n.Segment != "" {
			ids = append(ids, n.Segment)
		}
	})
	slices.Sort(ids)
	return slices.Compact(ids)
}

// walk calls fn for r and every node under it, parents first.
func (r *Rule) walk(fn func(*Rule)) {
	if r == nil {
		return
	}
	fn(r)
	for _, c := range r.And {
		c.walk(fn)
	}
	for _, c := range r.Or {
		c.walk(fn)
	}
	r.Not.walk(fn)
}

type validator struct {
	nodes int
	err   error
}

func (v *validator) fail(path, format string, args ...any) {
	if v.err == nil {
		v.err = &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
	}
}

func (v *validator) rule(r *Rule, path string, depth int) {
	if v.err != nil {
		return
	}
	if r == nil {
		v.fail(path, "empty node")
		return
	}
	v.nodes++
	if v.nodes > MaxNodes {
		v.fail(path, "more than %d nodes", MaxNodes)
		return
	}
	if depth > MaxDepth {
		v.fail(path, "nested deeper than %d", MaxDepth)
		return
	}
	kind := r.Kind()
	if kind == KindInvalid {
		v.fail(path, "a node needs exactly one of and, or, not, trait, computed, event, segment, reachable")
		return
	}
	if kind != KindEvent && (r.Where != nil || r.Within != nil || r.Measure != "" || r.Of != "") {
		v.fail(path, "where, within, measure and of belong to event conditions")
		return
	}
	switch kind {
	case KindAnd, KindOr, KindNot:
		if r.Op != "" || r.Value != nil || r.CaseSensitive {
			v.fail(path, "a group has no op or value")
			return
		}
		name, kids := "and", r.And
		switch kind {
		case KindOr:
			name, kids = "or", r.Or
		case KindNot:
			v.rule(r.Not, path+"/not", depth+1)
			return
		}
		if len(kids) == 0 {
			v.fail(path+"/"+name, "an empty %s group", name)
		}
		for i, c := range kids {
			v.rule(c, fmt.Sprintf("%s/%s/%d", path, name, i), depth+1)
		}
	case KindTrait:
		if v.name(path+"/trait", r.Trait) {
			v.comparison(path, r.Op, r.Value, r.CaseSensitive, anyType)
		}
	case KindComputed:
		t, ok := computedFields[r.Computed]
		if !ok {
			v.fail(path+"/computed", "unknown computed field %q (known: %s)", r.Computed, strings.Join(ComputedFields(), ", "))
			return
		}
		v.comparison(path, r.Op, r.Value, r.CaseSensitive, t)
		if v.err == nil {
			if err := checkModelValue(r.Computed, r.Op, r.Value, r.CaseSensitive); err != nil {
				v.fail(path+"/value", "%v", err)
			}
		}
	case KindSegment:
		if !ValidID(r.Segment) {
			v.fail(path+"/segment", "%q is not a segment id", r.Segment)
		}
		if r.Op != "" || r.Value != nil {
			v.fail(path, "a segment condition has no op or value")
		}
	case KindReachable:
		if !slices.Contains(Channels, r.Reachable) {
			v.fail(path+"/reachable", "unknown channel %q (known: %s)", r.Reachable, strings.Join(Channels, ", "))
			return
		}
		if r.Op != "" || r.Value != nil || r.CaseSensitive {
			v.fail(path, "a reachable condition has no op, value or case_sensitive")
		}
	case KindEvent:
		v.event(r, path)
	}
}

func (v *validator) name(path, s string) bool {
	switch {
	case len(s) > MaxStringBytes:
		v.fail(path, "longer than %d bytes", MaxStringBytes)
	case !utf8.ValidString(s):
		v.fail(path, "not valid UTF-8")
	default:
		return true
	}
	return false
}

func (v *validator) event(r *Rule, path string) {
	if !v.name(path+"/event", r.Event) {
		return
	}
	// Each filter costs a column lookup per row: count them as nodes.
	v.nodes += len(r.Where)
	if v.nodes > MaxNodes {
		v.fail(path+"/where", "more than %d nodes and filters", MaxNodes)
		return
	}
	for i, f := range r.Where {
		p := fmt.Sprintf("%s/where/%d", path, i)
		if f == nil {
			v.fail(p, "empty filter")
			return
		}
		if f.Property == "" {
			v.fail(p+"/property", "a filter needs a property")
			return
		}
		if _, err := ParsePath(f.Property); err != nil {
			v.fail(p+"/property", "%v", err)
			return
		}
		if f.Op.relative() {
			v.fail(p+"/op", "%s compares with now; event properties take before/after", f.Op)
			return
		}
		v.comparison(p, f.Op, f.Value, f.CaseSensitive, anyType)
	}
	if w := r.Within; w != nil {
		v.window(w, path+"/within")
	}
	measure := r.Measure
	switch measure {
	case "", MeasureCount, MeasureFirst, MeasureLast:
		if r.Of != "" {
			v.fail(path+"/of", "%s takes no property", cmp.Or(measure, MeasureCount))
			return
		}
	case MeasureSum, MeasureAvg, MeasureMin, MeasureMax:
		if r.Of == "" {
			v.fail(path+"/of", "%s needs the numeric property to aggregate", measure)
			return
		}
		if _, err := ParsePath(r.Of); err != nil {
			v.fail(path+"/of", "%v", err)
			return
		}
	default:
		v.fail(path+"/measure", "unknown measure %q (count, sum, avg, min, max, first, last)", measure)
		return
	}
	if r.Op == "" && r.Value == nil && (measure == "" || measure == MeasureCount) {
		return // did it at least once
	}
	t := typeNumber
	if measure == MeasureFirst || measure == MeasureLast {
		t = typeTime
	}
	v.comparison(path, r.Op, r.Value, r.CaseSensitive, t)
}

func (v *validator) window(w *Window, path string) {
	n := 0
	for _, s := range []string{w.Last, w.Since, w.From + w.To} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		v.fail(path, "a window is one of last, since, or from and to")
		return
	}
	switch {
	case w.Last != "":
		if d, err := ParseDuration(w.Last); err != nil {
			v.fail(path+"/last", "%v", err)
		} else if d <= 0 {
			v.fail(path+"/last", "must be positive")
		}
	case w.Since != "":
		if _, err := ParseTime(w.Since); err != nil {
			v.fail(path+"/since", "%v", err)
		}
	default:
		from, err := ParseTime(w.From)
		if err != nil {
			v.fail(path+"/from", "%v", err)
			return
		}
		to, err := ParseTime(w.To)
		if err != nil {
			v.fail(path+"/to", "%v", err)
			return
		}
		if !from.Before(to) {
			v.fail(path+"/to", "must be after from")
		}
	}
}

// anyType accepts operands of any type (traits and properties are untyped).
const anyType fieldType = 0

func (v *validator) comparison(path string, op Op, value any, caseSensitive bool, want fieldType) {
	if _, err := compileComparison(op, value, caseSensitive, want); err != nil {
		p := path + "/value"
		if ce, ok := err.(*opError); ok {
			p = path + "/op"
			err = ce.err
		}
		v.fail(p, "%v", err)
	}
}

// opError marks a comparison error that is the operator's fault.
type opError struct{ err error }

func (e *opError) Error() string { return e.err.Error() }

func (op Op) relative() bool {
	switch op {
	case MoreThanAgo, LessThanAgo, WithinNext, AnniversaryWithinNext:
		return true
	}
	return false
}

var ops = []Op{Eq, Neq, Gt, Gte, Lt, Lte, Between, In, NotIn, Contains, StartsWith,
	Exists, NotExists, Before, After, MoreThanAgo, LessThanAgo, WithinNext, AnniversaryWithinNext}

func opNames() string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// ParseDuration reads a duration as rules write it: a positive integer and
// a unit, s, m, h, d (24 h) or w (7 d): "90d", "12h", "2w".
func ParseDuration(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("duration %q: want a number and a unit (s, m, h, d, w), e.g. 90d", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 32)
	if unit == 0 || err != nil {
		return 0, fmt.Errorf("duration %q: want a number and a unit (s, m, h, d, w), e.g. 90d", s)
	}
	if float64(n)*float64(unit) > float64(MaxWindow) {
		return 0, fmt.Errorf("duration %q: longer than 100 years", s)
	}
	return time.Duration(n) * unit, nil
}

// ParseTime reads an instant as rules and traits write it: RFC 3339
// ("2026-03-01T12:00:00Z") or a date ("2026-03-01", midnight UTC).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD or RFC 3339)", s)
}

// Path is a parsed property path: the keys to walk, and after Array (when
// Array >= 0) the elements of an array at Keys[:Array+1] to look into.
type Path struct {
	Keys  []string
	Array int
}

// ParsePath parses "a.b", "products[].category".
func ParsePath(s string) (Path, error) {
	p := Path{Array: -1}
	if s == "" || len(s) > MaxStringBytes {
		return p, fmt.Errorf("property path %q: empty or too long", s)
	}
	for i, part := range strings.Split(s, ".") {
		if strings.HasSuffix(part, "[]") {
			if p.Array >= 0 {
				return p, fmt.Errorf("property path %q: at most one []", s)
			}
			part = strings.TrimSuffix(part, "[]")
			p.Array = i
		}
		if part == "" || strings.ContainsAny(part, "[]") {
			return p, fmt.Errorf("property path %q: empty or malformed part", s)
		}
		p.Keys = append(p.Keys, part)
	}
	if p.Array == len(p.Keys)-1 {
		return p, fmt.Errorf("property path %q: name a field of the array's elements, e.g. products[].category", s)
	}
	return p, nil
}

// Values yields the values at p in props: one at most, or one per array
// element when p has [].
func (p Path) Values(props map[string]any, yield func(any) bool) {
	var walk func(m map[string]any, keys []string, idx int) bool
	walk = func(m map[string]any, keys []string, idx int) bool {
		v, ok := m[keys[0]]
		if !ok {
			return true
		}
		if len(keys) == 1 {
			return yield(v)
		}
		if idx == 0 {
			arr, _ := v.([]any)
			for _, el := range arr {
				if em, ok := el.(map[string]any); ok {
					if !walk(em, keys[1:], -1) {
						return false
					}
				}
			}
			return true
		}
		next, ok := v.(map[string]any)
		if !ok {
			return true
		}
		return walk(next, keys[1:], idx-1)
	}
	if props != nil {
		walk(props, p.Keys, p.Array)
	}
}

// finite reports whether f is a usable number.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
