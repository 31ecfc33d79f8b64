package event

import (
	"encoding/json"
	"iter"
	"math"
	"strconv"
)

// Names of the Segment e-commerce spec v2 events the engines read. They are
// matched exactly, in the spec's spelling.
const (
	ProductClicked         = "Product Clicked"
	ProductViewed          = "Product Viewed"
	ProductAdded           = "Product Added"
	ProductRemoved         = "Product Removed"
	CartViewed             = "Cart Viewed"
	CheckoutStarted        = "Checkout Started"
	OrderCompleted         = "Order Completed"
	OrderUpdated           = "Order Updated"
	OrderRefunded          = "Order Refunded"
	OrderCancelled         = "Order Cancelled"
	ProductAddedToWishlist = "Product Added to Wishlist"
)

// MaxMicros bounds one amount in micro-units: ±1e17, that is ±1e11 currency
// units. Far beyond any real order, and small enough that 2^32 of them sum
// exactly in 128 bits.
const MaxMicros = 1e17

// maxProductBytes bounds product ids and category names, like event names:
// longer strings are not taken as ids or categories, so per-profile lists
// of them stay small.
const maxProductBytes = maxNameBytes

// LineItem is one product of an order or a cart, or the product of a
// product event.
type LineItem struct {
	ProductID string  // "" when the item names none (see ProductID)
	Category  string  // "" when absent (see Category)
	Price     int64   // unit price in micro-units (see Micros); 0 when absent or not a number
	Quantity  float64 // 1 when absent or not a number
}

// Amount is the item's price × quantity in micro-units, rounded and clamped
// like Micros.
func (it LineItem) Amount() int64 {
	return clampMicros(math.Round(float64(it.Price) * it.Quantity))
}

// Product reads one product: the properties of a product event (Product
// Viewed, Product Added, ...) or one element of an order's products.
func Product(props map[string]any) LineItem {
	it := LineItem{ProductID: ProductID(props), Category: Category(props), Quantity: 1}
	if v, ok := number(props["price"]); ok {
		it.Price = Micros(v)
	}
	if v, ok := number(props["quantity"]); ok {
		it.Quantity = v
	}
	return it
}

// LineItems yields the products of an order or cart event: each element of
// properties.products that is an object, in order. It allocates nothing.
func LineItems(props map[string]any) iter.Seq[LineItem] {
	return func(yield func(LineItem) bool) {
		products, _ := props["products"].([]any)
		for _, p := range products {
			m, ok := p.(map[string]any)
			if !ok {
				continue
			}
			if !yield(Product(m)) {
				return
			}
		}
	}
}

// ProductID returns a product's id: product_id, else sku, else id, the first
// that is a non-empty string or a number (numbers print in decimal without
// exponent, e.g. 42, 7.5, 100000000000000000000). Strings over 1 KB are not
// ids. "" means the product names none.
func ProductID(props map[string]any) string {
	for _, k := range [...]string{"product_id", "sku", "id"} {
		switch v := props[k].(type) {
		case string:
			if v != "" && len(v) <= maxProductBytes {
				return v
			}
		case float64:
			if id, ok := numberID(v); ok {
				return id
			}
		case int:
			return strconv.Itoa(v)
		case int64:
			return strconv.FormatInt(v, 10)
		case json.Number:
			if f, err := v.Float64(); err == nil {
				if id, ok := numberID(f); ok {
					return id
				}
			}
		}
	}
	return ""
}

func numberID(v float64) (string, bool) {
	switch {
	case math.IsInf(v, 0) || math.IsNaN(v):
		return "", false
	case v == 0:
		return "0", true // also -0
	}
	return strconv.FormatFloat(v, 'f', -1, 64), true
}

// Category returns properties.category when it is a non-empty string of at
// most 1 KB, else "".
func Category(props map[string]any) string {
	if c, ok := props["category"].(string); ok && len(c) <= maxProductBytes {
		return c
	}
	return ""
}

// OrderRevenue is an order's revenue in micro-units: properties.revenue,
// else properties.total, else the sum of its line items' amounts. A value
// that is not a number (a string "19.99") counts as absent.
func OrderRevenue(props map[string]any) int64 {
	if v, ok := number(props["revenue"]); ok {
		return Micros(v)
	}
	if v, ok := number(props["total"]); ok {
		return Micros(v)
	}
	var sum int64
	for it := range LineItems(props) {
		// Both terms are within ±MaxMicros, so the sum cannot overflow
		// before it is clamped again: one order stays within ±MaxMicros.
		sum = min(max(sum+it.Amount(), -MaxMicros), MaxMicros)
	}
	return sum
}

// Micros converts an amount in currency units to integer micro-units
// (1e-6), rounding to the nearest and clamping to ±MaxMicros; NaN is 0.
// Sums of integers, unlike sums of floats, do not depend on their order.
func Micros(v float64) int64 {
	return clampMicros(math.Round(v * 1e6))
}

func clampMicros(m float64) int64 {
	switch {
	case math.IsNaN(m):
		return 0
	case m > MaxMicros:
		return MaxMicros
	case m < -MaxMicros:
		return -MaxMicros
	}
	return int64(m)
}

// number reads a JSON number; ok is false for anything else (and NaN, ±Inf).
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}
