package decide

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"tailor/internal/apierr"
)

func validPlacement() Placement {
	return Placement{ID: "hero", Name: "Hero", Default: "a",
		Variants: []Variant{{ID: "a", Content: json.RawMessage(`{"h":"A"}`)}, {ID: "b"}}}
}

func TestValidateNamesTheFieldAtFault(t *testing.T) {
	exists := func(id string) bool { return id == "vip" }
	cases := []struct {
		name   string
		change func(p *Placement)
		want   string // "" means valid
	}{
		{"valid", func(p *Placement) {}, ""},
		{"bad id", func(p *Placement) { p.ID = "Hero Banner" }, `id "Hero Banner"`},
		{"no name", func(p *Placement) { p.Name = " " }, "name: must not be empty"},
		{"no variants", func(p *Placement) { p.Variants = nil; p.Default = "" }, "variants: a placement needs"},
		{"duplicate variant", func(p *Placement) { p.Variants[1].ID = "a" }, `variants[1].id "a": used twice`},
		{"bad content", func(p *Placement) { p.Variants[0].Content = json.RawMessage(`{`) }, "variants[0].content"},
		{"unknown default", func(p *Placement) { p.Default = "z" }, `default "z"`},
		{"rule without condition", func(p *Placement) { p.Rules = []Rule{{Variant: "b"}} }, "rules[0]: set exactly one"},
		{"rule with two conditions", func(p *Placement) { p.Rules = []Rule{{Segment: "vip", Trait: "x", Variant: "b"}} }, "rules[0]: set exactly one"},
		{"unknown segment", func(p *Placement) { p.Rules = []Rule{{Segment: "nope", Variant: "b"}} }, `segment "nope": no such segment`},
		{"known segment", func(p *Placement) { p.Rules = []Rule{{Segment: "vip", Variant: "b"}} }, ""},
		{"rule to unknown variant", func(p *Placement) { p.Rules = []Rule{{Segment: "vip", Variant: "z"}} }, `rules[0]: variant "z"`},
		{"bad op", func(p *Placement) { p.Rules = []Rule{{Trait: "plan", Op: "like", Value: "x", Variant: "b"}} }, `op "like"`},
		{"gt on string", func(p *Placement) { p.Rules = []Rule{{Trait: "plan", Op: "gt", Value: "x", Variant: "b"}} }, "op gt needs a number"},
		{"in needs list", func(p *Placement) { p.Rules = []Rule{{Trait: "plan", Op: "in", Value: "x", Variant: "b"}} }, "op in needs a list"},
		{"unknown computed", func(p *Placement) { p.Rules = []Rule{{Computed: "ltv", Value: 1.0, Variant: "b"}} }, `computed "ltv"`},
		{"computed gte", func(p *Placement) { p.Rules = []Rule{{Computed: "revenue", Value: 500.0, Variant: "b"}} }, ""},
		{"bad strategy", func(p *Placement) { p.Recommendations = &RecSlot{Strategy: "random", Limit: 4} }, `recommendations.strategy "random"`},
		{"limit too big", func(p *Placement) { p.Recommendations = &RecSlot{Strategy: "trending", Limit: 500} }, "recommendations.limit 500"},
		{"price band inverted", func(p *Placement) {
			p.Recommendations = &RecSlot{Strategy: "trending", Limit: 4, Filter: RecFilter{MinPrice: 50, MaxPrice: 10}}
		}, "min_price <= max_price"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validPlacement()
			c.change(&p)
			err := p.Validate(exists)
			if c.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != apierr.InvalidPlacement {
				t.Fatalf("want an InvalidPlacement error, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestConditionsAgainstFacts(t *testing.T) {
	f := &fakeFacts{traits: map[string]any{"plan": "Pro", "age": 34.0, "beta": true}, orders: 3, revenue: 900}
	cases := []struct {
		rule Rule
		want bool
	}{
		{Rule{Trait: "plan", Value: "pro"}, true}, // eq ignores case
		{Rule{Trait: "plan", Op: "neq", Value: "pro"}, false},
		{Rule{Trait: "plan", Op: "in", Value: []any{"basic", "PRO"}}, true},
		{Rule{Trait: "plan", Op: "contains", Value: "r"}, true},
		{Rule{Trait: "age", Op: "gte", Value: 34.0}, true},
		{Rule{Trait: "age", Op: "lt", Value: 34.0}, false},
		{Rule{Trait: "beta", Value: true}, true},
		{Rule{Trait: "missing", Op: "exists"}, false},
		{Rule{Trait: "age", Op: "exists"}, true},
		{Rule{Trait: "missing", Op: "neq", Value: "x"}, true},
		{Rule{Computed: "orders", Value: 3.0}, true},
		{Rule{Computed: "orders", Value: 4.0}, false},
		{Rule{Computed: "revenue", Op: "lt", Value: 1000.0}, true},
		{Rule{Computed: "average_order_value", Op: "eq", Value: 300.0}, true},
	}
	for _, c := range cases {
		c.rule.Variant = "b"
		cd, err := compileCond(&c.rule)
		if err != nil {
			t.Fatalf("%+v: %v", c.rule, err)
		}
		if got := cd.holds(f); got != c.want {
			t.Errorf("%+v holds = %v, want %v", c.rule, got, c.want)
		}
	}
	// A visitor without a profile has no traits and zero aggregates.
	for _, r := range []Rule{{Trait: "plan", Value: "pro"}, {Computed: "orders", Value: 1.0}} {
		cd, _ := compileCond(&r)
		if cd.holds(nil) {
			t.Errorf("%+v holds for a visitor without a profile", r)
		}
	}
	zero := Rule{Computed: "orders", Op: "eq", Value: 0.0}
	cd, _ := compileCond(&zero)
	if !cd.holds(nil) {
		t.Error("orders eq 0 does not hold for a new visitor")
	}
}

func TestDemoPlacementsAreValid(t *testing.T) {
	segs := map[string]bool{"tier-high": true, "cart-abandoners": true}
	for _, p := range DemoPlacements() {
		if err := p.Validate(func(id string) bool { return segs[id] }); err != nil {
			t.Errorf("%s: %v", p.ID, err)
		}
	}
	g := DemoGeo()
	if err := g.Validate(); err != nil {
		t.Error(err)
	}
}
