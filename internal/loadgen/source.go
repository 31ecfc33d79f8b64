package loadgen

import "tailor/internal/demo"

// DemoSource is the default Source: the deterministic demo store's messages
// for the given number of customers (seed 1).
func DemoSource(customers int) Source {
	return func(fn func([]byte) error) error {
		return demo.New(demo.Config{Customers: customers, Seed: 1}).Messages(fn)
	}
}
