package segment

import "fmt"

// demoSegments are the ready-made segments of the demo store, in the text
// form of rules. The event names, the "category" property of Product
// Viewed and Product Added ("Apparel > Accessories > Hats") and the
// traits are the ones package demo generates.
var demoSegments = []struct{ id, name, description, text string }{
	{"tier-high", "Loyalty: high tier", "The top tenth of spenders over the last 12 months.",
		`spend_tier = "high"`},
	{"tier-mid", "Loyalty: mid tier", "Spenders between the bottom half and the top tenth over the last 12 months.",
		`spend_tier = "mid"`},
	{"stage-new", "Lifecycle: new", "First order in the last 30 days.",
		`lifecycle = "new"`},
	{"stage-at-risk", "Lifecycle: at risk", "Last order 90 to 180 days ago.",
		`lifecycle = "at_risk"`},
	{"stage-lapsed", "Lifecycle: lapsed", "Last order 180 days ago or more.",
		`lifecycle = "lapsed"`},
	{"cart-abandoners", "Cart abandoners", "Added a product in the last 7 days and did not order in that time.",
		`did "Product Added" in last 7d and did not "Order Completed" in last 7d`},
	{"accessory-lovers", "Accessory lovers", "Viewed accessories at least twice, or added them to the cart at least twice, in the last 90 days.",
		`did "Product Viewed" where category contains "accessor" at least 2 times in last 90d
		 or did "Product Added" where category contains "accessor" at least 2 times in last 90d`},
	{"visited-2d-no-order", "Visited in the last 2 days, no order", "Seen in the last 2 days and did not order in that time.",
		`last_seen less_than_ago 2d and did not "Order Completed" in last 2d`},
	{"visited-7d-no-order", "Visited in the last 7 days, no order", "Seen in the last 7 days and did not order in that time.",
		`last_seen less_than_ago 7d and did not "Order Completed" in last 7d`},
	{"visited-14d-no-order", "Visited in the last 14 days, no order", "Seen in the last 14 days and did not order in that time.",
		`last_seen less_than_ago 14d and did not "Order Completed" in last 14d`},
	{"high-spenders", "High spenders", "Spent more than 300 in all.",
		`total_spend > 300`},
}

// DemoSegments returns the ready-made segments that `serve --demo` saves
// with the demo store: loyalty tiers, lifecycle stages, cart abandoners,
// accessory lovers, recent visitors who did not buy, high spenders.
func DemoSegments() []Definition {
	out := make([]Definition, len(demoSegments))
	for i, d := range demoSegments {
		r, err := ParseText(d.text)
		if err != nil {
			// The texts are constants, each parsed by TestDemoSegments.
			panic(fmt.Sprintf("demo segment %s: %v", d.id, err))
		}
		out[i] = Definition{ID: d.id, Name: d.name, Description: d.description, Rule: r}
	}
	return out
}
