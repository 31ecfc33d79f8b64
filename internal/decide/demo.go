package decide

import "encoding/json"

// DemoPlacements are the placements the demo store ships: the exit-intent
// offer (free shipping for a new visitor, 10 % for a returning customer,
// more by spend tier), a home page layout by experience, an account-page
// offer by the model's churn risk and predicted value, and a row of
// products priced in the visitor's currency. They refer to the demo's
// segments, so save them after those.
func DemoPlacements() []Placement {
	c := func(s string) json.RawMessage { return json.RawMessage(s) }
	return []Placement{
		{ID: "exit_offer", Name: "Exit-intent offer", Description: "Shown when the pointer leaves towards the tab bar.",
			Variants: []Variant{
				{ID: "free_shipping", Name: "New visitor: free shipping", Layout: "modal",
					Content: c(`{"headline":"Wait! Free shipping on your first order","text":"Use the code at checkout.","code":"FREESHIP","cta":"Keep shopping"}`)},
				{ID: "ten_off", Name: "Returning customer: 10 % off", Layout: "modal",
					Content: c(`{"headline":"Welcome back: 10% off today","text":"Your code works on everything in the shop.","code":"BACK10","cta":"Use my 10%"}`)},
				{ID: "fifteen_off", Name: "Spent over 300: 15 % off", Layout: "modal",
					Content: c(`{"headline":"Thank you: 15% off your next order","text":"Because you are one of our best customers.","code":"THANKS15","cta":"Use my 15%"}`)},
				{ID: "twenty_off", Name: "Top loyalty tier: 20 % off", Layout: "modal",
					Content: c(`{"headline":"VIP: 20% off, just for you","text":"Our top tier gets our best offer.","code":"VIP20","cta":"Use my 20%"}`)},
			},
			Rules: []Rule{
				{Segment: "tier-high", Variant: "twenty_off"},
				{Computed: "revenue", Op: "gte", Value: 300.0, Variant: "fifteen_off"},
				{Computed: "orders", Op: "gte", Value: 1.0, Variant: "ten_off"},
			},
			Default: "free_shipping"},
		{ID: "home_hero", Name: "Home page hero", Description: "Guided layout for newcomers, a dense one for regulars, a nudge for cart abandoners.",
			Variants: []Variant{
				{ID: "novice", Name: "Newcomer", Layout: "guided", Content: c(`{"headline":"New here? Start with our bestsellers","cta":"Shop bestsellers","url":"/bestsellers"}`)},
				{ID: "expert", Name: "Regular", Layout: "dense", Content: c(`{"headline":"New in since your last visit","cta":"See what's new","url":"/new"}`)},
				{ID: "cart_reminder", Name: "Cart abandoner", Layout: "banner", Content: c(`{"headline":"Your cart is waiting","cta":"Back to my cart","url":"/cart"}`)},
			},
			Rules: []Rule{
				{Segment: "cart-abandoners", Variant: "cart_reminder"},
				{Computed: "orders", Op: "gte", Value: 3.0, Variant: "expert"},
			},
			Default: "novice"},
		{ID: "account_offer", Name: "Offer by predicted value", Description: "On the account page: a win-back offer for customers the model says are slipping away, a gift for the top 10 % by predicted lifetime value.",
			Variants: []Variant{
				{ID: "standard", Name: "Everyone else: newsletter", Layout: "banner",
					Content: c(`{"headline":"New arrivals every Thursday","cta":"Get the newsletter","url":"/newsletter"}`)},
				{ID: "win_back", Name: "Churn risk over 70 %: 25 % off", Layout: "banner",
					Content: c(`{"headline":"We miss you: 25% off your next order","code":"COMEBACK25","cta":"Shop now"}`)},
				{ID: "top_value", Name: "Top 10 % predicted value: 20 % off and a gift", Layout: "banner",
					Content: c(`{"headline":"For our best customers: 20% off and a free gift","code":"TOP20GIFT","cta":"Choose my gift"}`)},
			},
			Rules: []Rule{
				{Computed: "churn_risk", Op: "gt", Value: 0.7, Variant: "win_back"},
				{Computed: "clv_percentile", Op: "gte", Value: 90.0, Variant: "top_value"},
			},
			Default: "standard"},
		{ID: "home_recs", Name: "Picked for you", Description: "A row of products in the visitor's currency, with the nearest store.",
			Variants:        []Variant{{ID: "row", Layout: "row", Content: c(`{"headline":"Picked for you"}`)}},
			Default:         "row",
			Geo:             true,
			Recommendations: &RecSlot{Strategy: "for_you", Limit: 4, Filter: RecFilter{ExcludePurchased: true, InStockOnly: true, MaxPerCategory: 2}}},
	}
}

// DemoGeo is the demo store's geo table: its catalog is in US dollars.
func DemoGeo() Geo {
	return Geo{BaseCurrency: "USD",
		Regions: []Region{
			{Name: "Euro area", Countries: []string{"DE", "FR", "ES", "IT", "NL", "IE"}, Currency: "EUR", Rate: 0.92},
			{Name: "United Kingdom", Countries: []string{"GB"}, Currency: "GBP", Rate: 0.79},
			{Name: "Canada", Countries: []string{"CA"}, Currency: "CAD", Rate: 1.36},
		},
		Stores: []Store{
			{ID: "nyc", Name: "New York, SoHo", Address: "120 Prince St", Country: "US", Lat: 40.7246, Lon: -73.9986},
			{ID: "sea", Name: "Seattle", Address: "1520 5th Ave", Country: "US", Lat: 47.6114, Lon: -122.3363},
			{ID: "lon", Name: "London, Covent Garden", Address: "12 Long Acre", Country: "GB", Lat: 51.5124, Lon: -0.1253},
			{ID: "ber", Name: "Berlin, Mitte", Address: "Rosenthaler Str. 40", Country: "DE", Lat: 52.5271, Lon: 13.4016},
			{ID: "par", Name: "Paris, Le Marais", Address: "24 Rue des Francs-Bourgeois", Country: "FR", Lat: 48.8577, Lon: 2.3622},
			{ID: "tor", Name: "Toronto, Queen West", Address: "512 Queen St W", Country: "CA", Lat: 43.6479, Lon: -79.4006},
		}}
}
