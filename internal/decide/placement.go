package decide

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"tailor/internal/apierr"
)

// Placement is one spot on a page or screen that /v1/decide fills: the
// variants it can show, the rules that choose one per visitor, an optional
// experiment over its variants and an optional slot of recommendations.
type Placement struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Variants are what the placement can show; rules and the experiment
	// name them by id.
	Variants []Variant `json:"variants"`
	// Rules are tried in order; the first whose condition holds chooses
	// its variant. None holding chooses Default.
	Rules   []Rule `json:"rules,omitempty"`
	Default string `json:"default"`
	// Experiment is an experiment id. When the experiment assigns the
	// visitor a variant id of this placement, that variant replaces the
	// one the rules chose (rules target, the experiment tests); any other
	// assignment (a holdout, "control", no running experiment) keeps the
	// rules' choice.
	Experiment string `json:"experiment,omitempty"`
	// Recommendations fills the placement with products (nil: none).
	Recommendations *RecSlot `json:"recommendations,omitempty"`
	// Geo adds the visitor's currency and prices converted to it, and the
	// nearest store, from the geo table.
	Geo bool `json:"geo,omitempty"`

	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Variant is one content / layout a placement can show. Content is the
// page's own JSON (headline, offer, coupon, image...) handed back as it is.
type Variant struct {
	ID      string          `json:"id"`
	Name    string          `json:"name,omitempty"`
	Layout  string          `json:"layout,omitempty"`
	Content json.RawMessage `json:"content,omitempty"`
}

// Rule chooses Variant when its condition holds. Exactly one of Segment,
// Trait or Computed is set.
type Rule struct {
	// Segment holds for the profiles in this segment (by id).
	Segment string `json:"segment,omitempty"`
	// Trait compares the profile trait of this name with Value under Op.
	Trait string `json:"trait,omitempty"`
	// Computed compares a computed field (see ComputedFields) with Value.
	Computed string `json:"computed,omitempty"`
	// Op is one of Ops; default "eq" for a trait, "gte" for a computed field.
	Op    string `json:"op,omitempty"`
	Value any    `json:"value,omitempty"`
	// Variant is the variant id chosen.
	Variant string `json:"variant"`
}

// RecSlot asks the recommender for products.
type RecSlot struct {
	Strategy string    `json:"strategy"`
	Limit    int       `json:"limit"`
	Segment  string    `json:"segment,omitempty"`
	Filter   RecFilter `json:"filter,omitempty"`
}

// RecFilter is the business filters of a slot, as the recommender takes
// them (ExcludeCategoryFor in days here, so that the JSON stays plain).
type RecFilter struct {
	ExcludePurchased    bool     `json:"exclude_purchased,omitempty"`
	ExcludeCategoryDays int      `json:"exclude_category_days,omitempty"`
	InStockOnly         bool     `json:"in_stock_only,omitempty"`
	MinPrice            float64  `json:"min_price,omitempty"`
	MaxPrice            float64  `json:"max_price,omitempty"`
	Categories          []string `json:"categories,omitempty"`
	ExcludeCategories   []string `json:"exclude_categories,omitempty"`
	MaxPerCategory      int      `json:"max_per_category,omitempty"`
}

// Strategies are the recommendation strategies a slot may name (those of
// package recommend).
var Strategies = []string{"also_bought", "also_viewed", "complements", "bundle", "upsell", "buy_again",
	"recently_viewed", "trending", "bestsellers", "for_you"}

// Ops are the comparison operators of trait and computed rules.
var Ops = []string{"eq", "neq", "gt", "gte", "lt", "lte", "in", "contains", "exists"}

// ComputedFields are the profile figures a rule can compare. The first four
// are read from the profile's own aggregates: orders and revenue (Order
// Completed events), events (of every type; 0 for a visitor seen for the
// first time). The rest are PredictionFields.
var ComputedFields = []string{"orders", "revenue", "average_order_value", "events",
	"predicted_clv", "clv_percentile", "predicted_orders", "p_alive", "churn_risk", "expected_order_value", "next_order_in_days"}

// PredictionFields are the model outputs (CLV, churn, next order) a
// computed rule can compare, read through Engine.Predictions after the
// profile's lock is let go, as segment rules are. A profile has none
// without orders or before the first fit: then the rule does not hold,
// whatever the op, except exists, which says whether there is a value.
var PredictionFields = ComputedFields[4:]

func isPrediction(field string) bool { return field != "" && contains(PredictionFields, field) }

// MaxRecLimit bounds a slot's products: a page shows a row or two, and each
// costs a signed token in the answer.
const MaxRecLimit = 50

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidID reports whether id can name a placement or a variant: lower-case
// letters, digits, "_" and "-", 1 to 64 characters, starting with a letter
// or digit (it appears in URLs and tracking tokens).
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Validate reports every mistake of p, each naming its field, as one
// *apierr.Error with code InvalidPlacement. segmentExists (nil: not
// checked) says whether a rule's segment exists.
func (p *Placement) Validate(segmentExists func(string) bool) error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !ValidID(p.ID) {
		add("id %q: use 1-64 lower-case letters, digits, _ or -", p.ID)
	}
	if strings.TrimSpace(p.Name) == "" {
		add("name: must not be empty")
	}
	if len(p.Variants) == 0 {
		add("variants: a placement needs at least one variant")
	}
	seen := map[string]bool{}
	for i, v := range p.Variants {
		switch {
		case !ValidID(v.ID):
			add("variants[%d].id %q: use 1-64 lower-case letters, digits, _ or -", i, v.ID)
		case seen[v.ID]:
			add("variants[%d].id %q: used twice", i, v.ID)
		}
		seen[v.ID] = true
		if len(v.Content) > 0 {
			var probe any
			if err := json.Unmarshal(v.Content, &probe); err != nil {
				add("variants[%d].content: not valid JSON: %v", i, err)
			}
		}
	}
	if p.Default == "" {
		add("default: name the variant shown when no rule holds")
	} else if !seen[p.Default] {
		add("default %q: no variant has this id", p.Default)
	}
	for i, r := range p.Rules {
		if msg := r.check(seen, segmentExists); msg != "" {
			add("rules[%d]: %s", i, msg)
		}
	}
	if p.Experiment != "" && !ValidID(p.Experiment) {
		add("experiment %q: use 1-64 lower-case letters, digits, _ or -", p.Experiment)
	}
	if s := p.Recommendations; s != nil {
		if !contains(Strategies, s.Strategy) {
			add("recommendations.strategy %q: use one of %s", s.Strategy, strings.Join(Strategies, ", "))
		}
		if s.Limit < 1 || s.Limit > MaxRecLimit {
			add("recommendations.limit %d: must be between 1 and %d", s.Limit, MaxRecLimit)
		}
		f := s.Filter
		if f.MinPrice < 0 || f.MaxPrice < 0 || f.MaxPrice > 0 && f.MinPrice > f.MaxPrice {
			add("recommendations.filter: min_price and max_price must be >= 0 with min_price <= max_price")
		}
		if f.ExcludeCategoryDays < 0 || f.MaxPerCategory < 0 {
			add("recommendations.filter: exclude_category_days and max_per_category must be >= 0")
		}
		if s.Segment != "" && segmentExists != nil && !segmentExists(s.Segment) {
			add("recommendations.segment %q: no such segment", s.Segment)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return apierr.New(apierr.InvalidPlacement, strings.Join(errs, "; "))
}

func (r *Rule) check(variants map[string]bool, segmentExists func(string) bool) string {
	kinds := 0
	for _, s := range []string{r.Segment, r.Trait, r.Computed} {
		if s != "" {
			kinds++
		}
	}
	if kinds != 1 {
		return "set exactly one of segment, trait or computed"
	}
	if !variants[r.Variant] {
		return fmt.Sprintf("variant %q: no variant has this id", r.Variant)
	}
	if r.Segment != "" {
		if r.Op != "" || r.Value != nil {
			return "a segment rule takes no op or value"
		}
		if segmentExists != nil && !segmentExists(r.Segment) {
			return fmt.Sprintf("segment %q: no such segment", r.Segment)
		}
		return ""
	}
	if r.Computed != "" && !contains(ComputedFields, r.Computed) {
		return fmt.Sprintf("computed %q: use one of %s", r.Computed, strings.Join(ComputedFields, ", "))
	}
	op := r.op()
	if !contains(Ops, op) {
		return fmt.Sprintf("op %q: use one of %s", r.Op, strings.Join(Ops, ", "))
	}
	if _, err := compileCond(r); err != nil {
		return err.Error()
	}
	return ""
}

func (r *Rule) op() string {
	switch {
	case r.Op != "":
		return r.Op
	case r.Computed != "":
		return "gte"
	}
	return "eq"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cond is a trait or computed rule compiled for the hot path: the value
// converted once to what the comparison needs.
type cond struct {
	trait    string
	computed string
	pred     bool // computed is a prediction field: evaluated after the profile's lock
	op       string
	num      float64
	str      string
	boolean  bool
	kind     byte // 'n' number, 's' string, 'b' bool, 'l' list of strings, 0 for exists
	list     []string
}

func compileCond(r *Rule) (cond, error) {
	c := cond{trait: r.Trait, computed: r.Computed, op: r.op(), pred: isPrediction(r.Computed)}
	if c.op == "exists" {
		if r.Value != nil {
			return c, errors.New("op exists takes no value")
		}
		return c, nil
	}
	switch v := r.Value.(type) {
	case float64:
		c.kind, c.num = 'n', v
	case int:
		c.kind, c.num = 'n', float64(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return c, fmt.Errorf("value %q: not a number", v)
		}
		c.kind, c.num = 'n', f
	case string:
		c.kind, c.str = 's', v
	case bool:
		c.kind, c.boolean = 'b', v
	case []any:
		c.kind = 'l'
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				return c, fmt.Errorf("value[%d]: op in takes a list of strings", i)
			}
			c.list = append(c.list, s)
		}
	case []string:
		c.kind, c.list = 'l', v
	case nil:
		return c, fmt.Errorf("op %s needs a value", c.op)
	default:
		return c, fmt.Errorf("value: want a number, string, boolean or list of strings, got %T", v)
	}
	switch c.op {
	case "gt", "gte", "lt", "lte":
		if c.kind != 'n' {
			return c, fmt.Errorf("op %s needs a number value", c.op)
		}
	case "in":
		if c.kind != 'l' {
			return c, errors.New("op in needs a list of strings")
		}
	case "contains":
		if c.kind != 's' {
			return c, errors.New("op contains needs a string value")
		}
	default: // eq, neq
		if c.kind == 'l' {
			return c, fmt.Errorf("op %s needs a single value; use in for a list", c.op)
		}
	}
	if c.computed != "" && c.kind != 'n' && c.op != "exists" {
		return c, fmt.Errorf("computed %s compares with a number", c.computed)
	}
	return c, nil
}

// Facts is what rules read of a profile: its traits and own aggregates.
// *profile.State has these methods.
type Facts interface {
	TraitString(name string) (string, bool)
	TraitNumber(name string) (float64, bool)
	TraitBool(name string) (v, ok bool)
	Orders() int
	Revenue() float64
	EventCount() int
}

// holdsPrediction evaluates a prediction rule against the profile's
// value v (has false: none).
func (c *cond) holdsPrediction(v float64, has bool) bool {
	if c.op == "exists" {
		return has
	}
	return has && compareNum(c.op, v, c.num)
}

// holds evaluates c against f; f is nil for a visitor without a profile,
// who has no traits and zero aggregates.
func (c *cond) holds(f Facts) bool {
	if c.computed != "" {
		var v float64
		if f != nil {
			switch c.computed {
			case "orders":
				v = float64(f.Orders())
			case "revenue":
				v = f.Revenue()
			case "average_order_value":
				if n := f.Orders(); n > 0 {
					v = f.Revenue() / float64(n)
				}
			case "events":
				v = float64(f.EventCount())
			}
		}
		return c.op == "exists" || compareNum(c.op, v, c.num)
	}
	if f == nil {
		return c.op == "neq"
	}
	switch c.kind {
	case 'n':
		v, ok := f.TraitNumber(c.trait)
		if !ok {
			return c.op == "neq"
		}
		return compareNum(c.op, v, c.num)
	case 'b':
		v, ok := f.TraitBool(c.trait)
		if !ok {
			return c.op == "neq"
		}
		return (v == c.boolean) == (c.op == "eq")
	case 's', 'l':
		v, ok := f.TraitString(c.trait)
		if !ok {
			return c.op == "neq"
		}
		switch c.op {
		case "eq":
			return strings.EqualFold(v, c.str)
		case "neq":
			return !strings.EqualFold(v, c.str)
		case "contains":
			return strings.Contains(strings.ToLower(v), strings.ToLower(c.str))
		case "in":
			for _, x := range c.list {
				if strings.EqualFold(v, x) {
					return true
				}
			}
		}
		return false
	default: // exists
		if _, ok := f.TraitString(c.trait); ok {
			return true
		}
		if _, ok := f.TraitNumber(c.trait); ok {
			return true
		}
		_, ok := f.TraitBool(c.trait)
		return ok
	}
}

func compareNum(op string, v, want float64) bool {
	switch op {
	case "eq":
		return v == want
	case "neq":
		return v != want
	case "gt":
		return v > want
	case "gte":
		return v >= want
	case "lt":
		return v < want
	case "lte":
		return v <= want
	}
	return false
}
