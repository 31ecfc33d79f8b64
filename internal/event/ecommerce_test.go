package event

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestProductID(t *testing.T) {
	long := strings.Repeat("x", maxProductBytes+1)
	tests := []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"product_id", map[string]any{"product_id": "p1", "sku": "s", "id": "i"}, "p1"},
		{"sku when no product_id", map[string]any{"sku": "S-1", "id": "i"}, "S-1"},
		{"id last", map[string]any{"id": "i"}, "i"},
		{"empty string falls through", map[string]any{"product_id": "", "sku": "s"}, "s"},
		{"non-string non-number falls through", map[string]any{"product_id": true, "sku": []any{"x"}, "id": "i"}, "i"},
		{"integral number", map[string]any{"id": 42.0}, "42"},
		{"fraction", map[string]any{"product_id": 7.5}, "7.5"},
		{"large number without exponent", map[string]any{"sku": 1e20}, "100000000000000000000"},
		{"negative zero", map[string]any{"id": math.Copysign(0, -1)}, "0"},
		{"NaN is not an id", map[string]any{"product_id": math.NaN(), "sku": "s"}, "s"},
		{"int", map[string]any{"id": 7}, "7"},
		{"int64", map[string]any{"id": int64(-3)}, "-3"},
		{"json.Number", map[string]any{"id": json.Number("12.50")}, "12.5"},
		{"bad json.Number falls through", map[string]any{"product_id": json.Number("x"), "id": "i"}, "i"},
		{"over 1 KB is not an id", map[string]any{"product_id": long, "sku": "s"}, "s"},
		{"none", map[string]any{"name": "shoe"}, ""},
		{"nil map", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ProductID(tc.props); got != tc.want {
				t.Errorf("ProductID = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCategory(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"string", map[string]any{"category": "Shoes"}, "Shoes"},
		{"empty", map[string]any{"category": ""}, ""},
		{"number", map[string]any{"category": 3.0}, ""},
		{"exactly 1 KB", map[string]any{"category": strings.Repeat("c", maxProductBytes)}, strings.Repeat("c", maxProductBytes)},
		{"over 1 KB", map[string]any{"category": strings.Repeat("c", maxProductBytes+1)}, ""},
		{"absent", map[string]any{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Category(tc.props); got != tc.want {
				t.Errorf("Category = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMicros(t *testing.T) {
	tests := []struct {
		in   float64
		want int64
	}{
		{19.99, 19_990_000},
		{0.1, 100_000},
		{-20, -20_000_000},
		{0.0000005, 1}, // rounds half away from zero
		{0.0000004, 0},
		{1e11, MaxMicros},
		{1e12, MaxMicros},
		{-1e300, -MaxMicros},
		{math.Inf(1), MaxMicros},
		{math.NaN(), 0},
	}
	for _, tc := range tests {
		if got := Micros(tc.in); got != tc.want {
			t.Errorf("Micros(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestLineItems(t *testing.T) {
	props := map[string]any{"products": []any{
		map[string]any{"product_id": "p1", "category": "Hats", "price": 10.0, "quantity": 2.0},
		"junk",
		map[string]any{"sku": "p2", "price": "7", "quantity": "3"},
		nil,
		map[string]any{"id": 5.0, "price": 5.5, "quantity": 0.5},
	}}
	want := []LineItem{
		{ProductID: "p1", Category: "Hats", Price: 10_000_000, Quantity: 2},
		{ProductID: "p2", Quantity: 1},
		{ProductID: "5", Price: 5_500_000, Quantity: 0.5},
	}
	got := slices.Collect(LineItems(props))
	if !slices.Equal(got, want) {
		t.Errorf("LineItems = %+v, want %+v", got, want)
	}
	for i, amount := range []int64{20_000_000, 0, 2_750_000} {
		if a := got[i].Amount(); a != amount {
			t.Errorf("item %d: Amount = %d, want %d", i, a, amount)
		}
	}
	// Stopping early stops the walk.
	n := 0
	for range LineItems(props) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break after %d items", n)
	}
	for _, p := range []map[string]any{nil, {"products": "x"}, {"products": []any{}}} {
		if got := slices.Collect(LineItems(p)); len(got) != 0 {
			t.Errorf("LineItems(%v) = %v, want none", p, got)
		}
	}
}

func TestOrderRevenue(t *testing.T) {
	many := make([]any, 300)
	for i := range many {
		many[i] = map[string]any{"price": 1e11, "quantity": 1.0}
	}
	tests := []struct {
		name  string
		props map[string]any
		want  int64
	}{
		{"revenue", map[string]any{"revenue": 19.99, "total": 25.0}, 19_990_000},
		{"zero revenue wins over total", map[string]any{"revenue": 0.0, "total": 25.0}, 0},
		{"string revenue falls back to total", map[string]any{"revenue": "19.99", "total": 25.0}, 25_000_000},
		{"total", map[string]any{"total": 30.5}, 30_500_000},
		{"line items", map[string]any{"products": []any{
			map[string]any{"price": 10.0, "quantity": 2.0},
			map[string]any{"price": 5.5},
			map[string]any{"price": "7", "quantity": 3.0},
			map[string]any{"quantity": 3.0},
			"junk",
		}}, 25_500_000},
		{"negative (refund-like)", map[string]any{"revenue": -20.0}, -20_000_000},
		{"revenue clamped", map[string]any{"revenue": 1e15}, MaxMicros},
		{"line item sum clamped, not wrapped", map[string]any{"products": many}, MaxMicros},
		{"huge quantity clamped", map[string]any{"products": []any{map[string]any{"price": 1.0, "quantity": 1e300}}}, MaxMicros},
		{"no amounts", map[string]any{"order_id": "o1"}, 0},
		{"nil", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := OrderRevenue(tc.props); got != tc.want {
				t.Errorf("OrderRevenue = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestLineItemsDoNotAllocate(t *testing.T) {
	props := map[string]any{"products": []any{
		map[string]any{"product_id": "p1", "category": "Hats", "price": 10.0},
		map[string]any{"product_id": "p2", "category": "Shoes", "price": 5.0, "quantity": 2.0},
	}}
	var n int
	allocs := testing.AllocsPerRun(100, func() {
		for it := range LineItems(props) {
			n += len(it.ProductID)
		}
		n += int(OrderRevenue(props))
	})
	if allocs != 0 {
		t.Errorf("%v allocations per order, want 0", allocs)
	}
}
