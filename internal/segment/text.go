package segment

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The text form of a rule tree, what a marketer reads aloud:
//
//	plan in ("pro", "enterprise") and not country exists
//	did "Product Added" where category = "accessories" at least 2 times in last 90d
//
// Grammar (keywords are case-insensitive; names are not):
//
//	rule       = and { "or" and }             one Or node for the whole chain
//	and        = unary { "and" unary }        one And node for the whole chain
//	unary      = "not" unary | primary
//	primary    = "(" rule ")"                 groups; makes no node of its own
//	           | ("all" | "any") "of" "(" rule { "," rule } ")"   And / Or
//	           | name comparison              computed field if name is one, else trait
//	           | "trait" (name | string) comparison
//	           | "in" "segment" (string | name) ["case_sensitive"]
//	           | "reachable" "on" (name | string)     a channel: email, sms …
//	           | "did" ["not"] event
//	comparison = op [value] ["case_sensitive"]
//	op         = "=" | "!=" | ">" | ">=" | "<" | "<=" | "not" "in" | "not" "exists"
//	           | any operator's own name: between, in, contains, starts_with, exists,
//	             before, after, more_than_ago, less_than_ago, within_next, …
//	value      = string | number | true | false | date | duration
//	             "between" takes value "and" value; "in" a list ( value { "," value } )
//	event      = (string | name | $name) ["case_sensitive"]
//	             ["where" filter { "and" filter }] [measure] [window]  (measure and
//	             window in either order)
//	filter     = (property | string) comparison
//	measure    = "at least" N times | "at most" N times | "exactly" N times
//	           | "more than" N times | "fewer than" N times      count, Measure ""
//	           | "times" comparison                              count, Measure ""
//	           | "count" [comparison]                            Measure "count"
//	           | ("sum" | "avg" | "min" | "max") "(" property ")" comparison
//	           | ("first" | "last") comparison
//	window     = "in last" duration | "since" date | "between" date "and" date
//
// "did X" alone is did it at least once (no Measure, Op or Value); "N time"
// and "N times" are alike. Strings are Go-quoted ("a \"b\"", "\\", "\n");
// numbers are JSON numbers; dates are YYYY-MM-DD or RFC 3339 and durations
// 90d, 12h, 2w, written bare or quoted (both become strings). A name is
// [A-Za-z_][A-Za-z0-9_]*, a property a dotted path of names
// (products[].category); anything else is quoted, and so are the reserved
// words and, or, not, did, trait, in.
//
// After a bare "count", "in last" is the window, not the in operator;
// FormatText writes such a window before the count.
//
// The filters of an event run on while "and" is followed by a property: in
// `did X where a = 1 and b = 2` both are filters. To and an event condition
// with a trait, put it in parentheses or after the trait; FormatText does so.

// TextError is text that is not a usable rule: where (line and column,
// counted in characters from 1) and why. Err is the *Error of a rule that
// parsed but did not validate, nil for a syntax error.
type TextError struct {
	Line, Col int
	Msg       string
	Err       error
}

func (e *TextError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// Unwrap returns the validation *Error, if any.
func (e *TextError) Unwrap() error { return e.Err }

// ParseText parses the text form of a rule and validates it. The error is a
// *TextError naming the line and column of the problem.
func ParseText(s string) (r *Rule, err error) {
	p := &parser{src: s, toks: lex(s), rpos: map[*Rule]*rulePos{}, fpos: map[*Filter]*filterPos{}}
	defer func() {
		if e := recover(); e != nil {
			pe, ok := e.(parseError)
			if !ok {
				panic(e)
			}
			r, err = nil, p.errorAt(pe.pos, pe.msg, nil)
		}
	}()
	r = p.rule()
	if t := p.peek(); t.kind != tokEnd {
		p.fail(t, "expected and, or or the end of the rule, found %s", describe(t))
	}
	if verr := r.Validate(); verr != nil {
		var e *Error
		if errors.As(verr, &e) {
			msg := e.Msg
			// The window's messages do not say which field they are about.
			if _, field, ok := strings.Cut(e.Path, "/within/"); ok {
				msg = "time window " + field + ": " + msg
			}
			return nil, p.errorAt(p.locate(r, e.Path), msg, verr)
		}
		return nil, p.errorAt(0, verr.Error(), verr)
	}
	return r, nil
}

// String returns r in the text form.
func (r *Rule) String() string { return FormatText(r) }

// reserved are the words that cannot be bare names: they start or join
// conditions where a name could stand.
var reserved = []string{"and", "or", "not", "did", "trait", "in"}

func isReserved(w string) bool {
	return slices.ContainsFunc(reserved, func(k string) bool { return strings.EqualFold(k, w) })
}

// maxTextNesting bounds parentheses and nots, so that hostile input cannot
// recurse without bound before validation sees the tree.
const maxTextNesting = 4 * MaxDepth

// Lexer.

type tokKind uint8

const (
	tokEnd tokKind = iota
	tokWord
	tokString
	tokNumber
	tokDate
	tokDuration
	tokPunct
	tokBad // a lexing error; str holds the message
)

type token struct {
	kind tokKind
	pos  int    // byte offset in the source
	text string // as written
	str  string // value of a string, date or duration; message of tokBad
	num  float64
}

// lex splits src into tokens, ending with tokEnd or at the first tokBad.
func lex(src string) []token {
	var toks []token
	i := 0
	for {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		if i == len(src) {
			return append(toks, token{kind: tokEnd, pos: i})
		}
		t, next := lexOne(src, i)
		toks = append(toks, t)
		if t.kind == tokBad {
			return toks
		}
		i = next
	}
}

func lexOne(src string, i int) (token, int) {
	bad := func(format string, args ...any) (token, int) {
		return token{kind: tokBad, pos: i, str: fmt.Sprintf(format, args...)}, i
	}
	c := src[i]
	switch {
	case c == '"':
		j := i + 1
		for j < len(src) && src[j] != '"' && src[j] != '\n' {
			if src[j] == '\\' && j+1 < len(src) && src[j+1] != '\n' {
				j++
			}
			j++
		}
		if j >= len(src) || src[j] != '"' {
			return bad("a string without its closing quote")
		}
		text := src[i : j+1]
		s, err := strconv.Unquote(text)
		if err != nil {
			return bad(`a string with a bad escape (write \" for a quote, \\ for a backslash)`)
		}
		return token{kind: tokString, pos: i, text: text, str: s}, j + 1
	case isWordStart(c):
		j := i + 1
		for j < len(src) && isWordByte(src[j]) {
			j++
		}
		return token{kind: tokWord, pos: i, text: src[i:j]}, j
	case c >= '0' && c <= '9' || c == '-':
		j := i + 1
		for j < len(src) && isValueByte(src[j]) {
			j++
		}
		text := src[i:j]
		switch {
		case isJSONNumber(text):
			f, err := strconv.ParseFloat(text, 64)
			if err != nil {
				return bad("number %s is out of range", text)
			}
			return token{kind: tokNumber, pos: i, text: text, num: f}, j
		case isDurationText(text):
			return token{kind: tokDuration, pos: i, text: text, str: text}, j
		}
		if _, err := ParseTime(text); err == nil {
			return token{kind: tokDate, pos: i, text: text, str: text}, j
		} else if len(text) >= 10 && text[4] == '-' && text[7] == '-' {
			return bad("%v", err)
		}
		return bad("%s is not a number, a date (YYYY-MM-DD or RFC 3339) or a duration (like 30d)", text)
	case c == '(' || c == ')' || c == ',' || c == '=':
		return token{kind: tokPunct, pos: i, text: src[i : i+1]}, i + 1
	case c == '<' || c == '>' || c == '!':
		if i+1 < len(src) && src[i+1] == '=' {
			return token{kind: tokPunct, pos: i, text: src[i : i+2]}, i + 2
		}
		if c == '!' {
			return bad(`unexpected "!" (!= is "not equal")`)
		}
		return token{kind: tokPunct, pos: i, text: src[i : i+1]}, i + 1
	}
	r, _ := utf8.DecodeRuneInString(src[i:])
	return bad("unexpected character %q (quote names that are not plain words)", r)
}

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$'
}

func isWordByte(c byte) bool {
	return isWordStart(c) && c != '$' || c >= '0' && c <= '9' || c == '.' || c == '[' || c == ']'
}

// isValueByte covers numbers, dates with times and offsets, and durations.
func isValueByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '+' || c == '-' || c == '_'
}

// isJSONNumber reports whether s is a number in JSON syntax.
func isJSONNumber(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// isDurationText reports whether s has the shape of a duration: digits and
// a unit. ParseDuration, in validation, checks the rest.
func isDurationText(s string) bool {
	if len(s) < 2 || !strings.ContainsRune("smhdw", rune(s[len(s)-1])) {
		return false
	}
	for i := 0; i < len(s)-1; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isIdent reports whether s is a plain name.
func isIdent(s string) bool {
	if s == "" || !isWordStart(s[0]) || s[0] == '$' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(isWordStart(c) && c != '$' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isBarePath reports whether s is a property path that needs no quotes:
// names joined by dots, each maybe followed by [].
func isBarePath(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if !isIdent(strings.TrimSuffix(part, "[]")) {
			return false
		}
	}
	return true
}

// isEventWord reports whether s is an event name that needs no quotes: a
// name, or a $-prefixed event key ($page, $identify).
func isEventWord(s string) bool {
	return isIdent(strings.TrimPrefix(s, "$"))
}

// lexesAs reports whether s, written bare, reads back as one token of kind.
func lexesAs(s string, kind tokKind) bool {
	toks := lex(s)
	return len(toks) == 2 && toks[0].kind == kind && toks[0].pos == 0 && toks[0].text == s
}

// Parser.

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
	nodes int
	rpos  map[*Rule]*rulePos
	fpos  map[*Filter]*filterPos
}

// rulePos and filterPos remember where the parts of a node were written,
// so that a validation error (a JSON Pointer) can point into the text.
// -1 is unknown.
type rulePos struct{ node, name, op, value, measure, window, to int }
type filterPos struct{ node, op, value int }

// parseError is the panic that unwinds a failed parse to ParseText.
type parseError struct {
	pos int
	msg string
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEnd && t.kind != tokBad {
		p.i++
	}
	return t
}

func isWord(t token, kw string) bool { return t.kind == tokWord && strings.EqualFold(t.text, kw) }
func isPunct(t token, s string) bool { return t.kind == tokPunct && t.text == s }

func (p *parser) acceptWord(kw string) bool {
	if isWord(p.peek(), kw) {
		p.next()
		return true
	}
	return false
}

func (p *parser) acceptPunct(s string) bool {
	if isPunct(p.peek(), s) {
		p.next()
		return true
	}
	return false
}

// fail stops the parse at t. A lexing error at t is the better message.
func (p *parser) fail(t token, format string, args ...any) {
	if t.kind == tokBad {
		panic(parseError{t.pos, t.str})
	}
	panic(parseError{t.pos, fmt.Sprintf(format, args...)})
}

func describe(t token) string {
	switch t.kind {
	case tokEnd:
		return "the end of the rule"
	case tokString:
		if s := short(t.text); s != t.text {
			return s + `"`
		}
		return t.text
	}
	return strconv.Quote(short(t.text))
}

// short cuts s to 40 characters for a message.
func short(s string) string {
	n := 0
	for i := range s {
		if n == 40 {
			return s[:i] + "..."
		}
		n++
	}
	return s
}

func (p *parser) errorAt(pos int, msg string, err error) *TextError {
	line, col := p.lineCol(pos)
	return &TextError{Line: line, Col: col, Msg: msg, Err: err}
}

func (p *parser) lineCol(pos int) (line, col int) {
	pos = min(max(pos, 0), len(p.src))
	start := strings.LastIndexByte(p.src[:pos], '\n') + 1
	return 1 + strings.Count(p.src[:start], "\n"), 1 + utf8.RuneCountInString(p.src[start:pos])
}

func (p *parser) where(pos int) string {
	line, col := p.lineCol(pos)
	return fmt.Sprintf("%d:%d", line, col)
}

// node registers a new node written at t.
func (p *parser) node(r *Rule, t token) *rulePos {
	p.nodes++
	if p.nodes > MaxNodes {
		p.fail(t, "more than %d nodes", MaxNodes)
	}
	rp := &rulePos{node: t.pos, name: -1, op: -1, value: -1, measure: -1, window: -1, to: -1}
	p.rpos[r] = rp
	return rp
}

func (p *parser) enter(t token) {
	p.depth++
	if p.depth > maxTextNesting {
		p.fail(t, "nested deeper than %d parentheses and nots", maxTextNesting)
	}
}

func (p *parser) rule() *Rule {
	start := p.peek()
	first := p.and()
	if !isWord(p.peek(), "or") {
		return first
	}
	r := &Rule{Or: []*Rule{first}}
	p.node(r, start)
	for p.acceptWord("or") {
		r.Or = append(r.Or, p.and())
	}
	return r
}

func (p *parser) and() *Rule {
	start := p.peek()
	first := p.unary()
	if !isWord(p.peek(), "and") {
		return first
	}
	r := &Rule{And: []*Rule{first}}
	p.node(r, start)
	for p.acceptWord("and") {
		r.And = append(r.And, p.unary())
	}
	return r
}

func (p *parser) unary() *Rule {
	t := p.peek()
	if !isWord(t, "not") {
		return p.primary()
	}
	p.next()
	p.enter(t)
	r := &Rule{}
	p.node(r, t)
	r.Not = p.unary()
	p.depth--
	return r
}

func (p *parser) primary() *Rule {
	t := p.peek()
	switch {
	case isPunct(t, "("):
		p.next()
		p.enter(t)
		r := p.rule()
		if !p.acceptPunct(")") {
			n := p.peek()
			p.fail(n, `expected and, or or ")" to close the "(" at %s, found %s`, p.where(t.pos), describe(n))
		}
		p.depth--
		return r
	case (isWord(t, "all") || isWord(t, "any")) && isWord(p.peekAt(1), "of"):
		p.next()
		p.next()
		open := p.peek()
		if !p.acceptPunct("(") {
			p.fail(open, `expected "(" after "%s of", found %s`, strings.ToLower(t.text), describe(open))
		}
		p.enter(open)
		r := &Rule{}
		p.node(r, t)
		var kids []*Rule
		for {
			kids = append(kids, p.rule())
			if !p.acceptPunct(",") {
				break
			}
		}
		if !p.acceptPunct(")") {
			n := p.peek()
			p.fail(n, `expected and, or, "," or ")" to close the "(" at %s, found %s`, p.where(open.pos), describe(n))
		}
		p.depth--
		if isWord(t, "all") {
			r.And = kids
		} else {
			r.Or = kids
		}
		return r
	case isWord(t, "did"):
		return p.event()
	case isWord(t, "in"):
		p.next()
		if !p.acceptWord("segment") {
			n := p.peek()
			p.fail(n, `expected "segment" after "in" (in segment "vip"), found %s`, describe(n))
		}
		id := p.peek()
		r := &Rule{}
		switch {
		case id.kind == tokString:
			r.Segment = id.str
		case id.kind == tokWord && !isReserved(id.text):
			r.Segment = id.text
		default:
			p.fail(id, `expected a segment id after "in segment", like "vip", found %s`, describe(id))
		}
		p.next()
		p.node(r, t).name = id.pos
		r.CaseSensitive = p.acceptWord("case_sensitive")
		return r
	case isWord(t, "reachable") && isWord(p.peekAt(1), "on"):
		// Not reserved: "on" is no operator, so a trait named reachable
		// still reads as one ("reachable = true").
		p.next()
		p.next()
		ch := p.peek()
		r := &Rule{}
		switch ch.kind {
		case tokString:
			r.Reachable = ch.str
		case tokWord:
			r.Reachable = ch.text
		default:
			p.fail(ch, `expected a channel after "reachable on", like email, found %s`, describe(ch))
		}
		p.next()
		p.node(r, t).name = ch.pos
		return r
	case isWord(t, "trait"):
		p.next()
		n := p.peek()
		r := &Rule{}
		switch {
		case n.kind == tokString:
			r.Trait = n.str
		case n.kind == tokWord && isIdent(n.text):
			r.Trait = n.text
		default:
			p.fail(n, `expected a trait name after "trait", like trait "first name", found %s`, describe(n))
		}
		p.next()
		rp := p.node(r, t)
		rp.name = n.pos
		c := p.comparison(describe(n))
		r.Op, r.Value, r.CaseSensitive, rp.op, rp.value = c.op, c.value, c.cs, c.opPos, c.valuePos
		return r
	case t.kind == tokWord:
		if isReserved(t.text) {
			p.fail(t, `expected a condition, found %s (a trait of that name is written trait %q)`, describe(t), t.text)
		}
		if !isIdent(t.text) {
			p.fail(t, `%s is not a plain name: write trait %q`, describe(t), t.text)
		}
		p.next()
		r := &Rule{}
		if _, ok := computedFields[t.text]; ok {
			r.Computed = t.text
		} else {
			r.Trait = t.text
		}
		rp := p.node(r, t)
		rp.name = t.pos
		c := p.comparison(describe(t))
		r.Op, r.Value, r.CaseSensitive, rp.op, rp.value = c.op, c.value, c.cs, c.opPos, c.valuePos
		return r
	case t.kind == tokString:
		p.fail(t, "expected a condition, found %s (a trait with that name is written trait %s)", describe(t), describe(t))
	}
	p.fail(t, `expected a condition (a trait, did EVENT, in segment ID, not or "("), found %s`, describe(t))
	return nil
}

// cmpText is a parsed comparison and where its parts were written.
type cmpText struct {
	op              Op
	value           any
	cs              bool
	opPos, valuePos int
}

var punctOps = map[string]Op{"=": Eq, "!=": Neq, ">": Gt, ">=": Gte, "<": Lt, "<=": Lte}

// opAhead reports whether an operator starts at the current token; "in
// last" is a window, not the in operator.
func (p *parser) opAhead() bool {
	t := p.peek()
	if t.kind == tokPunct {
		_, ok := punctOps[t.text]
		return ok
	}
	if t.kind != tokWord {
		return false
	}
	switch w := strings.ToLower(t.text); w {
	case "not":
		n := p.peekAt(1)
		return isWord(n, "in") || isWord(n, "exists")
	case "in":
		return !isWord(p.peekAt(1), "last")
	default:
		return slices.Contains(ops, Op(w))
	}
}

// comparison parses an operator, its operand and the case_sensitive flag;
// subject names what is compared, for messages.
func (p *parser) comparison(subject string) cmpText {
	t := p.peek()
	c := cmpText{opPos: t.pos, valuePos: -1}
	if !p.opAhead() {
		if isWord(t, "not") {
			n := p.peekAt(1)
			p.fail(n, `expected "in" or "exists" after "not", found %s`, describe(n))
		}
		p.fail(t, "expected an operator after %s (=, !=, >, >=, <, <=, between, in, not in, contains, starts_with, exists, not exists, before, after, more_than_ago, less_than_ago, within_next, anniversary_within_next), found %s", subject, describe(t))
	}
	p.next()
	opText := strings.ToLower(t.text)
	switch {
	case t.kind == tokPunct:
		c.op = punctOps[t.text]
	case opText == "not":
		n := p.next()
		c.op, opText = NotExists, "not exists"
		if isWord(n, "in") {
			c.op, opText = NotIn, "not in"
		}
	default:
		c.op = Op(opText)
	}
	c.valuePos = p.peek().pos
	switch c.op {
	case Exists, NotExists:
		c.valuePos = -1
	case Between:
		lo := p.value(`"between"`)
		if !p.acceptWord("and") {
			n := p.peek()
			p.fail(n, `expected "and" after between %s, found %s`, p.toks[p.i-1].text, describe(n))
		}
		c.value = []any{lo, p.value(`"and"`)}
	case In, NotIn:
		c.value = p.list(opText)
	default:
		c.value = p.value(strconv.Quote(opText))
	}
	c.cs = p.acceptWord("case_sensitive")
	return c
}

func (p *parser) value(after string) any {
	t := p.peek()
	switch {
	case t.kind == tokString || t.kind == tokDate || t.kind == tokDuration:
		p.next()
		return t.str
	case t.kind == tokNumber:
		p.next()
		return t.num
	case isWord(t, "true"), isWord(t, "false"):
		p.next()
		return isWord(t, "true")
	case t.kind == tokWord:
		p.fail(t, "expected a value after %s, found %s (strings are quoted: %q)", after, describe(t), short(t.text))
	case t.kind == tokEnd:
		p.fail(t, "expected a value after %s", after)
	case isPunct(t, "=") && after == `"="`:
		p.fail(t, `expected a value after "=", found another "=" (equality is one "=")`)
	}
	p.fail(t, "expected a value after %s (a quoted string, a number, true, false, a date like 2026-01-31 or a duration like 30d), found %s", after, describe(t))
	return nil
}

func (p *parser) list(op string) []any {
	open := p.peek()
	if !p.acceptPunct("(") {
		p.fail(open, `expected a list after %q, like ("a", "b"), found %s`, op, describe(open))
	}
	var l []any
	for {
		if len(l) == MaxListValues {
			p.fail(p.peek(), "%s: more than %d values", op, MaxListValues)
		}
		l = append(l, p.value(strconv.Quote(p.toks[p.i-1].text)))
		if !p.acceptPunct(",") {
			break
		}
	}
	if !p.acceptPunct(")") {
		n := p.peek()
		p.fail(n, `expected "," or ")" to close the list at %s, found %s`, p.where(open.pos), describe(n))
	}
	return l
}

func (p *parser) event() *Rule {
	did := p.next()
	if isWord(p.peek(), "not") { // "did not X" is "not did X"
		p.next()
		r := &Rule{}
		p.node(r, did)
		r.Not = p.eventBody(did)
		return r
	}
	return p.eventBody(did)
}

func (p *parser) eventBody(did token) *Rule {
	n := p.peek()
	r := &Rule{}
	switch {
	case n.kind == tokString:
		r.Event = n.str
	case n.kind == tokWord && isEventWord(n.text) && !isReserved(n.text):
		r.Event = n.text
	default:
		p.fail(n, `expected an event after "did", like did "Order Completed" or did $page, found %s`, describe(n))
	}
	p.next()
	rp := p.node(r, did)
	rp.name = n.pos
	r.CaseSensitive = p.acceptWord("case_sensitive")
	if p.acceptWord("where") {
		for {
			r.Where = append(r.Where, p.filter())
			if !isWord(p.peek(), "and") || !p.filterAhead(1) {
				break
			}
			p.next()
		}
	}
	measured := false
	for {
		t := p.peek()
		switch {
		case isWord(t, "since"), isWord(t, "between"), isWord(t, "in") && isWord(p.peekAt(1), "last"):
			if r.Within != nil {
				p.fail(t, "a second time window; an event condition has one")
			}
			p.window(r, rp)
		case p.measureAhead():
			if measured {
				p.fail(t, "a second count or measure; an event condition compares one")
			}
			measured = true
			p.measure(r, rp)
		case isWord(t, "case_sensitive"):
			p.next()
			r.CaseSensitive = true
		default:
			return r
		}
	}
}

// filterAhead reports whether a filter starts k tokens ahead: after "and",
// a property continues the filters, anything else (not, did, "(") starts
// the next condition.
func (p *parser) filterAhead(k int) bool {
	t := p.peekAt(k)
	if (isWord(t, "all") || isWord(t, "any")) && isWord(p.peekAt(k+1), "of") {
		return false
	}
	return t.kind == tokString || t.kind == tokWord && !isReserved(t.text)
}

func (p *parser) filter() *Filter {
	t := p.peek()
	f := &Filter{}
	switch {
	case t.kind == tokString:
		f.Property = t.str
	case t.kind == tokWord && !isReserved(t.text) && isBarePath(t.text):
		f.Property = t.text
	case t.kind == tokWord && !isReserved(t.text):
		p.fail(t, "%s is not a property path: quote it, %q", describe(t), t.text)
	default:
		p.fail(t, `expected an event property, like where category = "shoes", found %s`, describe(t))
	}
	p.next()
	c := p.comparison(describe(t))
	f.Op, f.Value, f.CaseSensitive = c.op, c.value, c.cs
	p.fpos[f] = &filterPos{node: t.pos, op: c.opPos, value: c.valuePos}
	return f
}

var measureWords = []string{"at", "exactly", "more", "fewer", "less", "times",
	MeasureCount, MeasureSum, MeasureAvg, MeasureMin, MeasureMax, MeasureFirst, MeasureLast}

func (p *parser) measureAhead() bool {
	t := p.peek()
	return t.kind == tokWord && slices.Contains(measureWords, strings.ToLower(t.text))
}

// countPhrases are the readable forms of count comparisons without a
// Measure; other operators are written "times OP VALUE".
var countPhrases = map[Op]string{Gte: "at least", Lte: "at most", Eq: "exactly", Gt: "more than", Lt: "fewer than"}

func (p *parser) measure(r *Rule, rp *rulePos) {
	t := p.next()
	rp.measure = t.pos
	w := strings.ToLower(t.text)
	setCmp := func(c cmpText) {
		r.Op, r.Value, rp.op, rp.value = c.op, c.value, c.opPos, c.valuePos
		r.CaseSensitive = r.CaseSensitive || c.cs
	}
	switch w {
	case "at", "exactly", "more", "fewer", "less":
		var op Op
		phrase := w
		switch w {
		case "at":
			n := p.next()
			switch {
			case isWord(n, "least"):
				op = Gte
			case isWord(n, "most"):
				op = Lte
			default:
				p.fail(n, `expected "least" or "most" after "at", found %s`, describe(n))
			}
			phrase += " " + strings.ToLower(n.text)
		case "exactly":
			op = Eq
		default:
			if !p.acceptWord("than") {
				n := p.peek()
				p.fail(n, `expected "than" after %q, found %s`, w, describe(n))
			}
			op = Lt
			if w == "more" {
				op = Gt
			}
			phrase += " than"
		}
		n := p.peek()
		if n.kind != tokNumber {
			p.fail(n, `expected a number after %q, like %s 2 times, found %s`, phrase, phrase, describe(n))
		}
		p.next()
		if !p.acceptWord("times") && !p.acceptWord("time") {
			m := p.peek()
			p.fail(m, `expected "times" after %s %s, found %s`, phrase, n.text, describe(m))
		}
		r.Op, r.Value, rp.op, rp.value = op, n.num, t.pos, n.pos
	case "times":
		setCmp(p.comparison(`"times"`))
	case MeasureCount:
		r.Measure = w
		if p.opAhead() {
			setCmp(p.comparison(`"count"`))
		}
	case MeasureSum, MeasureAvg, MeasureMin, MeasureMax:
		r.Measure = w
		if !p.acceptPunct("(") {
			n := p.peek()
			p.fail(n, `expected "(" after %q, like %s(revenue), found %s`, w, w, describe(n))
		}
		n := p.peek()
		switch {
		case n.kind == tokString:
			r.Of = n.str
		case n.kind == tokWord && isBarePath(n.text):
			r.Of = n.text
		default:
			p.fail(n, "expected the numeric property to %s, like %s(revenue), found %s", w, w, describe(n))
		}
		p.next()
		if !p.acceptPunct(")") {
			m := p.peek()
			p.fail(m, `expected ")" after %s(%s, found %s`, w, n.text, describe(m))
		}
		setCmp(p.comparison(fmt.Sprintf("%s(%s)", w, n.text)))
	default: // first, last
		r.Measure = w
		setCmp(p.comparison(strconv.Quote(w)))
	}
}

func (p *parser) window(r *Rule, rp *rulePos) {
	t := p.next()
	rp.window = t.pos
	w := &Window{}
	r.Within = w
	switch strings.ToLower(t.text) {
	case "in":
		p.next() // "last"
		d := p.peek()
		if d.kind != tokDuration && d.kind != tokString {
			p.fail(d, `expected a duration after "in last", like 90d, found %s`, describe(d))
		}
		p.next()
		w.Last = d.str
	case "since":
		w.Since = p.date(`"since"`)
	default: // between
		w.From = p.date(`"between"`)
		if !p.acceptWord("and") {
			n := p.peek()
			p.fail(n, `expected "and" after between %s, found %s`, w.From, describe(n))
		}
		rp.to = p.peek().pos
		w.To = p.date(`"and"`)
	}
}

func (p *parser) date(after string) string {
	t := p.peek()
	if t.kind != tokDate && t.kind != tokString {
		p.fail(t, "expected a date after %s, like 2026-01-31 or 2026-01-31T09:00:00Z, found %s", after, describe(t))
	}
	p.next()
	return t.str
}

// locate finds where the node or field at a validation error's path (a
// JSON Pointer into r) was written; the closest known place when the
// exact one is not recorded.
func (p *parser) locate(r *Rule, path string) int {
	at := 0
	pick := func(pos int) {
		if pos >= 0 {
			at = pos
		}
	}
	parts := strings.Split(path, "/")[1:]
	index := func(i, n int) (int, bool) {
		if i >= len(parts) {
			return 0, false
		}
		k, err := strconv.Atoi(parts[i])
		return k, err == nil && k >= 0 && k < n
	}
	for i := 0; r != nil; i++ {
		rp := p.rpos[r]
		if rp == nil {
			return at
		}
		pick(rp.node)
		if i >= len(parts) {
			return at
		}
		switch parts[i] {
		case "and", "or":
			kids := r.And
			if parts[i] == "or" {
				kids = r.Or
			}
			k, ok := index(i+1, len(kids))
			if !ok {
				return at
			}
			r, i = kids[k], i+1
			continue
		case "not":
			r = r.Not
			continue
		case "where":
			k, ok := index(i+1, len(r.Where))
			if !ok {
				return at
			}
			if fp := p.fpos[r.Where[k]]; fp != nil {
				pick(fp.node)
				if i+2 < len(parts) {
					switch parts[i+2] {
					case "op":
						pick(fp.op)
					case "value":
						pick(fp.value)
					}
				}
			}
		case "trait", "computed", "event", "segment", "reachable":
			pick(rp.name)
		case "op":
			pick(rp.op)
		case "value":
			pick(rp.value)
		case "measure", "of":
			pick(rp.measure)
		case "within":
			pick(rp.window)
			if i+1 < len(parts) && parts[i+1] == "to" {
				pick(rp.to)
			}
		}
		return at
	}
	return at
}

// Formatter.

// FormatText prints r in the text form, on one line: keywords in lower
// case, names bare where they can be and quoted otherwise, parentheses only
// around nested groups and where an event's filters would run on. For a
// valid tree ParseText(FormatText(r)) equals r (an empty Where reads back
// as none). A tree that does not validate is printed as well as it can be,
// and may not parse.
func FormatText(r *Rule) string {
	var b strings.Builder
	writeRule(&b, r, false)
	return b.String()
}

// writeRule writes r. andFollows says the text after r may start with
// "and", which would read as one more filter of an event that ends with
// its filters; such an event is closed in parentheses.
func writeRule(b *strings.Builder, r *Rule, andFollows bool) {
	if r == nil {
		b.WriteString("<nil>")
		return
	}
	switch r.Kind() {
	case KindAnd:
		writeGroup(b, "and", "all", r.And, andFollows)
	case KindOr:
		writeGroup(b, "or", "any", r.Or, andFollows)
	case KindNot:
		b.WriteString("not ")
		writeOperand(b, r.Not, andFollows)
	case KindTrait:
		if _, computed := computedFields[r.Trait]; isIdent(r.Trait) && !isReserved(r.Trait) && !computed {
			b.WriteString(r.Trait)
		} else {
			b.WriteString("trait " + strconv.Quote(r.Trait))
		}
		writeComparison(b, r.Op, r.Value, r.CaseSensitive)
	case KindComputed:
		b.WriteString(r.Computed)
		writeComparison(b, r.Op, r.Value, r.CaseSensitive)
	case KindSegment:
		b.WriteString("in segment " + strconv.Quote(r.Segment))
		writeComparison(b, r.Op, r.Value, r.CaseSensitive)
	case KindEvent:
		writeEvent(b, r, andFollows)
	case KindReachable:
		b.WriteString("reachable on ")
		if isIdent(r.Reachable) && !isReserved(r.Reachable) {
			b.WriteString(r.Reachable)
		} else {
			b.WriteString(strconv.Quote(r.Reachable))
		}
	default:
		j, err := json.Marshal(r)
		if err != nil {
			j = []byte("?")
		}
		b.WriteString("<not one kind of node: " + string(j) + ">")
	}
}

func writeGroup(b *strings.Builder, word, single string, kids []*Rule, andFollows bool) {
	if len(kids) < 2 {
		b.WriteString(single + " of (")
		for _, k := range kids {
			writeRule(b, k, false)
		}
		b.WriteString(")")
		return
	}
	for i, k := range kids {
		if i > 0 {
			b.WriteString(" " + word + " ")
		}
		last := i == len(kids)-1
		writeOperand(b, k, last && andFollows || !last && word == "and")
	}
}

// writeOperand writes an operand of and, or or not: a chain of two or more
// in parentheses, so that precedence and the chain's own node survive.
func writeOperand(b *strings.Builder, r *Rule, andFollows bool) {
	if r != nil && (r.Kind() == KindAnd && len(r.And) > 1 || r.Kind() == KindOr && len(r.Or) > 1) {
		b.WriteString("(")
		writeRule(b, r, false)
		b.WriteString(")")
		return
	}
	writeRule(b, r, andFollows)
}

var opTexts = map[Op]string{Eq: "=", Neq: "!=", Gt: ">", Gte: ">=", Lt: "<", Lte: "<=", NotIn: "not in", NotExists: "not exists"}

func writeComparison(b *strings.Builder, op Op, value any, caseSensitive bool) {
	if op != "" {
		b.WriteString(" " + cmp.Or(opTexts[op], string(op)))
	}
	l, isList := value.([]any)
	switch {
	case op == Between && isList && len(l) == 2:
		b.WriteString(" " + formatValue(op, l[0]) + " and " + formatValue(op, l[1]))
	case value != nil:
		b.WriteString(" " + formatValue(op, value))
	}
	if caseSensitive {
		b.WriteString(" case_sensitive")
	}
}

func formatValue(op Op, v any) string {
	switch v := v.(type) {
	case string:
		if (op == Before || op == After) && lexesAs(v, tokDate) || op.relative() && lexesAs(v, tokDuration) {
			return v
		}
		return strconv.Quote(v)
	case float64:
		return formatNumber(v)
	case float32:
		return formatNumber(float64(v))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		return fmt.Sprint(v)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = formatValue(op, x)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return strconv.Quote(fmt.Sprint(v))
}

// formatNumber writes f as encoding/json does: the shortest text that
// reads back as f, in exponent form only when very large or small.
func formatNumber(f float64) string {
	j, err := json.Marshal(f)
	if err != nil { // NaN or infinity: no rule holds one
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return string(j)
}

func writeProperty(b *strings.Builder, s string) {
	if isBarePath(s) && !isReserved(s) {
		b.WriteString(s)
	} else {
		b.WriteString(strconv.Quote(s))
	}
}

func writeEvent(b *strings.Builder, r *Rule, andFollows bool) {
	noMeasure := r.Measure == "" && r.Op == "" && r.Value == nil
	countOnly := r.Measure == MeasureCount && r.Op == "" && r.Value == nil
	closed := andFollows && len(r.Where) > 0 && noMeasure && r.Within == nil
	if closed {
		b.WriteString("(")
	}
	b.WriteString("did ")
	if isEventWord(r.Event) && !isReserved(r.Event) {
		b.WriteString(r.Event)
	} else {
		b.WriteString(strconv.Quote(r.Event))
	}
	if r.CaseSensitive {
		b.WriteString(" case_sensitive")
	}
	for i, f := range r.Where {
		if i == 0 {
			b.WriteString(" where ")
		} else {
			b.WriteString(" and ")
		}
		if f == nil {
			b.WriteString("<nil>")
			continue
		}
		writeProperty(b, f.Property)
		writeComparison(b, f.Op, f.Value, f.CaseSensitive)
	}
	// A bare count reads its operator, if any, next: "count in last 7d"
	// would not be a window, so the window goes first.
	if countOnly {
		writeWindow(b, r.Within)
	}
	switch {
	case noMeasure:
	case r.Measure == "":
		if n, ok := r.Value.(float64); ok && countPhrases[r.Op] != "" {
			b.WriteString(" " + countPhrases[r.Op] + " " + formatNumber(n) + " time")
			if n != 1 {
				b.WriteString("s")
			}
		} else {
			b.WriteString(" times")
			writeComparison(b, r.Op, r.Value, false)
		}
	case r.Measure == MeasureSum || r.Measure == MeasureAvg || r.Measure == MeasureMin || r.Measure == MeasureMax:
		b.WriteString(" " + r.Measure + "(")
		writeProperty(b, r.Of)
		b.WriteString(")")
		writeComparison(b, r.Op, r.Value, false)
	default:
		b.WriteString(" " + r.Measure)
		writeComparison(b, r.Op, r.Value, false)
	}
	if !countOnly {
		writeWindow(b, r.Within)
	}
	if closed {
		b.WriteString(")")
	}
}

func writeWindow(b *strings.Builder, w *Window) {
	if w == nil {
		return
	}
	bare := func(s string, kind tokKind) string {
		if lexesAs(s, kind) {
			return s
		}
		return strconv.Quote(s)
	}
	if w.Last != "" {
		b.WriteString(" in last " + bare(w.Last, tokDuration))
	}
	if w.Since != "" {
		b.WriteString(" since " + bare(w.Since, tokDate))
	}
	if w.From != "" || w.To != "" {
		b.WriteString(" between " + bare(w.From, tokDate) + " and " + bare(w.To, tokDate))
	}
}
