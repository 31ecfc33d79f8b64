package segment

import (
	"errors"
	"testing"
	"time"
)

func TestHoldsEvaluatesARuleForOneProfileNow(t *testing.T) {
	e := NewEngine(Options{Now: func() time.Time { return t0 }})
	e.Begin()
	e.Apply(track("p_1", "Order Completed", t0.Add(-time.Hour), map[string]any{"revenue": 50.0}))
	e.Apply(track("p_2", "Product Viewed", t0.Add(-time.Hour), nil))
	bought := mustRule(t, `{"event":"Order Completed","within":{"last":"7d"}}`)
	tests := []struct {
		name    string
		profile string
		at      time.Time
		want    bool
		err     error
	}{
		{"bought an hour ago", "p_1", t0, true, nil},
		{"never bought", "p_2", t0, false, nil},
		{"the order is past the window at a later instant", "p_1", t0.Add(8 * 24 * time.Hour), false, nil},
		{"unknown profile", "p_9", t0, false, ErrNoProfile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Holds(bought, tt.profile, tt.at)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("Holds = %v, %v; want %v, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestMatchFiltersAndValidateFilters(t *testing.T) {
	props := map[string]any{"category": "Hats", "price": 20.0, "products": []any{map[string]any{"sku": "a"}}}
	tests := []struct {
		name string
		fs   []*Filter
		want bool
	}{
		{"no filters", nil, true},
		{"eq ignores case", []*Filter{{Property: "category", Op: Eq, Value: "hats"}}, true},
		{"number gt", []*Filter{{Property: "price", Op: Gt, Value: 25.0}}, false},
		{"array element", []*Filter{{Property: "products[].sku", Op: Eq, Value: "a"}}, true},
		{"all must hold", []*Filter{{Property: "category", Op: Eq, Value: "hats"}, {Property: "price", Op: Lt, Value: 10.0}}, false},
		{"missing property", []*Filter{{Property: "brand", Op: Exists}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateFilters(tt.fs); err != nil {
				t.Fatalf("valid filters refused: %v", err)
			}
			if got := MatchFilters(tt.fs, props, t0); got != tt.want {
				t.Fatalf("MatchFilters = %v, want %v", got, tt.want)
			}
		})
	}
	err := ValidateFilters([]*Filter{{Property: "price", Op: "bigger", Value: 1.0}})
	var re *Error
	if !errors.As(err, &re) || re.Path != "/0/op" {
		t.Fatalf("bad op: err = %v, want a rule error at /0/op", err)
	}
}
