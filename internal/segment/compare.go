package segment

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// comparison is a compiled Op and operand. Every evaluator matches values
// through it, so the fast path and the reference agree on what a value
// means; the fast path calls it once per distinct dictionary value.
//
// Times are whole unix seconds everywhere in rules: event timestamps and
// the evaluation instant are truncated to the second.
type comparison struct {
	op   Op
	fold bool // compare strings case-insensitively

	kind  operandKind
	strs  []string  // string operands (folded when fold), sorted for In
	nums  []float64 // number operands, sorted for In
	b     bool
	secs  int64 // before/after operand
	dur   int64 // relative operand, seconds
	isNum bool  // eq/neq operand is a number (else string or bool by kind)
}

type operandKind uint8

const (
	operandNone operandKind = iota
	operandString
	operandNumber
	operandBool
	operandTime     // before, after
	operandDuration // relative ops
	operandList     // in, not_in: strs and/or nums
)

// compileComparison checks op and value against each other and against the
// type of the compared field (anyType for traits and properties).
func compileComparison(op Op, value any, caseSensitive bool, want fieldType) (*comparison, error) {
	c := &comparison{op: op, fold: !caseSensitive}
	bad := func(format string, args ...any) (*comparison, error) {
		return nil, fmt.Errorf(format, args...)
	}
	badOp := func(format string, args ...any) (*comparison, error) {
		return nil, &opError{fmt.Errorf(format, args...)}
	}
	if op == "" {
		return badOp("missing op (one of %s)", opNames())
	}
	if !slices.Contains(ops, op) {
		return badOp("unknown op %q (one of %s)", op, opNames())
	}
	timeOp := op == Before || op == After || op.relative()
	switch {
	case want == typeTime && !timeOp && op != Exists && op != NotExists:
		return badOp("%s does not apply to a time: use before, after, more_than_ago, less_than_ago, within_next or anniversary_within_next", op)
	case want == typeNumber && (op == Contains || op == StartsWith || timeOp):
		return badOp("%s does not apply to a number", op)
	case want == typeString && (op == Gt || op == Gte || op == Lt || op == Lte || op == Between || timeOp):
		return badOp("%s does not apply to a string", op)
	}
	switch op {
	case Exists, NotExists:
		if value != nil {
			return bad("%s takes no value", op)
		}
	case Eq, Neq:
		switch v := value.(type) {
		case string:
			if want == typeNumber {
				return bad("want a number")
			}
			c.kind, c.strs = operandString, []string{c.foldStr(v)}
		case float64:
			if want == typeString {
				return bad("want a string")
			}
			c.kind, c.nums, c.isNum = operandNumber, []float64{v}, true
		case bool:
			if want != anyType {
				return bad("want a %s", typeName(want))
			}
			c.kind, c.b = operandBool, v
		default:
			return bad("%s takes a string, a number or a boolean", op)
		}
	case Gt, Gte, Lt, Lte:
		v, ok := value.(float64)
		if !ok {
			return bad("%s takes a number (for dates use before or after)", op)
		}
		c.kind, c.nums = operandNumber, []float64{v}
	case Between:
		l, ok := value.([]any)
		if !ok || len(l) != 2 {
			return bad("between takes two numbers, [low, high]")
		}
		lo, ok1 := l[0].(float64)
		hi, ok2 := l[1].(float64)
		if !ok1 || !ok2 {
			return bad("between takes two numbers, [low, high]")
		}
		if lo > hi {
			return bad("between: low %v is above high %v", lo, hi)
		}
		c.kind, c.nums = operandNumber, []float64{lo, hi}
	case In, NotIn:
		l, ok := value.([]any)
		if !ok || len(l) == 0 {
			return bad("%s takes a non-empty list of strings or numbers", op)
		}
		if len(l) > MaxListValues {
			return bad("%s: more than %d values", op, MaxListValues)
		}
		for _, x := range l {
			switch x := x.(type) {
			case string:
				if want == typeNumber {
					return bad("want numbers")
				}
				c.strs = append(c.strs, c.foldStr(x))
			case float64:
				if want == typeString {
					return bad("want strings")
				}
				c.nums = append(c.nums, x)
			default:
				return bad("%s takes strings or numbers", op)
			}
		}
		slices.Sort(c.strs)
		slices.Sort(c.nums)
		c.kind = operandList
	case Contains, StartsWith:
		v, ok := value.(string)
		if !ok || v == "" {
			return bad("%s takes a non-empty string", op)
		}
		c.kind, c.strs = operandString, []string{c.foldStr(v)}
	case Before, After:
		s, ok := value.(string)
		if !ok {
			return bad("%s takes a date (YYYY-MM-DD or RFC 3339)", op)
		}
		t, err := ParseTime(s)
		if err != nil {
			return bad("%v", err)
		}
		c.kind, c.secs = operandTime, t.Unix()
	default: // relative
		s, ok := value.(string)
		if !ok {
			return bad("%s takes a duration, e.g. 30d", op)
		}
		d, err := ParseDuration(s)
		if err != nil {
			return bad("%v", err)
		}
		c.kind, c.dur = operandDuration, int64(d/time.Second)
	}
	for _, s := range c.strs {
		if len(s) > MaxStringBytes {
			return bad("a string longer than %d bytes", MaxStringBytes)
		}
	}
	for _, n := range c.nums {
		if !finite(n) {
			return bad("not a finite number")
		}
	}
	return c, nil
}

func typeName(t fieldType) string {
	switch t {
	case typeNumber:
		return "number"
	case typeString:
		return "string"
	case typeTime:
		return "time"
	}
	return "value"
}

func (c *comparison) foldStr(s string) string {
	if c.fold {
		return strings.ToLower(s)
	}
	return s
}

// match applies the comparison to a value as decoded from JSON (string,
// float64, bool, []any, map[string]any; nil when absent). now is the
// evaluation instant in unix seconds.
func (c *comparison) match(v any, now int64) bool {
	switch c.op {
	case Exists:
		return v != nil
	case NotExists:
		return v == nil
	}
	switch x := v.(type) {
	case string:
		return c.matchString(x, now)
	case float64:
		return c.matchNumber(x)
	case bool:
		switch c.op {
		case Eq:
			return c.kind == operandBool && x == c.b
		case Neq:
			return c.kind == operandBool && x != c.b
		}
	case []any:
		// A list trait (tags) contains an operand when an element equals it.
		if c.op == Contains {
			for _, el := range x {
				if s, ok := el.(string); ok && c.foldStr(s) == c.strs[0] {
					return true
				}
			}
		}
	}
	return false
}

func (c *comparison) matchString(s string, now int64) bool {
	switch c.kind {
	case operandString, operandList:
	case operandTime, operandDuration:
		t, err := ParseTime(s)
		if err != nil {
			return false
		}
		return c.matchTime(t.Unix(), now)
	default:
		return false
	}
	f := c.foldStr(s)
	switch c.op {
	case Eq:
		return f == c.strs[0]
	case Neq:
		return f != c.strs[0]
	case Contains:
		return strings.Contains(f, c.strs[0])
	case StartsWith:
		return strings.HasPrefix(f, c.strs[0])
	case In:
		_, ok := slices.BinarySearch(c.strs, f)
		return ok
	case NotIn:
		// A list of numbers only says nothing about strings: false, like
		// neq with a number (see Rule).
		_, ok := slices.BinarySearch(c.strs, f)
		return len(c.strs) > 0 && !ok
	}
	return false
}

func (c *comparison) matchNumber(n float64) bool {
	if c.kind != operandNumber && c.kind != operandList {
		return false
	}
	switch c.op {
	case Eq:
		return n == c.nums[0]
	case Neq:
		return n != c.nums[0]
	case Gt:
		return n > c.nums[0]
	case Gte:
		return n >= c.nums[0]
	case Lt:
		return n < c.nums[0]
	case Lte:
		return n <= c.nums[0]
	case Between:
		return n >= c.nums[0] && n <= c.nums[1]
	case In:
		_, ok := slices.BinarySearch(c.nums, n)
		return ok
	case NotIn:
		_, ok := slices.BinarySearch(c.nums, n)
		return len(c.nums) > 0 && !ok
	}
	return false
}

// matchTime compares an instant t (unix seconds) with the operand.
func (c *comparison) matchTime(t, now int64) bool {
	switch c.op {
	case Before:
		return t < c.secs
	case After:
		return t > c.secs
	case MoreThanAgo:
		return t < now-c.dur
	case LessThanAgo:
		return t > now-c.dur && t <= now
	case WithinNext:
		return t >= now && t < now+c.dur
	case AnniversaryWithinNext:
		a := nextAnniversary(t, now)
		return a < now+c.dur
	case Exists:
		return true
	}
	return false
}

// nextAnniversary is the first instant at or after now that falls on t's
// month, day and time of day (UTC); 29 February falls on 1 March in other
// years.
func nextAnniversary(t, now int64) int64 {
	tt, n := time.Unix(t, 0).UTC(), time.Unix(now, 0).UTC()
	for y := n.Year(); ; y++ {
		a := time.Date(y, tt.Month(), tt.Day(), tt.Hour(), tt.Minute(), tt.Second(), 0, time.UTC).Unix()
		if a >= now {
			return a
		}
	}
}

// nextChange is the next instant after now at which matchTime(t, ·) may
// change its answer by the passing of time alone; math.MaxInt64 for never.
func (c *comparison) nextChange(t, now int64) int64 {
	next := int64(math.MaxInt64)
	consider := func(at int64) {
		if at > now && at < next {
			next = at
		}
	}
	switch c.op {
	case MoreThanAgo:
		consider(t + c.dur + 1) // t < now-dur first holds at now = t+dur+1
	case LessThanAgo:
		consider(t)         // enters when t <= now
		consider(t + c.dur) // leaves when t <= now-dur
	case WithinNext:
		consider(t - c.dur + 1) // t < now+dur
		consider(t + 1)         // leaves when now > t
	case AnniversaryWithinNext:
		a := nextAnniversary(t, now)
		consider(a - c.dur + 1)
		consider(a + 1)
	}
	return next
}
