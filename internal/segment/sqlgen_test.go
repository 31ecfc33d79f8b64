package segment

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the independent engine: pure Go, test-only
)

// An SQL statement of what a rule means, for SQLite, written from the
// documented semantics (Rule, refComputed and refEvent's doc comments,
// event.OrderRevenue) and not from the evaluators' code: it shares with
// them only the Rule type and named constants (event names, lifecycle
// stages and default thresholds). Every value is stored as the JSON the API
// receives (as JSONB, SQLite's parsed form, to spare a parse per call);
// SQLite's JSON functions read it, json_type keeps the types apart (a
// number operand matches only JSON numbers), and lower() folds strings.
// Times are unix seconds.
//
// Every condition is built to yield 0 or 1, never NULL: a NULL (a missing
// value) turned into false by COALESCE at each leaf is what makes not(…)
// include the profiles without the value, as the semantics say.

// errSQLUnsupported marks a rule the translator leaves to the other
// property tests: segment conditions.
var errSQLUnsupported = errors.New("not translated to SQL")

// sqlSchema holds one profile per row of profiles, every trait (JSON nulls
// too: the SQL must treat them as absent) and every event, future ones
// included: the SQL must ignore those.
const sqlSchema = `
CREATE TABLE profiles (id TEXT PRIMARY KEY);
CREATE TABLE traits (profile TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL);
CREATE TABLE events (profile TEXT NOT NULL, key TEXT NOT NULL, time INTEGER NOT NULL, props BLOB NOT NULL);
CREATE INDEX traits_by_profile ON traits (profile, key);
CREATE INDEX events_by_profile ON events (profile, key, time);
`

// openSQL opens an in-memory SQLite database with the schema. One
// connection: every connection to ":memory:" is a database of its own.
func openSQL(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(sqlSchema); err != nil {
		t.Fatalf("create the schema: %v", err)
	}
	return db
}

// loadSQL replaces the tables' rows with ps.
func loadSQL(t testing.TB, db *sql.DB, ps []*RefProfile) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback()
	for _, table := range []string{"profiles", "traits", "events"} {
		if _, err := tx.Exec("DELETE FROM " + table); err != nil {
			t.Fatalf("empty %s: %v", table, err)
		}
	}
	prof, err := tx.Prepare("INSERT INTO profiles (id) VALUES (?)")
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	trait, err := tx.Prepare("INSERT INTO traits (profile, key, value) VALUES (?, ?, jsonb(?))")
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	ev, err := tx.Prepare("INSERT INTO events (profile, key, time, props) VALUES (?, ?, ?, jsonb(?))")
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	asJSON := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("encode %v: %v", v, err)
		}
		return string(b)
	}
	for _, p := range ps {
		if _, err := prof.Exec(p.ID); err != nil {
			t.Fatalf("insert profile %s: %v", p.ID, err)
		}
		for k, v := range p.Traits {
			if _, err := trait.Exec(p.ID, k, asJSON(v)); err != nil {
				t.Fatalf("insert trait %s of %s: %v", k, p.ID, err)
			}
		}
		for _, e := range p.Events {
			props := e.Properties
			if props == nil {
				props = map[string]any{}
			}
			if _, err := ev.Exec(p.ID, e.Key, e.Time, asJSON(props)); err != nil {
				t.Fatalf("insert event of %s: %v", p.ID, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// queryIDs runs a query that returns profile ids.
func queryIDs(db *sql.DB, query string, args []any) (map[string]bool, error) {
	rows, err := db.Query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rows: %w", err)
	}
	return ids, nil
}

// sqlQuery builds one statement. Arguments are numbered (?N) so that a
// fragment may be built, reused or placed in any order.
type sqlQuery struct {
	now   int64
	args  []any
	alias int
}

// sqlRule translates r, evaluated at now, into a query returning the ids
// of the matching profiles; errSQLUnsupported when r uses what the
// translator leaves out.
func sqlRule(r *Rule, now int64) (string, []any, error) {
	q := &sqlQuery{now: now}
	cond, err := q.rule(r)
	if err != nil {
		return "", nil, err
	}
	return "SELECT p.id FROM profiles AS p WHERE " + cond, q.args, nil
}

func (q *sqlQuery) arg(v any) string {
	q.args = append(q.args, v)
	return "?" + strconv.Itoa(len(q.args))
}

func (q *sqlQuery) nowArg() string { return strconv.FormatInt(q.now, 10) }

// name returns a fresh alias.
func (q *sqlQuery) name(prefix string) string {
	q.alias++
	return prefix + strconv.Itoa(q.alias)
}

func (q *sqlQuery) rule(r *Rule) (string, error) {
	switch r.Kind() {
	case KindAnd, KindOr:
		kids, sep := r.And, " AND "
		if r.Kind() == KindOr {
			kids, sep = r.Or, " OR "
		}
		parts := make([]string, len(kids))
		for i, k := range kids {
			c, err := q.rule(k)
			if err != nil {
				return "", err
			}
			parts[i] = c
		}
		return "(" + strings.Join(parts, sep) + ")", nil
	case KindNot:
		c, err := q.rule(r.Not)
		if err != nil {
			return "", err
		}
		return "(NOT " + c + ")", nil
	case KindTrait:
		return q.trait(r)
	case KindComputed:
		return q.computed(r)
	case KindEvent:
		return q.event(r)
	}
	return "", fmt.Errorf("%w: node kind %v", errSQLUnsupported, r.Kind())
}

// trait: the trait's JSON value, where a null is no value.
func (q *sqlQuery) trait(r *Rule) (string, error) {
	tr := q.name("tr")
	typ := "json_type(" + tr + ".value)"
	val := "json_extract(" + tr + ".value, '$')"
	from := fmt.Sprintf("FROM traits AS %s WHERE %s.profile = p.id AND %s.key = %s", tr, tr, tr, q.arg(r.Trait))
	if r.Op == NotExists {
		return fmt.Sprintf("(NOT EXISTS (SELECT 1 %s AND %s))", from, sqlPresent(typ)), nil
	}
	m, err := q.match(r.Op, r.Value, r.CaseSensitive, typ, val)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("(EXISTS (SELECT 1 %s AND %s))", from, m), nil
}

func sqlPresent(typ string) string {
	return "(" + typ + " IS NOT NULL AND " + typ + " <> 'null')"
}

// match is the condition that a value of JSON type typ (json_type's answer,
// NULL when absent) and SQL value val (json_extract's) compares with the
// operand; it may be NULL where the value is missing, which callers read as
// false.
func (q *sqlQuery) match(op Op, value any, caseSensitive bool, typ, val string) (string, error) {
	fold := func(s string) string {
		if caseSensitive {
			return s
		}
		return "lower(" + s + ")"
	}
	isText := "(" + typ + " = 'text')"
	isNum := "(" + typ + " IN ('integer', 'real'))"
	switch op {
	case Exists:
		return sqlPresent(typ), nil
	case NotExists:
		return "(NOT " + sqlPresent(typ) + ")", nil
	case Eq, Neq:
		cmp := map[Op]string{Eq: "=", Neq: "<>"}[op]
		switch x := value.(type) {
		case string:
			return fmt.Sprintf("(%s AND %s %s %s)", isText, fold(val), cmp, fold(q.arg(x))), nil
		case float64:
			return fmt.Sprintf("(%s AND %s %s %s)", isNum, val, cmp, q.arg(x)), nil
		case bool:
			b := map[bool]string{true: "'true'", false: "'false'"}[x]
			return fmt.Sprintf("(%s IN ('true', 'false') AND (%s = 'true') %s (%s = 'true'))", typ, typ, cmp, b), nil
		}
	case Gt, Gte, Lt, Lte:
		cmp := map[Op]string{Gt: ">", Gte: ">=", Lt: "<", Lte: "<="}[op]
		if x, ok := value.(float64); ok {
			return fmt.Sprintf("(%s AND %s %s %s)", isNum, val, cmp, q.arg(x)), nil
		}
	case Between:
		if l, ok := value.([]any); ok && len(l) == 2 {
			return fmt.Sprintf("(%s AND %s BETWEEN %s AND %s)", isNum, val, q.arg(l[0]), q.arg(l[1])), nil
		}
	case In, NotIn:
		l, _ := value.([]any)
		var strs, nums []string
		for _, x := range l {
			switch x := x.(type) {
			case string:
				strs = append(strs, fold(q.arg(x)))
			case float64:
				nums = append(nums, q.arg(x))
			}
		}
		in := map[Op]string{In: "IN", NotIn: "NOT IN"}[op]
		// A list without strings says nothing of a string value (and the
		// same for numbers): false, for not_in too.
		parts := []string{"0"}
		if len(strs) > 0 {
			parts = append(parts, fmt.Sprintf("(%s AND %s %s (%s))", isText, fold(val), in, strings.Join(strs, ", ")))
		}
		if len(nums) > 0 {
			parts = append(parts, fmt.Sprintf("(%s AND %s %s (%s))", isNum, val, in, strings.Join(nums, ", ")))
		}
		return "(" + strings.Join(parts, " OR ") + ")", nil
	case Contains:
		x, _ := value.(string)
		operand := fold(q.arg(x))
		el := q.name("el")
		// A list (tags) contains the operand when one element equals it.
		return fmt.Sprintf("((%s AND instr(%s, %s) > 0) OR (%s = 'array' AND EXISTS (SELECT 1 FROM json_each(%s) AS %s WHERE %s.type = 'text' AND %s = %s)))",
			isText, fold(val), operand, typ, val, el, el, fold(el+".value"), operand), nil
	case StartsWith:
		x, _ := value.(string)
		return fmt.Sprintf("(%s AND instr(%s, %s) = 1)", isText, fold(val), fold(q.arg(x))), nil
	case Before, After, MoreThanAgo, LessThanAgo, WithinNext, AnniversaryWithinNext:
		return q.timeMatch(op, value, sqlTextTime(typ, val))
	}
	return "", fmt.Errorf("%w: op %s with operand %v", errSQLUnsupported, op, value)
}

// sqlTextTime is the instant a JSON string holds, in unix seconds, or NULL:
// a date (YYYY-MM-DD, midnight UTC) or RFC 3339 with Z or an offset.
// SQLite's own date parsing is laxer (it takes "2026-02-30" and julian day
// numbers), so the form is checked first and the fields by a round trip.
func sqlTextTime(typ, val string) string {
	const (
		date = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
		tod  = "[0-9][0-9]:[0-9][0-9]:[0-9][0-9]"
	)
	validDate := fmt.Sprintf("date(substr(%s, 1, 10)) IS substr(%s, 1, 10)", val, val)
	validTime := fmt.Sprintf("strftime('%%H:%%M:%%S', substr(%s, 1, 19)) IS substr(%s, 12, 8)", val, val)
	return fmt.Sprintf("(CASE WHEN %s <> 'text' THEN NULL"+
		" WHEN %s GLOB '%s' AND %s THEN unixepoch(%s)"+
		" WHEN (%s GLOB '%sT%sZ' OR %s GLOB '%sT%s[+-][0-9][0-9]:[0-9][0-9]') AND %s AND %s THEN unixepoch(%s) END)",
		typ, val, date, validDate, val, val, date, tod, val, date, tod, validDate, validTime, val)
}

// timeMatch compares the instant ts (unix seconds, NULL when absent).
func (q *sqlQuery) timeMatch(op Op, value any, ts string) (string, error) {
	s, _ := value.(string)
	now := q.nowArg()
	switch op {
	case Exists:
		return "(" + ts + " IS NOT NULL)", nil
	case NotExists:
		return "(" + ts + " IS NULL)", nil
	case Before:
		return fmt.Sprintf("(%s < unixepoch(%s))", ts, q.arg(s)), nil
	case After:
		return fmt.Sprintf("(%s > unixepoch(%s))", ts, q.arg(s)), nil
	}
	d, err := sqlDuration(s)
	if err != nil {
		return "", err
	}
	switch op {
	case MoreThanAgo:
		return fmt.Sprintf("(%s < %s - %d)", ts, now, d), nil
	case LessThanAgo:
		return fmt.Sprintf("(%s > %s - %d AND %s <= %s)", ts, now, d, ts, now), nil
	case WithinNext:
		return fmt.Sprintf("(%s >= %s AND %s < %s + %d)", ts, now, ts, now, d), nil
	case AnniversaryWithinNext:
		return fmt.Sprintf("(%s < %s + %d)", sqlAnniversary(ts, now), now, d), nil
	}
	return "", fmt.Errorf("%w: time op %s", errSQLUnsupported, op)
}

// sqlAnniversary is the first instant at or after now on ts's month, day
// and time of day (UTC): this year's, else next year's. SQLite carries an
// impossible day into the next month, so 29 February is 1 March in other
// years, as the semantics say.
func sqlAnniversary(ts, now string) string {
	in := func(years int) string {
		return fmt.Sprintf("unixepoch(printf('%%04d-%%s', CAST(strftime('%%Y', %s, 'unixepoch') AS INTEGER) + %d, strftime('%%m-%%d %%H:%%M:%%S', %s, 'unixepoch')))",
			now, years, ts)
	}
	return fmt.Sprintf("(CASE WHEN %s >= %s THEN %s ELSE %s END)", in(0), now, in(0), in(1))
}

// sqlDuration reads "90d" as rules write it, in seconds.
func sqlDuration(s string) (int64, error) {
	unit := map[byte]int64{'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 7 * 86400}
	if len(s) < 2 || unit[s[len(s)-1]] == 0 {
		return 0, fmt.Errorf("duration %q: want a number and a unit", s)
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, err)
	}
	return n * unit[s[len(s)-1]], nil
}

// sqlMicros is a JSON number in micro-units, rounded to the nearest and
// clamped to ±1e17 (event.MaxMicros). Sums of them are SQLite's int64 SUM,
// which fails loudly ("integer overflow") past about 92 clamped values,
// where profiles keep 128 bits: no test data comes near.
func sqlMicros(v string) string { return sqlClamp("ROUND((" + v + ") * 1e6)") }

func sqlClamp(micros string) string {
	return "CAST(MIN(MAX(" + micros + ", -1e17), 1e17) AS INTEGER)"
}

// sqlRevenue is an Order Completed event's revenue in micro-units (see
// event.OrderRevenue): revenue, else total, when a number; else the sum of
// its products' price (in micro-units) × quantity (1 when not a number).
func (q *sqlQuery) sqlRevenue(e string) string {
	num := func(doc, key string) string {
		return fmt.Sprintf("json_type(%s, '$.\"%s\"') IN ('integer', 'real')", doc, key)
	}
	get := func(doc, key string) string { return fmt.Sprintf("json_extract(%s, '$.\"%s\"')", doc, key) }
	li := q.name("li")
	price := fmt.Sprintf("(CASE WHEN %s THEN %s ELSE 0 END)", num(li+".value", "price"), sqlMicros(get(li+".value", "price")))
	qty := fmt.Sprintf("(CASE WHEN %s THEN %s ELSE 1 END)", num(li+".value", "quantity"), get(li+".value", "quantity"))
	// One order's sum is clamped too; event.OrderRevenue clamps each
	// partial sum, which differs only when one crosses ±1e17 with terms of
	// both signs.
	items := fmt.Sprintf("COALESCE((SELECT %s FROM json_each(%s, '$.\"products\"') AS %s WHERE %s.type = 'object'), 0)",
		sqlClamp(fmt.Sprintf("SUM(%s)", sqlClamp(fmt.Sprintf("ROUND(%s * %s)", price, qty)))), e+".props", li, li)
	return fmt.Sprintf("(CASE WHEN %s THEN %s WHEN %s THEN %s WHEN json_type(%s, '$.\"products\"') = 'array' THEN %s ELSE 0 END)",
		num(e+".props", "revenue"), sqlMicros(get(e+".props", "revenue")),
		num(e+".props", "total"), sqlMicros(get(e+".props", "total")),
		e+".props", items)
}

// computed: every field from the profile's events at or before now, but
// the ones Tailor records itself.
func (q *sqlQuery) computed(r *Rule) (string, error) {
	e := q.name("e")
	events := fmt.Sprintf("FROM events AS %s WHERE %s.profile = p.id AND %s.time <= %s AND %s.key NOT IN (%s, %s)",
		e, e, e, q.nowArg(), e, q.arg(EventEntered), q.arg(EventExited))
	orders := events + fmt.Sprintf(" AND %s.key = %s", e, q.arg("Order Completed"))
	var number, instant string
	switch r.Computed {
	case "event_count":
		number = "SELECT COUNT(*) " + events
	case "orders":
		number = "SELECT COUNT(*) " + orders
	case "total_spend":
		number = fmt.Sprintf("SELECT COALESCE(SUM(%s), 0) / 1e6 %s", q.sqlRevenue(e), orders)
	case "average_order_value":
		number = fmt.Sprintf("SELECT CAST(SUM(%s) AS REAL) / COUNT(*) / 1e6 %s", q.sqlRevenue(e), orders)
	case "days_since_last_order":
		number = fmt.Sprintf("SELECT (%s - MAX(%s.time)) / 86400 %s", q.nowArg(), e, orders)
	case "days_since_last_seen":
		number = fmt.Sprintf("SELECT (%s - MAX(%s.time)) / 86400 %s", q.nowArg(), e, events)
	case "first_seen":
		instant = fmt.Sprintf("SELECT MIN(%s.time) %s", e, events)
	case "last_seen":
		instant = fmt.Sprintf("SELECT MAX(%s.time) %s", e, events)
	case "first_order":
		instant = fmt.Sprintf("SELECT MIN(%s.time) %s", e, orders)
	case "last_order":
		instant = fmt.Sprintf("SELECT MAX(%s.time) %s", e, orders)
	case FieldRFM, FieldRFMRecency, FieldRFMFrequency, FieldRFMMonetary, FieldSpendTier:
		// The evaluations under test have no models snapshot: absent.
		number = "SELECT NULL"
	case FieldLifecycle:
		// Without a snapshot, the default thresholds; never absent.
		o := ModelOptions{}.WithDefaults()
		secs := func(d time.Duration) int64 { return int64(d / time.Second) }
		number = fmt.Sprintf("SELECT CASE WHEN COUNT(*) = 0 THEN %s WHEN MIN(%s.time) > %s - %d THEN %s"+
			" WHEN MAX(%s.time) > %s - %d THEN %s WHEN MAX(%s.time) > %s - %d THEN %s ELSE %s END %s",
			q.arg(StageProspect), e, q.nowArg(), secs(o.NewWithin), q.arg(StageNew),
			e, q.nowArg(), secs(o.ActiveWithin), q.arg(StageActive),
			e, q.nowArg(), secs(o.LapsedAfter), q.arg(StageAtRisk), q.arg(StageLapsed), orders)
		return q.measured(number, sqlText, r.Op, r.Value, r.CaseSensitive)
	default:
		return "", fmt.Errorf("%w: computed %s", errSQLUnsupported, r.Computed)
	}
	if instant != "" {
		return q.measured(instant, sqlInstant, r.Op, r.Value, r.CaseSensitive)
	}
	return q.measured(number, sqlNumber, r.Op, r.Value, r.CaseSensitive)
}

// The types measured compares a scalar query's value as: the JSON type a
// non-NULL value has, or sqlInstant for unix seconds.
const (
	sqlNumber  = "'real'"
	sqlText    = "'text'"
	sqlInstant = ""
)

// measured compares the one value a scalar query returns (NULL for
// absent), of type typ.
func (q *sqlQuery) measured(scalar, typ string, op Op, value any, caseSensitive bool) (string, error) {
	x := q.name("x")
	var m string
	var err error
	if typ == sqlInstant {
		m, err = q.timeMatch(op, value, x)
	} else {
		m, err = q.match(op, value, caseSensitive, fmt.Sprintf("(CASE WHEN %s IS NULL THEN NULL ELSE %s END)", x, typ), x)
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("COALESCE((SELECT %s FROM (SELECT (%s) AS %s)), 0)", m, scalar, x), nil
}

// sqlPath is a property path as SQLite JSON paths: the whole path, or for
// a products[].field path the array's and the field's within an element.
type sqlPath struct {
	whole, array, field string
}

func parseSQLPath(s string) sqlPath {
	var p sqlPath
	cur := &p.whole
	for part := range strings.SplitSeq(s, ".") {
		if name, ok := strings.CutSuffix(part, "[]"); ok {
			p.array = "$" + p.whole + ".\"" + name + "\""
			p.whole, cur = "", &p.field
			continue
		}
		*cur += ".\"" + part + "\""
	}
	if p.array != "" {
		p.field = "$" + p.field
		p.whole = ""
	} else {
		p.whole = "$" + p.whole
	}
	return p
}

// values returns, for the event props doc, the FROM items that yield a
// property's values (none for a plain path: one value) and the JSON type
// and SQL value of each; an element that is not an object has none.
func (q *sqlQuery) values(doc, path string) (from, typ, val string) {
	p := parseSQLPath(path)
	if p.array == "" {
		return "", fmt.Sprintf("json_type(%s, %s)", doc, q.arg(p.whole)), fmt.Sprintf("json_extract(%s, %s)", doc, q.arg(p.whole))
	}
	el := q.name("el")
	arr, field := q.arg(p.array), q.arg(p.field)
	guard := fmt.Sprintf("json_type(%s, %s) = 'array' AND %s.type = 'object'", doc, arr, el)
	return fmt.Sprintf("json_each(%s, %s) AS %s", doc, arr, el),
		fmt.Sprintf("(CASE WHEN %s THEN json_type(%s.value, %s) END)", guard, el, field),
		fmt.Sprintf("(CASE WHEN %s THEN json_extract(%s.value, %s) END)", guard, el, field)
}

// sqlScalar is the condition that a value of JSON type typ is a string,
// number or boolean: filters see nothing else (a list or object is absent).
func sqlScalar(typ string) string {
	return "(" + typ + " IN ('text', 'integer', 'real', 'true', 'false'))"
}

// filter holds when some scalar value at the path is present and matches
// (exists: some is present; not_exists: none is).
func (q *sqlQuery) filter(e string, f *Filter) (string, error) {
	from, typ, val := q.values(e+".props", f.Property)
	if from != "" {
		from = "FROM " + from
	}
	if f.Op == NotExists {
		return fmt.Sprintf("(NOT EXISTS (SELECT 1 %s WHERE %s))", from, sqlScalar(typ)), nil
	}
	m, err := q.match(f.Op, f.Value, f.CaseSensitive, typ, val)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("(EXISTS (SELECT 1 %s WHERE %s AND %s))", from, sqlScalar(typ), m), nil
}

// event: the profile's events of the key, at or before now, in the window,
// on which every filter holds; then the measure of them is compared.
func (q *sqlQuery) event(r *Rule) (string, error) {
	e := q.name("e")
	now := q.nowArg()
	where := []string{
		e + ".profile = p.id",
		e + ".key = " + q.arg(r.Event),
		e + ".time <= " + now,
	}
	if w := r.Within; w != nil {
		switch {
		case w.Last != "":
			d, err := sqlDuration(w.Last)
			if err != nil {
				return "", err
			}
			where = append(where, fmt.Sprintf("%s.time > %s - %d", e, now, d))
		case w.Since != "":
			where = append(where, fmt.Sprintf("%s.time >= unixepoch(%s)", e, q.arg(w.Since)))
		default:
			where = append(where, fmt.Sprintf("%s.time >= unixepoch(%s) AND %s.time < unixepoch(%s)", e, q.arg(w.From), e, q.arg(w.To)))
		}
	}
	for _, f := range r.Where {
		c, err := q.filter(e, f)
		if err != nil {
			return "", err
		}
		where = append(where, c)
	}
	from := "FROM events AS " + e
	cond := strings.Join(where, " AND ")

	measure := cmp.Or(r.Measure, MeasureCount)
	if measure == MeasureCount && r.Op == "" && r.Value == nil {
		return fmt.Sprintf("(EXISTS (SELECT 1 %s WHERE %s))", from, cond), nil
	}
	switch measure {
	case MeasureCount:
		return q.measured(fmt.Sprintf("SELECT COUNT(*) %s WHERE %s", from, cond), sqlNumber, r.Op, r.Value, r.CaseSensitive)
	case MeasureFirst:
		return q.measured(fmt.Sprintf("SELECT MIN(%s.time) %s WHERE %s", e, from, cond), sqlInstant, r.Op, r.Value, r.CaseSensitive)
	case MeasureLast:
		return q.measured(fmt.Sprintf("SELECT MAX(%s.time) %s WHERE %s", e, from, cond), sqlInstant, r.Op, r.Value, r.CaseSensitive)
	}
	vfrom, typ, val := q.values(e+".props", r.Of)
	if vfrom != "" {
		from += ", " + vfrom
	}
	cond += fmt.Sprintf(" AND %s IN ('integer', 'real')", typ)
	var agg string
	switch measure {
	case MeasureSum: // exact in micro-units; 0 without values
		agg = fmt.Sprintf("COALESCE(SUM(%s), 0) / 1e6", sqlMicros(val))
	case MeasureAvg: // absent without values
		agg = fmt.Sprintf("CAST(SUM(%s) AS REAL) / COUNT(*) / 1e6", sqlMicros(val))
	case MeasureMin:
		agg = "MIN(" + val + ")"
	case MeasureMax:
		agg = "MAX(" + val + ")"
	default:
		return "", fmt.Errorf("%w: measure %s", errSQLUnsupported, measure)
	}
	return q.measured(fmt.Sprintf("SELECT %s %s WHERE %s", agg, from, cond), sqlNumber, r.Op, r.Value, r.CaseSensitive)
}
