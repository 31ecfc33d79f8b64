package segment

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fast path's members equal those of SQLite running the SQL statement
// of the same rule over the same profiles and events: an engine that shares
// no code with ours, fed the rule's documented semantics.
func TestSQLEqualsFastPath(t *testing.T) {
	// Under -race SQLite runs about 100 times slower: 6 × 50 profiles and
	// 180 compared rules a seed keep the test near 12 s on 2 cores.
	const (
		seeds    = 6
		profiles = 50
		perSeed  = 180
	)
	db := openSQL(t)
	now := time.Unix(genNow, 0)
	compared, skipped, empty, nonEmpty, mismatches := 0, 0, 0, 0, 0
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 20261201))
		ps := randomProfiles(rng, profiles, genNow)
		e := buildIndex(t, rng, ps)
		loadSQL(t, db, ps)
		for n := 0; n < perSeed; {
			r := randomRule(rng, 1+rng.IntN(4))
			query, args, err := sqlRule(r, genNow)
			if errors.Is(err, errSQLUnsupported) {
				skipped++
				continue
			}
			if err != nil {
				t.Fatalf("rule %s: %v", js(r), err)
			}
			want, err := queryIDs(db, query, args)
			if err != nil {
				t.Fatalf("rule %s: %v\nSQL %s\nargs %v", js(r), err, query, args)
			}
			b, err := newEvaluation(e.ix, now, nil, false).rule(r, "")
			if err != nil {
				t.Fatalf("rule %s: fast path: %v", js(r), err)
			}
			n++
			compared++
			if len(want) == 0 {
				empty++
			} else {
				nonEmpty++
			}
			var diff []*RefProfile
			for _, p := range ps {
				o, ok := e.ix.lookup(p.ID)
				if got := ok && b.Contains(o); got != want[p.ID] {
					diff = append(diff, p)
				}
			}
			if len(diff) == 0 {
				continue
			}
			mismatches++
			if mismatches <= 3 {
				t.Errorf("seed %d: SQL and the fast path differ on %d profiles\nrule %s\nSQL %s\nargs %v\n%s",
					seed, len(diff), js(r), query, args, describeProfiles(diff, want, 3))
			}
		}
	}
	t.Logf("%d rules compared (%d with no member, %d with some), %d not translated, %d mismatches",
		compared, empty, nonEmpty, skipped, mismatches)
	if mismatches > 0 {
		t.Fatalf("%d of %d rules differ", mismatches, compared)
	}
	// Too few comparisons, or only one outcome, would prove little.
	if compared < 1000 || empty == 0 || nonEmpty == 0 {
		t.Fatalf("%d rules compared, %d empty, %d non-empty: want 1000, both outcomes", compared, empty, nonEmpty)
	}
}

// describeProfiles prints up to n of ps with what SQL says of them, their
// traits and their events in time order.
func describeProfiles(ps []*RefProfile, inSQL map[string]bool, n int) string {
	var b strings.Builder
	for _, p := range ps[:min(n, len(ps))] {
		fmt.Fprintf(&b, "profile %s: SQL %v\n  traits %v\n", p.ID, inSQL[p.ID], p.Traits)
		evs := slices.Clone(p.Events)
		slices.SortFunc(evs, func(a, b RefEvent) int { return int(a.Time - b.Time) })
		for _, e := range evs {
			fmt.Fprintf(&b, "  %s (now%+ds) %q %v\n", time.Unix(e.Time, 0).UTC().Format(time.RFC3339), e.Time-genNow, e.Key, e.Properties)
		}
	}
	return b.String()
}

// The SQL translation and the fast path give the answers the documented
// semantics give on hand-written edge cases, which random data rarely
// hits exactly.
// Filters compare scalar values only: a property that holds an object or a
// list as a whole is absent to them ("utm" exists is false on an event with
// "utm": {"source": "x"}); rules reach into it with "utm.source" or
// "products[].category".
func TestSQLOnEdgeCases(t *testing.T) {
	day := genDay
	ps := []*RefProfile{
		{ID: "micros", Traits: map[string]any{"plan": nil, "age": 42.0, "signup": "2026-02-30"}, Events: []RefEvent{
			{Key: "Product Viewed", Time: genNow - day, Properties: map[string]any{"price": 0.1}},
			{Key: "Product Viewed", Time: genNow - 2*day, Properties: map[string]any{"price": 0.2}},
			// 2.01 × 1e6 is 2009999.9999999998: rounded, not truncated.
			{Key: "Product Added", Time: genNow - day, Properties: map[string]any{"price": 2.01}},
			{Key: "Product Added", Time: genNow - 2*day, Properties: map[string]any{"price": 0.99}},
		}},
		{ID: "orders", Traits: map[string]any{"plan": "PRO", "age": "42", "signup": "2026-02-28"}, Events: []RefEvent{
			{Key: "Order Completed", Time: genNow - 30*day, Properties: map[string]any{"revenue": "7", "total": 5.0}},
			{Key: "Order Completed", Time: genNow - 7*day, Properties: map[string]any{"products": []any{
				map[string]any{"price": 2.5, "quantity": 2.0, "category": "Food"},
				map[string]any{"price": 1.0, "category": "BOOKS"},
				"not an object",
			}}},
		}},
		{ID: "future", Events: []RefEvent{
			{Key: "Signed Up", Time: genNow + 1, Properties: map[string]any{"method": "email"}},
			{Key: "Order Completed", Time: genNow + day, Properties: map[string]any{"revenue": 100.0}},
		}},
		{ID: "odd", Traits: map[string]any{"d": "2026-06-01T02:00:00+02:00", "birthday": "2000-02-29"}, Events: []RefEvent{
			{Key: "Order Completed", Time: genNow - 3*day, Properties: map[string]any{"revenue": 1e300}},
			{Key: "Order Completed", Time: genNow - 3*day, Properties: map[string]any{"revenue": 1e300}},
			{Key: "E", Time: genNow - day, Properties: map[string]any{"flag": true, "products": map[string]any{"category": "books"},
				"tags": []any{"a", "B"}}},
		}},
	}
	date := func(offset int64) string { return time.Unix(genNow+offset*day, 0).UTC().Format(time.DateOnly) }
	tests := []struct {
		name string
		rule *Rule
		want []string
	}{
		{"a sum is exact in micro-units: 0.1 + 0.2 = 0.3",
			&Rule{Event: "Product Viewed", Measure: MeasureSum, Of: "price", Op: Eq, Value: 0.3}, []string{"micros"}},
		{"micro-units are rounded to the nearest: 2.01 + 0.99 = 3",
			&Rule{Event: "Product Added", Measure: MeasureSum, Of: "price", Op: Eq, Value: 3.0}, []string{"micros"}},
		{"total_spend takes revenue, else total, else price × quantity",
			&Rule{Computed: "total_spend", Op: Eq, Value: 11.0}, []string{"orders"}},
		{"events after now do not count",
			&Rule{Event: "Signed Up"}, nil},
		{"orders after now do not count",
			&Rule{Computed: "orders", Op: Eq, Value: 0.0}, []string{"micros", "future"}},
		{"a null trait is absent",
			&Rule{Trait: "plan", Op: NotExists}, []string{"micros", "future", "odd"}},
		{"neq is false on an absent trait",
			&Rule{Trait: "plan", Op: Neq, Value: "free"}, []string{"orders"}},
		{"strings compare without case",
			&Rule{Trait: "plan", Op: Eq, Value: "pro"}, []string{"orders"}},
		{"a number operand matches only numbers",
			&Rule{Trait: "age", Op: Eq, Value: 42.0}, []string{"micros"}},
		{"products[] holds when any element matches",
			&Rule{Event: "Order Completed", Where: []*Filter{{Property: "products[].category", Op: Eq, Value: "books"}}}, []string{"orders"}},
		{"a from/to window excludes its end",
			&Rule{Event: "Order Completed", Within: &Window{From: date(-40), To: date(-7)}, Op: Eq, Value: 1.0, Measure: MeasureCount}, []string{"orders"}},
		{"a date that does not exist is no date",
			&Rule{Trait: "signup", Op: Before, Value: "2030-01-01"}, []string{"orders"}},
		{"days since the last order are whole days",
			&Rule{Computed: "days_since_last_order", Op: Eq, Value: 7.0}, []string{"orders"}},
		{"amounts are clamped to ±1e11 currency units each",
			&Rule{Computed: "total_spend", Op: Eq, Value: 2e11}, []string{"odd"}},
		{"a products[] path needs an array",
			&Rule{Event: "E", Where: []*Filter{{Property: "products[].category", Op: Exists}}}, nil},
		{"a dotted path reads an object's field",
			&Rule{Event: "E", Where: []*Filter{{Property: "products.category", Op: Eq, Value: "BOOKS"}}}, []string{"odd"}},
		{"an object as a whole is absent to filters",
			&Rule{Event: "E", Where: []*Filter{{Property: "products", Op: Exists}}}, nil},
		{"a list as a whole is absent to filters",
			&Rule{Event: "E", Where: []*Filter{{Property: "tags", Op: Contains, Value: "a"}}}, nil},
		{"not_exists holds on a list as a whole",
			&Rule{Event: "E", Where: []*Filter{{Property: "tags", Op: NotExists}}}, []string{"odd"}},
		{"a boolean operand matches booleans",
			&Rule{Event: "E", Where: []*Filter{{Property: "flag", Op: Eq, Value: true}}}, []string{"odd"}},
		{"a string operand does not match a boolean",
			&Rule{Event: "E", Where: []*Filter{{Property: "flag", Op: Eq, Value: "true"}}}, nil},
		// The next anniversary of 29 February after 2026-06-15 falls on
		// 2027-03-01, 259 days later.
		{"29 February falls on 1 March in other years",
			&Rule{Trait: "birthday", Op: AnniversaryWithinNext, Value: "260d"}, []string{"odd"}},
		{"an anniversary within the next n days excludes the n-th day",
			&Rule{Trait: "birthday", Op: AnniversaryWithinNext, Value: "259d"}, nil},
		{"lifecycle: the first order within 30 days is new",
			&Rule{Computed: FieldLifecycle, Op: Eq, Value: "NEW"}, []string{"odd"}},
		{"lifecycle: prospects have no order before now",
			&Rule{Computed: FieldLifecycle, Op: Eq, Value: StageProspect}, []string{"micros", "future"}},
		{"a time with an offset is the same instant in UTC",
			&Rule{Trait: "d", Op: Before, Value: "2026-06-01T00:00:01Z"}, []string{"odd"}},
	}
	db := openSQL(t)
	loadSQL(t, db, ps)
	e := buildIndex(t, rand.New(rand.NewPCG(1, 1)), ps)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.rule.Validate(); err != nil {
				t.Fatalf("rule %s: %v", js(tt.rule), err)
			}
			query, args, err := sqlRule(tt.rule, genNow)
			if err != nil {
				t.Fatalf("rule %s: %v", js(tt.rule), err)
			}
			inSQL, err := queryIDs(db, query, args)
			if err != nil {
				t.Fatalf("rule %s: %v\nSQL %s", js(tt.rule), err, query)
			}
			b, err := newEvaluation(e.ix, time.Unix(genNow, 0), nil, false).rule(tt.rule, "")
			if err != nil {
				t.Fatalf("rule %s: fast path: %v", js(tt.rule), err)
			}
			var gotSQL, gotFast []string
			for _, p := range ps {
				if inSQL[p.ID] {
					gotSQL = append(gotSQL, p.ID)
				}
				if o, ok := e.ix.lookup(p.ID); ok && b.Contains(o) {
					gotFast = append(gotFast, p.ID)
				}
			}
			if !slices.Equal(gotSQL, tt.want) || !slices.Equal(gotFast, tt.want) {
				t.Errorf("rule %s: SQL %v, fast path %v, want %v\nSQL %s\nargs %v", js(tt.rule), gotSQL, gotFast, tt.want, query, args)
			}
		})
	}
}
