package segment

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"tailor/internal/event"
)

// Random rules and profiles for property tests of the evaluators against
// Reference. Both draw from one small vocabulary (the same traits, event
// names, properties, categories and dates) so that random rules match
// random profiles often enough for a disagreement to show, and event times
// fall exactly on the edges of the rules' windows.
//
// The rules' absolute dates (since, from/to, before/after) are whole days
// around genNow, and randomProfiles places events on whole days and seconds
// before its now: evaluate at genNow for the edges to line up.

// genNow is the instant random rules are written for: 2026-06-15T00:00:00Z.
const genNow = refNow

const genDay = int64(24 * 60 * 60)

// genDayOffsets are the day counts the generators build windows and edge
// times from, so that some event sits exactly on most window boundaries.
var genDayOffsets = []int64{0, 1, 2, 7, 30, 90, 180, 365}

var (
	genEvents     = []string{event.ProductAdded, event.OrderCompleted, "$page", "Signed Up", "$identify", "Never Happened"}
	genPlans      = []string{"free", "pro", "Enterprise", "PRO", "basic"}
	genTags       = []string{"vegan", "Cooking", "travel", "VIP"}
	genCategories = []string{"Books", "books", "Food", "Toys", "garden"}
	genPaths      = []string{"/blog/recipes/pasta", "/blog/recipes/Curry", "/blog/news", "/c/books", "/c/food", "/"}
	genStrings    = []string{"free", "pro", "Enterprise", "books", "Food", "toys", "vegan", "cooking", "/blog/", "/c/", "recipes", "example", "42", "x"}
	genDurations  = []string{"12h", "1d", "2d", "7d", "1w", "30d", "90d", "365d", "3600s", "90m"}
	genMalformed  = []string{"31/12/1990", "1990-13-01", "", "yesterday", "2026-02-30"}
)

// randomRule returns a valid rule (see TestRandomRuleValidates) nested at
// most depth levels deep (at most MaxDepth), of every kind but segment
// conditions, with every operator, measure and window form.
func randomRule(rng *rand.Rand, depth int) *Rule {
	budget := 64 // nodes; a group may overshoot it by its pending siblings
	return genRule(rng, min(depth, MaxDepth), &budget)
}

func genRule(rng *rand.Rand, depth int, budget *int) *Rule {
	*budget--
	if depth <= 1 || *budget < 4 || rng.IntN(10) < 4 {
		switch rng.IntN(3) {
		case 0:
			return genTrait(rng)
		case 1:
			return genComputed(rng)
		default:
			return genEvent(rng)
		}
	}
	switch rng.IntN(3) {
	case 0:
		return &Rule{Not: genRule(rng, depth-1, budget)}
	case 1:
		return &Rule{And: genChildren(rng, depth-1, budget)}
	default:
		return &Rule{Or: genChildren(rng, depth-1, budget)}
	}
}

func genChildren(rng *rand.Rand, depth int, budget *int) []*Rule {
	kids := make([]*Rule, 1+rng.IntN(3))
	for i := range kids {
		kids[i] = genRule(rng, depth, budget)
	}
	return kids
}

// Operand flavours: what kind of value an operator compares with.
type genFlavor uint8

const (
	flavorString genFlavor = iota
	flavorNumber
	flavorBool
	flavorTime
)

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func genTrait(rng *rand.Rand) *Rule {
	r := &Rule{Trait: pick(rng, []string{"plan", "age", "vip", "tags", "birthday", "signup", "renewal", "email", "missing"})}
	var flavor genFlavor
	var likely []Op
	switch r.Trait {
	case "plan", "email", "missing":
		flavor, likely = flavorString, []Op{Eq, Neq, In, NotIn, Contains, StartsWith}
	case "tags":
		flavor, likely = flavorString, []Op{Contains, Contains, Eq, In}
	case "age":
		flavor, likely = flavorNumber, []Op{Eq, Neq, Gt, Gte, Lt, Lte, Between, In, NotIn}
	case "vip":
		flavor, likely = flavorBool, []Op{Eq, Neq}
	default: // dates
		flavor, likely = flavorTime, []Op{Before, After, MoreThanAgo, LessThanAgo, WithinNext, AnniversaryWithinNext}
	}
	switch rng.IntN(10) {
	case 0:
		r.Op = pick(rng, []Op{Exists, NotExists})
	case 1:
		// Any operator at all: a trait of another type than the operand.
		r.Op = pick(rng, ops) // every operator, not just the likely ones
		flavor = pick(rng, []genFlavor{flavorString, flavorNumber, flavorBool, flavorTime})
	default:
		r.Op = pick(rng, likely)
	}
	r.Value = genOperand(rng, r.Op, flavor, genTraitNumber, genStringsOf[r.Trait])
	r.CaseSensitive = rng.IntN(5) == 0 && r.Value != nil
	return r
}

func genTraitNumber(rng *rand.Rand) float64 {
	if rng.IntN(4) == 0 {
		return 42
	}
	return float64(10 + rng.IntN(71))
}

func genComputed(rng *rand.Rand) *Rule {
	r := &Rule{Computed: pick(rng, ComputedFields())}
	if computedFields[r.Computed] == typeTime {
		if rng.IntN(8) == 0 {
			r.Op = pick(rng, []Op{Exists, NotExists})
		} else {
			r.Op = pick(rng, []Op{Before, After, MoreThanAgo, LessThanAgo, WithinNext, AnniversaryWithinNext})
		}
		r.Value = genOperand(rng, r.Op, flavorTime, nil, nil)
		return r
	}
	if values, ok := modelValues[r.Computed]; ok {
		// Only the field's values validate (but for contains and starts_with).
		r.CaseSensitive = rng.IntN(4) == 0
		value := func() any {
			v := pick(rng, values)
			if !r.CaseSensitive && rng.IntN(4) == 0 {
				v = strings.ToUpper(v)
			}
			return v
		}
		switch rng.IntN(10) {
		case 0:
			r.Op, r.CaseSensitive = pick(rng, []Op{Exists, NotExists}), false
		case 1:
			r.Op, r.Value = pick(rng, []Op{Contains, StartsWith}), pick(rng, []string{"a", "at_", "L", "ne", "h"})
		case 2, 3, 4, 5:
			r.Op, r.Value = pick(rng, []Op{Eq, Neq}), value()
		default:
			l := make([]any, 1+rng.IntN(3))
			for i := range l {
				l[i] = value()
			}
			r.Op, r.Value = pick(rng, []Op{In, NotIn}), l
		}
		return r
	}
	num := func(rng *rand.Rand) float64 {
		switch r.Computed {
		case FieldRFMRecency, FieldRFMFrequency, FieldRFMMonetary:
			return float64(rng.IntN(7)) // 0 and 6 are no score
		case FieldRFM:
			return float64(100*(1+rng.IntN(5)) + 10*(1+rng.IntN(5)) + rng.IntN(6))
		case "total_spend", "average_order_value":
			return float64(rng.IntN(50000)) / 100
		case "days_since_last_order", "days_since_last_seen":
			return float64(pick(rng, genDayOffsets) + int64(rng.IntN(3)) - 1)
		case FieldPAlive, FieldChurnRisk:
			return float64(rng.IntN(11)) / 10
		case FieldCLVPercentile:
			return float64(rng.IntN(101))
		case FieldPredictedCLV, FieldExpectedOrderValue:
			return float64(rng.IntN(20000)) / 100
		case FieldPredictedOrders:
			return float64(rng.IntN(40)) / 10
		case FieldNextOrderInDays:
			return float64(rng.IntN(400))
		case FieldBestSendHour:
			return float64(rng.IntN(26) - 1)
		}
		return float64(rng.IntN(12))
	}
	r.Op = genNumberOp(rng)
	r.Value = genOperand(rng, r.Op, flavorNumber, num, nil)
	return r
}

func genNumberOp(rng *rand.Rand) Op {
	if rng.IntN(10) == 0 {
		return pick(rng, []Op{Exists, NotExists})
	}
	return pick(rng, []Op{Eq, Neq, Gt, Gte, Lt, Lte, Between, In, NotIn})
}

// genProperties are the properties filters and measures name, per event.
var genProperties = map[string][]string{
	event.ProductAdded:   {"category", "price", "quantity"},
	event.OrderCompleted: {"revenue", "total", "products[].category", "products[].price", "coupon"},
	"$page":              {"path", "utm.source"},
	"Signed Up":          {"method"},
	"$identify":          {"missing"},
	"Never Happened":     {"price"},
}

// genStringsOf are the strings that traits and properties hold, as
// operands likely to match them.
var genStringsOf = map[string][]string{
	"plan":                {"free", "pro", "enterprise", "PRO", "basic", "ent", "Pr"},
	"email":               {"example", "EXAMPLE.com", "someone@", "x@other.org", "p1@example.com", "@"},
	"tags":                {"vegan", "cooking", "Travel", "VIP", "vip"},
	"category":            {"books", "Books", "food", "toys", "garden", "Bo"},
	"products[].category": {"books", "Books", "food", "toys", "garden", "Bo"},
	"path":                {"/blog/", "/blog/recipes/", "recipes", "curry", "/c/", "/c/books", "/"},
	"utm.source":          {"news", "News", "ads"},
	"method":              {"email", "google", "Google"},
	"coupon":              {"SAVE10", "save", "SAVE"},
}

// genNumeric are the numeric properties measures aggregate, per event.
var genNumeric = map[string][]string{
	event.ProductAdded:   {"price", "quantity"},
	event.OrderCompleted: {"revenue", "total", "products[].price"},
	"$page":              {"missing"},
	"Signed Up":          {"missing"},
	"$identify":          {"missing"},
	"Never Happened":     {"price"},
}

func genPropertyFlavor(p string) genFlavor {
	switch p {
	case "price", "quantity", "revenue", "total", "products[].price":
		return flavorNumber
	}
	return flavorString
}

func genEvent(rng *rand.Rand) *Rule {
	r := &Rule{Event: pick(rng, genEvents)}
	measure := rng.IntN(9)
	if measure >= 4 && measure <= 6 && rng.IntN(5) != 0 {
		// Aggregates mostly of events that have numbers to aggregate.
		r.Event = pick(rng, []string{event.ProductAdded, event.OrderCompleted})
	}
	props := genProperties[r.Event]
	for range pick(rng, []int{0, 0, 0, 1, 1, 2}) {
		f := &Filter{Property: pick(rng, props)}
		if rng.IntN(8) == 0 {
			f.Property = pick(rng, []string{"missing", "products[].missing", "price", "category"})
		}
		flavor := genPropertyFlavor(f.Property)
		switch rng.IntN(10) {
		case 0:
			f.Op = pick(rng, []Op{Exists, NotExists})
		case 1:
			f.Op = pick(rng, []Op{Before, After})
		default:
			if flavor == flavorNumber {
				f.Op = pick(rng, []Op{Eq, Neq, Gt, Gte, Lt, Lte, Between, In, NotIn})
			} else {
				f.Op = pick(rng, []Op{Eq, Neq, In, NotIn, Contains, StartsWith})
			}
		}
		f.Value = genOperand(rng, f.Op, flavor, genNumberOf(f.Property), genStringsOf[f.Property])
		f.CaseSensitive = rng.IntN(5) == 0 && f.Value != nil
		r.Where = append(r.Where, f)
	}
	r.Within = genWindow(rng)

	switch measure {
	case 0, 1, 2: // did it
		if rng.IntN(3) == 0 {
			r.Measure = MeasureCount
		}
	case 3:
		if rng.IntN(2) == 0 {
			r.Measure = MeasureCount
		}
		r.Op = genNumberOp(rng)
		r.Value = genOperand(rng, r.Op, flavorNumber, func(rng *rand.Rand) float64 { return float64(rng.IntN(6)) }, nil)
	case 4, 5, 6:
		r.Measure = pick(rng, []string{MeasureSum, MeasureAvg, MeasureMin, MeasureMax})
		r.Of = pick(rng, genNumeric[r.Event])
		if rng.IntN(8) == 0 {
			r.Of = pick(rng, []string{"category", "missing", "price", "products[].price"})
		}
		r.Op = genNumberOp(rng)
		r.Value = genOperand(rng, r.Op, flavorNumber, genNumberOf(r.Of), nil)
	default:
		r.Measure = pick(rng, []string{MeasureFirst, MeasureLast})
		if rng.IntN(8) == 0 {
			r.Op = pick(rng, []Op{Exists, NotExists})
		} else {
			r.Op = pick(rng, []Op{Before, After, MoreThanAgo, LessThanAgo, WithinNext, AnniversaryWithinNext})
		}
		r.Value = genOperand(rng, r.Op, flavorTime, nil, nil)
	}
	if r.Op != "" {
		r.CaseSensitive = rng.IntN(8) == 0
	}
	return r
}

// genNumberOf draws operands for comparisons with property p.
func genNumberOf(p string) func(*rand.Rand) float64 {
	if p == "quantity" {
		return func(rng *rand.Rand) float64 { return float64(rng.IntN(5)) }
	}
	return genPropertyNumber
}

func genPropertyNumber(rng *rand.Rand) float64 {
	switch rng.IntN(4) {
	case 0:
		return float64(rng.IntN(5))
	case 1:
		return pick(rng, []float64{7, 12.5, 19.99, 20, 0.1, 0.3})
	}
	return float64(rng.IntN(20000)) / 100
}

func genWindow(rng *rand.Rand) *Window {
	day := func(offset int64) string {
		return time.Unix(genNow-offset*genDay, 0).UTC().Format(time.DateOnly)
	}
	switch rng.IntN(8) {
	case 0:
		return &Window{Last: pick(rng, genDurations)}
	case 1:
		return &Window{Since: day(pick(rng, genDayOffsets))}
	case 2:
		// An RFC 3339 instant a second off a day's edge.
		at := genNow - pick(rng, genDayOffsets)*genDay + int64(rng.IntN(3)) - 1
		return &Window{Since: time.Unix(at, 0).UTC().Format(time.RFC3339)}
	case 3:
		from := pick(rng, genDayOffsets) + int64(rng.IntN(3))
		to := from - 1 - int64(rng.IntN(40)) // may end after now
		return &Window{From: day(from), To: day(to)}
	}
	return nil
}

// genOperand returns an operand for op that compileComparison accepts:
// flavor says what to compare with, num draws numbers and strs are the
// strings the compared value is likely to hold (nil for any).
func genOperand(rng *rand.Rand, op Op, flavor genFlavor, num func(*rand.Rand) float64, strs []string) any {
	if num == nil {
		num = genTraitNumber
	}
	if strs == nil || rng.IntN(5) == 0 {
		strs = genStrings
	}
	switch op {
	case Exists, NotExists:
		return nil
	case Eq, Neq:
		switch flavor {
		case flavorNumber:
			return num(rng)
		case flavorBool:
			return rng.IntN(2) == 0
		case flavorTime:
			return genDate(rng)
		}
		return pick(rng, strs)
	case Gt, Gte, Lt, Lte:
		return num(rng)
	case Between:
		a, b := num(rng), num(rng)
		return []any{min(a, b), max(a, b)}
	case In, NotIn:
		l := make([]any, 1+rng.IntN(3))
		for i := range l {
			if flavor == flavorNumber {
				l[i] = num(rng)
			} else {
				l[i] = pick(rng, strs)
			}
		}
		return l
	case Contains, StartsWith:
		return pick(rng, strs)
	case Before, After:
		return genDate(rng)
	}
	return pick(rng, genDurations)
}

// genDate is a valid date operand around genNow: a day's edge, sometimes as
// an RFC 3339 instant.
func genDate(rng *rand.Rand) string {
	at := genNow - pick(rng, genDayOffsets)*genDay
	if rng.IntN(5) == 0 {
		at += 30 * genDay // after now
	}
	if rng.IntN(3) == 0 {
		return time.Unix(at+int64(rng.IntN(3))-1, 0).UTC().Format(time.RFC3339)
	}
	return time.Unix(at, 0).UTC().Format(time.DateOnly)
}

// randomProfiles returns n profiles with traits and events drawn from the
// generators' vocabulary: event times over the 400 days before now, some
// exactly on window edges (now-7d, now-30d, … and a second either side),
// some in the future; mistyped, malformed, null and missing values.
func randomProfiles(rng *rand.Rand, n int, now int64) []*RefProfile {
	ps := make([]*RefProfile, n)
	for i := range ps {
		ps[i] = genProfile(rng, fmt.Sprintf("p%d", i), now)
	}
	return ps
}

func genProfile(rng *rand.Rand, id string, now int64) *RefProfile {
	p := &RefProfile{ID: id, Traits: map[string]any{}}
	maybe := func(key string, v func() any) {
		switch rng.IntN(10) {
		case 0: // absent
		case 1:
			p.Traits[key] = nil // JSON null
		default:
			p.Traits[key] = v()
		}
	}
	maybe("plan", func() any { return pick(rng, genPlans) })
	maybe("age", func() any {
		switch rng.IntN(6) {
		case 0:
			return "42"
		case 1:
			return 42.5
		}
		return float64(10 + rng.IntN(71))
	})
	maybe("vip", func() any { return rng.IntN(2) == 0 })
	maybe("timezone", func() any {
		return pick(rng, []any{"Europe/Paris", "Asia/Tokyo", "America/New_York", "Not/AZone", 3.0})
	})
	maybe("tags", func() any {
		tags := []any{}
		for _, t := range genTags {
			if rng.IntN(3) == 0 {
				tags = append(tags, t)
			}
		}
		return tags
	})
	dateTrait := func(at int64) any {
		switch rng.IntN(8) {
		case 0:
			return pick(rng, genMalformed)
		case 1:
			return time.Unix(at, 0).UTC().Format(time.RFC3339)
		}
		return time.Unix(at, 0).UTC().Format(time.DateOnly)
	}
	maybe("birthday", func() any {
		// Near now's month, so that anniversaries fall in the rules' windows.
		years := int64(15 + rng.IntN(50))
		return dateTrait(now - years*365*genDay + int64(rng.IntN(60)-20)*genDay)
	})
	maybe("signup", func() any { return dateTrait(genTime(rng, now)) })
	maybe("renewal", func() any { return dateTrait(now + int64(rng.IntN(60)-10)*genDay) })
	maybe("email", func() any {
		return pick(rng, []string{id + "@example.com", "Someone@Example.COM", "x@other.org"})
	})

	// Some profiles are young, so that every lifecycle stage is common.
	young := rng.IntN(5) == 0
	for range rng.IntN(40) {
		// Never "Never Happened"; mostly the events with numbers.
		key := pick(rng, []string{event.ProductAdded, event.ProductAdded, event.ProductAdded,
			event.OrderCompleted, event.OrderCompleted, event.OrderCompleted, "$page", "$page", "Signed Up", "$identify"})
		at := genTime(rng, now)
		if young && at < now-31*genDay {
			at = now - 31*genDay + (now-at)%(31*genDay)
		}
		p.Events = append(p.Events, RefEvent{Key: key, Time: at, Properties: genEventProps(rng, key)})
	}
	return p
}

// genTime is an event time: mostly over the 400 days before now, some on
// a window's edge or a second either side of it, some in the future.
func genTime(rng *rand.Rand, now int64) int64 {
	switch rng.IntN(10) {
	case 0:
		return now + 1 + rng.Int64N(10*genDay)
	case 1, 2:
		return now - pick(rng, genDayOffsets)*genDay + int64(rng.IntN(3)) - 1
	}
	return now - rng.Int64N(400*genDay)
}

func genEventProps(rng *rand.Rand, key string) map[string]any {
	price := func() any {
		switch rng.IntN(8) {
		case 0:
			return "7" // mistyped
		case 1:
			return nil
		}
		return genPropertyNumber(rng)
	}
	props := map[string]any{}
	switch key {
	case event.ProductAdded:
		props["category"] = pick(rng, genCategories)
		props["price"] = price()
		if rng.IntN(2) == 0 {
			props["quantity"] = float64(1 + rng.IntN(3))
		}
	case event.OrderCompleted:
		switch rng.IntN(4) {
		case 0:
			props["revenue"] = price()
		case 1:
			props["total"] = price()
		case 2:
			props["revenue"], props["total"] = price(), price()
		}
		if rng.IntN(4) == 0 {
			props["coupon"] = pick(rng, []any{"SAVE10", nil})
		}
		var products []any
		for range rng.IntN(4) {
			if rng.IntN(10) == 0 {
				products = append(products, "not an object")
				continue
			}
			products = append(products, map[string]any{"category": pick(rng, genCategories), "price": price()})
		}
		if products != nil {
			props["products"] = products
		}
	case "$page":
		props["path"] = pick(rng, genPaths)
		if rng.IntN(2) == 0 {
			props["utm"] = map[string]any{"source": pick(rng, []string{"news", "News", "ads"})}
		}
	case "Signed Up":
		props["method"] = pick(rng, []string{"email", "Google"})
	}
	return props
}

// TestRandomRuleValidates checks that randomRule only writes valid rules,
// that survive the JSON round trip the API puts them through, and that it
// reaches every operator, measure, window form and kind but segment.
func TestRandomRuleValidates(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261201, 1))
	seen := map[string]bool{}
	for i := range 2000 {
		depth := 1 + i%(MaxDepth+2)
		r := randomRule(rng, depth)
		if err := r.Validate(); err != nil {
			t.Fatalf("rule %d (depth %d) does not validate: %v\n%s", i, depth, err, ruleJSON(t, r))
		}
		back, err := ParseJSON([]byte(ruleJSON(t, r)))
		if err != nil {
			t.Fatalf("rule %d does not survive JSON: %v\n%s", i, err, ruleJSON(t, r))
		}
		if a, b := ruleJSON(t, r), ruleJSON(t, back); a != b {
			t.Fatalf("rule %d changes through JSON:\n%s\n%s", i, a, b)
		}
		r.walk(func(n *Rule) {
			seen[fmt.Sprint("kind ", n.Kind())] = true
			if n.Op != "" {
				seen["op "+string(n.Op)] = true
			}
			for _, f := range n.Where {
				seen["filter op "+string(f.Op)] = true
				seen["filter "+f.Property] = true
			}
			if n.Event != "" {
				seen["measure "+cmp.Or(n.Measure, MeasureCount)] = true
			}
			if w := n.Within; w != nil {
				switch {
				case w.Last != "":
					seen["window last"] = true
				case w.Since != "":
					seen["window since"] = true
				default:
					seen["window from"] = true
				}
			}
			if n.Computed != "" {
				seen["computed "+n.Computed] = true
			}
			switch n.Trait {
			case "plan", "email":
				switch n.Op {
				case Gt, Gte, Lt, Lte, Between:
					seen["number op on a string trait"] = true
				}
			case "age", "vip", "tags":
				if n.Op == Before || n.Op == After || n.Op.relative() {
					seen["date op on a non-date trait"] = true
				}
			}
		})
	}
	want := []string{"window last", "window since", "window from", "filter products[].category", "filter products[].price",
		"number op on a string trait", "date op on a non-date trait"}
	for _, k := range []Kind{KindAnd, KindOr, KindNot, KindTrait, KindComputed, KindEvent} {
		want = append(want, fmt.Sprint("kind ", k))
	}
	for _, op := range ops {
		want = append(want, "op "+string(op))
		if !op.relative() {
			want = append(want, "filter op "+string(op))
		}
	}
	for _, m := range []string{MeasureCount, MeasureSum, MeasureAvg, MeasureMin, MeasureMax, MeasureFirst, MeasureLast} {
		want = append(want, "measure "+m)
	}
	for _, f := range ComputedFields() {
		want = append(want, "computed "+f)
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("2000 random rules never use %s", w)
		}
	}
	if seen[fmt.Sprint("kind ", KindSegment)] {
		t.Error("random rules use segment conditions, which the property tests cannot answer alike")
	}
}

// TestReferenceOnRandomPairs runs Reference on 2,000 random rule and
// profile pairs: it must not panic, must not depend on the order of a
// profile's events, must agree with the negated rule, and the generators
// must make leaf conditions of every kind both match and fail, or a
// property test built on them would prove little.
func TestReferenceOnRandomPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261201, 2))
	profiles := randomProfiles(rng, 200, genNow)
	outcomes := map[string][2]int{} // leaf kind or measure -> [false, true] counts
	for i := range 2000 {
		r := randomRule(rng, 1+rng.IntN(5))
		p := profiles[rng.IntN(len(profiles))]
		got := refNoPanic(t, r, p, genNow)
		shuffled := *p
		shuffled.Events = slices.Clone(p.Events)
		rng.Shuffle(len(shuffled.Events), func(a, b int) {
			shuffled.Events[a], shuffled.Events[b] = shuffled.Events[b], shuffled.Events[a]
		})
		if again := refNoPanic(t, r, &shuffled, genNow); again != got {
			t.Fatalf("pair %d: the answer depends on event order (%v, then %v)\nrule %s", i, got, again, ruleJSON(t, r))
		}
		if not := refNoPanic(t, &Rule{Not: r}, p, genNow); not == got {
			t.Fatalf("pair %d: not(rule) = rule = %v\nrule %s", i, got, ruleJSON(t, r))
		}
		// Leaves are tallied against a few more profiles for a larger sample.
		others := []*RefProfile{p, profiles[rng.IntN(len(profiles))], profiles[rng.IntN(len(profiles))]}
		r.walk(func(n *Rule) {
			var keys []string
			switch n.Kind() {
			case KindTrait:
				keys = []string{"trait"}
			case KindComputed:
				keys = []string{"computed"}
			case KindEvent:
				keys = []string{"event " + cmp.Or(n.Measure, MeasureCount)}
				switch w := n.Within; {
				case w == nil:
				case w.Last != "":
					keys = append(keys, "window last")
				case w.Since != "":
					keys = append(keys, "window since")
				default:
					keys = append(keys, "window from")
				}
			}
			for _, q := range others {
				got := refNoPanic(t, n, q, genNow)
				for _, k := range keys {
					o := outcomes[k]
					if got {
						o[1]++
					} else {
						o[0]++
					}
					outcomes[k] = o
				}
			}
		})
	}
	for _, key := range []string{"trait", "computed", "event count", "event sum", "event avg", "event min",
		"event max", "event first", "event last", "window last", "window since", "window from"} {
		o := outcomes[key]
		// At least 5% of each outcome: a generator that almost always
		// fails (or holds) would let a wrong evaluator pass.
		if n := o[0] + o[1]; n == 0 || o[0]*20 < n || o[1]*20 < n {
			t.Errorf("%s conditions: %d false, %d true; want both outcomes often", key, o[0], o[1])
		}
	}
}

// refNoPanic is Reference that fails the test with the rule and profile
// instead of crashing it.
func refNoPanic(t *testing.T, r *Rule, p *RefProfile, now int64) (got bool) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("Reference panics: %v\nrule %s\nprofile %+v", v, ruleJSON(t, r), p)
		}
	}()
	return Reference(r, p, now, nil)
}

func ruleJSON(t testing.TB, r *Rule) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("rule does not encode: %v", err)
	}
	return string(b)
}
