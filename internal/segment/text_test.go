package segment

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var updateText = flag.Bool("update-text", false, "rewrite the expected outputs in testdata/text")

// A text case in testdata/text/*.txt: comment lines (#) before it, the
// rule's text (one or more lines), a line "----", then the expected output
// up to a blank line: the rule as indented JSON and "text: " its canonical
// form, or "error: " the message.
type textCase struct {
	comments []string
	line     int // of the case's first text line
	input    string
	want     string
}

func readTextCases(t testing.TB, file string) []textCase {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		cases []textCase
		c     textCase
		in    []string
		out   []string
		state = 0 // 0 between cases, 1 in the text, 2 in the output
	)
	flush := func() {
		if state == 1 {
			t.Fatalf("%s:%d: a case without ----", file, c.line)
		}
		if state == 2 {
			c.input, c.want = strings.Join(in, "\n"), strings.Join(out, "\n")
			cases = append(cases, c)
		}
		c, in, out, state = textCase{}, nil, nil, 0
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case state == 0 && line == "":
		case state == 0 && strings.HasPrefix(line, "#"):
			c.comments = append(c.comments, line)
		case state == 0:
			c.line, state, in = n, 1, []string{line}
		case state == 1 && line == "----":
			state = 2
		case state == 1:
			in = append(in, line)
		case line == "":
			flush()
		default:
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return cases
}

// textOutput is what a case expects: the tree and its canonical text, or
// the error.
func textOutput(t *testing.T, input string) string {
	t.Helper()
	r, err := ParseText(input)
	if err != nil {
		var te *TextError
		if !errors.As(err, &te) {
			t.Errorf("error %v is a %T, want a *TextError", err, err)
		}
		return "error: " + err.Error()
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// The JSON and the text are two spellings of one tree.
	fromJSON, err := ParseJSON(j)
	if err != nil {
		t.Errorf("the JSON of a parsed rule does not parse: %v", err)
	} else if !reflect.DeepEqual(normalizeRule(fromJSON), r) {
		t.Errorf("the JSON reads back as another tree:\n%s", j)
	}
	if err := checkTextRoundTrip(r); err != nil {
		t.Error(err)
	}
	return string(j) + "\ntext: " + FormatText(r)
}

// checkTextRoundTrip checks that r's text reads back as r and is canonical.
func checkTextRoundTrip(r *Rule) error {
	text := FormatText(r)
	back, err := ParseText(text)
	if err != nil {
		return fmt.Errorf("FormatText gave %q, which does not parse: %v", text, err)
	}
	if want := normalizeRule(r); !reflect.DeepEqual(back, want) {
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(back)
		return fmt.Errorf("%q reads back as another tree:\n got %s\nwant %s", text, b, a)
	}
	if again := FormatText(back); again != text {
		return fmt.Errorf("formatting is not stable: %q, then %q", text, again)
	}
	return nil
}

// normalizeRule gives r the shape ParseText produces: numbers as float64,
// an empty Where as none. It changes r in place.
func normalizeRule(r *Rule) *Rule {
	r.walk(func(n *Rule) {
		if len(n.Where) == 0 {
			n.Where = nil
		}
		n.Value = normalizeValue(n.Value)
		for _, f := range n.Where {
			if f != nil {
				f.Value = normalizeValue(f.Value)
			}
		}
	})
	return r
}

func normalizeValue(v any) any {
	switch v := v.(type) {
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalizeValue(x)
		}
		return out
	}
	return v
}

func TestParseTextCases(t *testing.T) {
	files, err := filepath.Glob("testdata/text/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/text/*.txt: %v", err)
	}
	total := 0
	for _, file := range files {
		cases := readTextCases(t, file)
		total += len(cases)
		var rewritten strings.Builder
		for i, c := range cases {
			got := textOutput(t, c.input)
			if *updateText {
				if i > 0 {
					rewritten.WriteString("\n")
				}
				for _, l := range c.comments {
					rewritten.WriteString(l + "\n")
				}
				rewritten.WriteString(c.input + "\n----\n" + got + "\n")
				continue
			}
			if got != c.want {
				t.Errorf("%s:%d: %s\n got:\n%s\nwant:\n%s", file, c.line, c.input, got, c.want)
			}
		}
		if *updateText {
			if err := os.WriteFile(file, []byte(rewritten.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if total < 25 {
		t.Errorf("%d cases, want at least 25", total)
	}
}

func TestFormatTextCanonicalForms(t *testing.T) {
	trait := func(name string) *Rule { return &Rule{Trait: name, Op: Exists} }
	a, b, c := trait("a"), trait("b"), trait("c")
	withFilter := &Rule{Event: "Order Completed", Where: []*Filter{{Property: "a", Op: Eq, Value: 1.0}}}
	tests := []struct {
		name string
		rule *Rule
		want string
	}{
		{"a nested chain of the same kind keeps its parentheses",
			&Rule{And: []*Rule{{And: []*Rule{a, b}}, c}}, "(a exists and b exists) and c exists"},
		{"and under or is parenthesized",
			&Rule{Or: []*Rule{{And: []*Rule{a, b}}, c}}, "(a exists and b exists) or c exists"},
		{"a group of one is written all of",
			&Rule{And: []*Rule{a}}, "all of (a exists)"},
		{"an or of one is written any of",
			&Rule{Or: []*Rule{{And: []*Rule{a, b}}}}, "any of (a exists and b exists)"},
		{"not of a chain is parenthesized",
			&Rule{Not: &Rule{Or: []*Rule{a, b}}}, "not (a exists or b exists)"},
		{"a trait named like a computed field is quoted",
			&Rule{Trait: "total_spend", Op: Gt, Value: 5.0}, `trait "total_spend" > 5`},
		{"a trait named like a keyword is quoted whatever its case",
			&Rule{Trait: "DID", Op: Exists}, `trait "DID" exists`},
		{"a trait named all stays bare",
			&Rule{Trait: "all", Op: Eq, Value: "x"}, `all = "x"`},
		{"an event whose filters end it is closed before and",
			&Rule{And: []*Rule{withFilter, a}}, `(did "Order Completed" where a = 1) and a exists`},
		{"the last operand needs no parentheses",
			&Rule{And: []*Rule{a, withFilter}}, `a exists and did "Order Completed" where a = 1`},
		{"not passes the need on to its event",
			&Rule{And: []*Rule{{Not: withFilter}, a}}, `not (did "Order Completed" where a = 1) and a exists`},
		{"an or needs no parentheses around the event",
			&Rule{Or: []*Rule{withFilter, a}}, `did "Order Completed" where a = 1 or a exists`},
		{"a bare count goes after the window",
			&Rule{Event: "x", Measure: MeasureCount, Within: &Window{Last: "7d"}}, `did x in last 7d count`},
		{"a count comparison without a phrase uses times",
			&Rule{Event: "x", Op: Neq, Value: 2.0}, `did x times != 2`},
		{"one time is singular",
			&Rule{Event: "x", Op: Eq, Value: 1.0}, `did x exactly 1 time`},
		{"a date that does not read back bare is quoted",
			&Rule{Trait: "t", Op: Before, Value: "2026-01-01T10:00:00,5Z"}, `t before "2026-01-01T10:00:00,5Z"`},
		{"a date compared with = is quoted",
			&Rule{Trait: "t", Op: Eq, Value: "2026-01-01"}, `t = "2026-01-01"`},
		{"large numbers take exponents as JSON does",
			&Rule{Trait: "t", Op: Gt, Value: 1e21}, `t > 1e+21`},
		{"small numbers take exponents as JSON does",
			&Rule{Trait: "t", Op: Gt, Value: 1e-7}, `t > 1e-7`},
		{"invalid UTF-8 is escaped",
			&Rule{Trait: "t", Op: Eq, Value: "a\xffb\n"}, `t = "a\xffb\n"`},
		{"an event key stays bare",
			&Rule{Event: "$page"}, `did $page`},
		{"a property named like a keyword is quoted",
			&Rule{Event: "x", Where: []*Filter{{Property: "in", Op: Exists}}}, `did x where "in" exists`},
		{"the event's own flag follows its name",
			&Rule{Event: "x", CaseSensitive: true, Where: []*Filter{{Property: "p", Op: Eq, Value: "A", CaseSensitive: true}}},
			`did x case_sensitive where p = "A" case_sensitive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.rule.Validate(); err != nil {
				t.Fatalf("the test's rule is not valid: %v", err)
			}
			if got := FormatText(tt.rule); got != tt.want {
				t.Errorf("FormatText = %s, want %s", got, tt.want)
			}
			if got := tt.rule.String(); got != tt.want {
				t.Errorf("String = %s, want %s", got, tt.want)
			}
			if err := checkTextRoundTrip(tt.rule); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestParseTextErrorsCarryPositionAndCause(t *testing.T) {
	tests := []struct {
		text      string
		line, col int
		path      string // of the validation *Error; "" for a syntax error
	}{
		{`plan = `, 1, 8, ""},
		{"a exists and\n  b between 5 and 1", 2, 13, "/and/1/value"},
		{"did x where\n\tp more_than_ago 7d", 2, 4, "/where/0/op"},
		{`did x between 2026-02-01 and 2026-01-01`, 1, 30, "/within/to"},
		{`did x sum(a[]) > 1`, 1, 7, "/of"},
		{`in segment "Ü"`, 1, 12, "/segment"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			_, err := ParseText(tt.text)
			var te *TextError
			if !errors.As(err, &te) {
				t.Fatalf("error %v, want a *TextError", err)
			}
			if te.Line != tt.line || te.Col != tt.col {
				t.Errorf("at %d:%d, want %d:%d (%v)", te.Line, te.Col, tt.line, tt.col, err)
			}
			var ve *Error
			switch {
			case tt.path == "" && errors.As(err, &ve):
				t.Errorf("a syntax error wraps a validation error %v", ve)
			case tt.path != "" && !errors.As(err, &ve):
				t.Errorf("a validation error does not wrap an *Error: %v", err)
			case tt.path != "" && ve.Path != tt.path:
				t.Errorf("path %s, want %s", ve.Path, tt.path)
			}
		})
	}
}

func TestParseTextLimitsNesting(t *testing.T) {
	deep := strings.Repeat("(", 100000) + "a exists" + strings.Repeat(")", 100000)
	if _, err := ParseText(deep); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("100000 parentheses: %v, want a nesting error", err)
	}
	nots := strings.Repeat("not ", 100000) + "a exists"
	if _, err := ParseText(nots); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("100000 nots: %v, want a nesting error", err)
	}
	many := strings.Repeat("a exists or ", 10000) + "a exists"
	if _, err := ParseText(many); err == nil || !strings.Contains(err.Error(), "more than 256 nodes") {
		t.Errorf("10001 conditions: %v, want a node limit error", err)
	}
}

func TestFormatTextOfInvalidTreesDoesNotPanic(t *testing.T) {
	for _, r := range []*Rule{
		nil,
		{},
		{Trait: "a", Event: "b"},
		{And: []*Rule{}},
		{And: []*Rule{nil, {}}},
		{Event: "x", Where: []*Filter{nil}, Within: &Window{}},
		{Trait: "a", Op: "weird", Value: map[string]any{"x": math.NaN()}},
		{Not: &Rule{}},
	} {
		if FormatText(r) == "" {
			t.Errorf("FormatText(%#v) is empty; it should show what it could not print", r)
		}
	}
}

// TestTextRoundTripRandomTrees checks the round trip on trees built at
// random from parts chosen to be awkward for a printer: names that are
// keywords, computed fields or not plain words, strings needing escapes,
// numbers needing exponents, every operator, measure and window.
func TestTextRoundTripRandomTrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	valid := 0
	for range 20000 {
		r := awkwardRule(rng, 1)
		if r.Validate() != nil {
			continue
		}
		valid++
		if err := checkTextRoundTrip(r); err != nil {
			t.Fatal(err)
		}
	}
	if valid < 5000 {
		t.Errorf("only %d of 20000 random trees were valid; the generator needs fixing", valid)
	}
}

var (
	randNames = []string{"plan", "first name", "and", "Did", "total_spend", "all", "any", "case_sensitive",
		"ünï", "a.b", "x\"y\\z", "tab\there", "$page", "where", "in", "last", "count", "trait"}
	randProps   = []string{"category", "products[].category", "unit price", "and", "page.path", "in", "since", "all"}
	randStrings = []string{"pro", "a \"quoted\" word", "back\\slash", "line\nbreak", "2026-01-01", "30d", "true",
		"émoji 🎉", "\xff\xfe", "case_sensitive", ")"}
	randNumbers = []float64{0, -1, 2.5, 1e21, 1e-7, 123456789.125, math.MaxFloat64, 5e-324, 1, 30}
	randDates   = []string{"2026-01-01", "2026-01-01T10:00:00Z", "2026-03-01T12:00:00.5+02:00", "2026-01-01T10:00:00,5Z"}
	randDurs    = []string{"7d", "90d", "12h", "2w", "007d", "30s", "5m"}
	randIDs     = []string{"vip", "churn-risk", "a_b", "0"}
)

func awkwardRule(rng *rand.Rand, depth int) *Rule {
	k := rng.IntN(10)
	if depth >= 4 {
		k = 3 + rng.IntN(7)
	}
	switch {
	case k < 2:
		kids := make([]*Rule, 1+rng.IntN(3))
		for i := range kids {
			kids[i] = awkwardRule(rng, depth+1)
		}
		if k == 0 {
			return &Rule{And: kids}
		}
		return &Rule{Or: kids}
	case k == 2:
		return &Rule{Not: awkwardRule(rng, depth+1)}
	case k < 5:
		op, v := randomComparison(rng, true)
		return &Rule{Trait: pick(rng, randNames), Op: op, Value: v, CaseSensitive: rng.IntN(4) == 0}
	case k == 5:
		op, v := randomComparison(rng, true)
		return &Rule{Computed: pick(rng, ComputedFields()), Op: op, Value: v, CaseSensitive: rng.IntN(4) == 0}
	case k < 9:
		return randomEvent(rng)
	}
	return &Rule{Segment: pick(rng, randIDs), CaseSensitive: rng.IntN(8) == 0}
}

func randomComparison(rng *rand.Rand, relative bool) (Op, any) {
	op := pick(rng, ops)
	for !relative && op.relative() {
		op = pick(rng, ops)
	}
	scalar := func() any {
		switch rng.IntN(3) {
		case 0:
			return pick(rng, randStrings)
		case 1:
			return pick(rng, randNumbers)
		}
		return rng.IntN(2) == 0
	}
	switch op {
	case Eq, Neq:
		return op, scalar()
	case Gt, Gte, Lt, Lte:
		return op, pick(rng, randNumbers)
	case Between:
		lo, hi := pick(rng, randNumbers), pick(rng, randNumbers)
		return op, []any{min(lo, hi), max(lo, hi)}
	case In, NotIn:
		l := make([]any, 1+rng.IntN(3))
		for i := range l {
			if rng.IntN(2) == 0 {
				l[i] = pick(rng, randStrings)
			} else {
				l[i] = pick(rng, randNumbers)
			}
		}
		return op, l
	case Contains, StartsWith:
		return op, pick(rng, randStrings)
	case Exists, NotExists:
		return op, nil
	case Before, After:
		return op, pick(rng, randDates)
	}
	return op, pick(rng, randDurs)
}

func randomEvent(rng *rand.Rand) *Rule {
	r := &Rule{Event: pick(rng, append(randNames, "Order Completed")), CaseSensitive: rng.IntN(8) == 0}
	for range rng.IntN(3) {
		op, v := randomComparison(rng, false)
		r.Where = append(r.Where, &Filter{Property: pick(rng, randProps), Op: op, Value: v, CaseSensitive: rng.IntN(4) == 0})
	}
	switch rng.IntN(4) {
	case 1:
		r.Within = &Window{Last: pick(rng, randDurs)}
	case 2:
		r.Within = &Window{Since: pick(rng, randDates)}
	case 3:
		r.Within = &Window{From: "2025-12-31", To: pick(rng, randDates)}
	}
	switch m := pick(rng, []string{"", "", "", MeasureCount, MeasureSum, MeasureAvg, MeasureMin, MeasureMax, MeasureFirst, MeasureLast}); m {
	case "", MeasureCount:
		r.Measure = m
		if rng.IntN(3) > 0 {
			r.Op, r.Value = randomComparison(rng, false)
		}
	case MeasureFirst, MeasureLast:
		r.Measure = m
		r.Op, r.Value = randomComparison(rng, true)
	default:
		r.Measure, r.Of = m, pick(rng, randProps)
		r.Op, r.Value = randomComparison(rng, false)
	}
	return r
}

// textSeeds are the texts of every testdata case.
func textSeeds(f *testing.F) []string {
	files, err := filepath.Glob("testdata/text/*.txt")
	if err != nil || len(files) == 0 {
		f.Fatalf("no testdata/text/*.txt: %v", err)
	}
	var seeds []string
	for _, file := range files {
		for _, c := range readTextCases(f, file) {
			seeds = append(seeds, c.input)
		}
	}
	return seeds
}

func FuzzParseText(f *testing.F) {
	for _, s := range textSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseText(s)
		if err != nil {
			var te *TextError
			if !errors.As(err, &te) || te.Line < 1 || te.Col < 1 {
				t.Fatalf("error %v (%T) names no position", err, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseText returned an invalid rule: %v", err)
		}
		if err := checkTextRoundTrip(r); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzFormatTextOfJSON checks the round trip from the other side: every
// valid JSON rule tree prints as text that reads back as the same tree.
func FuzzFormatTextOfJSON(f *testing.F) {
	for _, s := range textSeeds(f) {
		if r, err := ParseText(s); err == nil {
			j, _ := json.Marshal(r)
			f.Add(j)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseJSON(b)
		if err != nil {
			return
		}
		if err := checkTextRoundTrip(r); err != nil {
			t.Fatal(err)
		}
	})
}
