package segment

import (
	"cmp"
	"encoding/json"
	"testing"
	"time"

	"tailor/internal/event"
)

const (
	day = int64(24 * 60 * 60)
	// refNow is the instant the reference tests evaluate at unless a case
	// moves it: 2026-06-15T00:00:00Z, a midnight, so that the window edges
	// below can be written as dates.
	refNow = int64(1781481600)
)

// jsonMap decodes a JSON object the way events and traits arrive.
func jsonMap(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

// refProfiles are the profiles the Reference table evaluates, by name. The
// dates in the comments are what the table's cases are computed from.
func refProfiles(t testing.TB) map[string]*RefProfile {
	ev := func(key string, at int64, props string) RefEvent {
		return RefEvent{Key: key, Time: at, Properties: jsonMap(t, props)}
	}
	alice := &RefProfile{
		ID: "alice",
		Traits: jsonMap(t, `{
			"plan": "Pro", "age": 42, "age_str": "42", "vip": true,
			"tags": ["Cooking", "vegan"], "email": "Alice@Example.com",
			"birthday": "1990-06-20", "signup": "2026-05-16", "renewal": "2026-06-25",
			"bad_date": "not a date", "nothing": null, "address": {"city": "Paris"}}`),
		// Out of time order on purpose: the evaluator must not rely on it.
		Events: []RefEvent{
			// 2026-06-05, revenue 30.
			ev("Order Completed", refNow-10*day, `{"revenue": 30,
				"products": [{"category": "Books", "price": 10}, {"category": "Food", "price": 20}]}`),
			// 2026-06-16: in the future, invisible until then.
			ev("Order Completed", refNow+day, `{"revenue": 1000}`),
			// 2026-05-06, total 20.5 (no revenue).
			ev("Order Completed", refNow-40*day, `{"total": 20.5, "shipped": "2026-05-10",
				"products": [{"category": "books", "price": 20.5}]}`),
			// 2026-06-08, line items only: 5 × 2 = 10.
			ev("Order Completed", refNow-7*day, `{"products": [{"category": "Toys", "price": 5, "quantity": 2}]}`),
			// A null property is an absent one.
			ev("Product Added", refNow-day, `{"category": "Books", "price": 12.5, "quantity": 1, "coupon": null}`),
			// 2026-05-16, a price that is a string.
			ev("Product Added", refNow-30*day, `{"category": "Food", "price": "7"}`),
			ev("$page", refNow-2*day, `{"path": "/blog/recipes/pasta", "utm": {"source": "News"}}`),
			ev("Signed Up", refNow, `{}`),
		},
	}
	// cents has amounts whose float64 sum differs from their exact sum:
	// 0.1 + 0.2 != 0.3 in float64, but 100000 + 200000 micros is 0.3. Their
	// average over three orders tells the division orders apart:
	// 300000 / 3 / 1e6 is 0.1, 300000 / 1e6 / 3 is not.
	cents := &RefProfile{ID: "cents", Events: []RefEvent{
		ev("Order Completed", refNow-day, `{"revenue": 0.1}`),
		ev("Order Completed", refNow-2*day, `{"revenue": 0.2}`),
		ev("Order Completed", refNow-3*day, `{"revenue": 0}`),
		// 8.2 × 1e6 is 8199999.999999999 in float64: Micros rounds it.
		ev("Product Added", refNow-day, `{"price": 8.2}`),
	}}
	// whales spends more micro-units than an int64 holds: 100 × 1e17.
	whales := &RefProfile{ID: "whales"}
	for i := range int64(100) {
		whales.Events = append(whales.Events, ev("Order Completed", refNow-i*60, `{"revenue": 1e11}`))
	}
	return map[string]*RefProfile{
		"alice":  alice,
		"cents":  cents,
		"whales": whales,
		"empty":  {ID: "empty"},
		"nil":    nil,
	}
}

func TestReference(t *testing.T) {
	tests := []struct {
		name    string
		rule    string
		profile string // "" is alice
		at      int64  // seconds after refNow
		want    bool
	}{
		// Traits: every operator, case folding, missing and mistyped values.
		{"eq folds case", `{"trait":"plan","op":"eq","value":"pro"}`, "", 0, true},
		{"eq case sensitive differs", `{"trait":"plan","op":"eq","value":"pro","case_sensitive":true}`, "", 0, false},
		{"eq case sensitive same", `{"trait":"plan","op":"eq","value":"Pro","case_sensitive":true}`, "", 0, true},
		{"neq other", `{"trait":"plan","op":"neq","value":"free"}`, "", 0, true},
		{"neq folded equal", `{"trait":"plan","op":"neq","value":"PRO"}`, "", 0, false},
		{"neq on null is false", `{"trait":"nothing","op":"neq","value":"free"}`, "", 0, false},
		{"neq on absent is false", `{"trait":"absent","op":"neq","value":"free"}`, "", 0, false},
		{"gt below", `{"trait":"age","op":"gt","value":41}`, "", 0, true},
		{"gt equal", `{"trait":"age","op":"gt","value":42}`, "", 0, false},
		{"gte equal", `{"trait":"age","op":"gte","value":42}`, "", 0, true},
		{"lt above", `{"trait":"age","op":"lt","value":43}`, "", 0, true},
		{"lt equal", `{"trait":"age","op":"lt","value":42}`, "", 0, false},
		{"lte equal", `{"trait":"age","op":"lte","value":42}`, "", 0, true},
		{"lte below", `{"trait":"age","op":"lte","value":41}`, "", 0, false},
		{"between inclusive low", `{"trait":"age","op":"between","value":[42,50]}`, "", 0, true},
		{"between point", `{"trait":"age","op":"between","value":[42,42]}`, "", 0, true},
		{"between outside", `{"trait":"age","op":"between","value":[30,41.5]}`, "", 0, false},
		{"gt on numeric string is false", `{"trait":"age_str","op":"gt","value":41}`, "", 0, false},
		{"eq string to string", `{"trait":"age_str","op":"eq","value":"42"}`, "", 0, true},
		{"eq number to string operand", `{"trait":"age","op":"eq","value":"42"}`, "", 0, false},
		{"eq number", `{"trait":"age","op":"eq","value":42}`, "", 0, true},
		{"eq string to number operand", `{"trait":"age_str","op":"eq","value":42}`, "", 0, false},
		{"in folds case", `{"trait":"plan","op":"in","value":["free","PRO"]}`, "", 0, true},
		{"in case sensitive", `{"trait":"plan","op":"in","value":["free","PRO"],"case_sensitive":true}`, "", 0, false},
		{"not_in other", `{"trait":"plan","op":"not_in","value":["free","enterprise"]}`, "", 0, true},
		{"not_in member", `{"trait":"plan","op":"not_in","value":["pro"]}`, "", 0, false},
		{"not_in on null is false", `{"trait":"nothing","op":"not_in","value":["x"]}`, "", 0, false},
		{"in numbers", `{"trait":"age","op":"in","value":[40,42]}`, "", 0, true},
		{"in string of number", `{"trait":"age","op":"in","value":["42"]}`, "", 0, false},
		{"not_in numbers", `{"trait":"age","op":"not_in","value":[1,2]}`, "", 0, true},
		{"not_in strings on a number is false", `{"trait":"age","op":"not_in","value":["free"]}`, "", 0, false},
		{"not_in numbers on a string is false", `{"trait":"age_str","op":"not_in","value":[1,2]}`, "", 0, false},
		{"not_in mixed list on a string", `{"trait":"age_str","op":"not_in","value":[1,"x"]}`, "", 0, true},
		{"not_in mixed list on a number", `{"trait":"age","op":"not_in","value":[1,"x"]}`, "", 0, true},
		{"not_in on bool is false", `{"trait":"vip","op":"not_in","value":["x"]}`, "", 0, false},
		{"in on bool is false", `{"trait":"vip","op":"in","value":["true"]}`, "", 0, false},
		{"contains folds case", `{"trait":"email","op":"contains","value":"EXAMPLE"}`, "", 0, true},
		{"contains case sensitive", `{"trait":"email","op":"contains","value":"example","case_sensitive":true}`, "", 0, false},
		{"contains list element", `{"trait":"tags","op":"contains","value":"cooking"}`, "", 0, true},
		{"contains list needs whole element", `{"trait":"tags","op":"contains","value":"cook"}`, "", 0, false},
		{"contains on number is false", `{"trait":"age","op":"contains","value":"4"}`, "", 0, false},
		{"starts_with", `{"trait":"email","op":"starts_with","value":"alice@"}`, "", 0, true},
		{"starts_with elsewhere", `{"trait":"email","op":"starts_with","value":"example"}`, "", 0, false},
		{"exists", `{"trait":"plan","op":"exists"}`, "", 0, true},
		{"exists list", `{"trait":"tags","op":"exists"}`, "", 0, true},
		{"exists object", `{"trait":"address","op":"exists"}`, "", 0, true},
		{"exists null", `{"trait":"nothing","op":"exists"}`, "", 0, false},
		{"exists absent", `{"trait":"absent","op":"exists"}`, "", 0, false},
		{"not_exists null", `{"trait":"nothing","op":"not_exists"}`, "", 0, true},
		{"not_exists absent", `{"trait":"absent","op":"not_exists"}`, "", 0, true},
		{"not_exists present", `{"trait":"plan","op":"not_exists"}`, "", 0, false},
		{"eq bool", `{"trait":"vip","op":"eq","value":true}`, "", 0, true},
		{"neq bool", `{"trait":"vip","op":"neq","value":false}`, "", 0, true},
		{"eq bool other", `{"trait":"vip","op":"eq","value":false}`, "", 0, false},
		{"eq bool to string", `{"trait":"vip","op":"eq","value":"true"}`, "", 0, false},
		{"eq string to bool", `{"trait":"plan","op":"eq","value":true}`, "", 0, false},
		{"before", `{"trait":"signup","op":"before","value":"2026-05-17"}`, "", 0, true},
		{"before is strict", `{"trait":"signup","op":"before","value":"2026-05-16"}`, "", 0, false},
		{"after", `{"trait":"signup","op":"after","value":"2026-05-15"}`, "", 0, true},
		{"after is strict", `{"trait":"signup","op":"after","value":"2026-05-16T00:00:00Z"}`, "", 0, false},
		{"more_than_ago edge", `{"trait":"signup","op":"more_than_ago","value":"30d"}`, "", 0, false},
		{"more_than_ago", `{"trait":"signup","op":"more_than_ago","value":"29d"}`, "", 0, true},
		{"less_than_ago edge", `{"trait":"signup","op":"less_than_ago","value":"30d"}`, "", 0, false},
		{"less_than_ago", `{"trait":"signup","op":"less_than_ago","value":"31d"}`, "", 0, true},
		{"less_than_ago a second later", `{"trait":"signup","op":"less_than_ago","value":"30d"}`, "", -1, true},
		{"less_than_ago not future", `{"trait":"renewal","op":"less_than_ago","value":"30d"}`, "", 0, false},
		{"within_next edge", `{"trait":"renewal","op":"within_next","value":"10d"}`, "", 0, false},
		{"within_next", `{"trait":"renewal","op":"within_next","value":"11d"}`, "", 0, true},
		{"within_next not past", `{"trait":"signup","op":"within_next","value":"52w"}`, "", 0, false},
		{"anniversary edge", `{"trait":"birthday","op":"anniversary_within_next","value":"5d"}`, "", 0, false},
		{"anniversary", `{"trait":"birthday","op":"anniversary_within_next","value":"6d"}`, "", 0, true},
		{"malformed date", `{"trait":"bad_date","op":"before","value":"2100-01-01"}`, "", 0, false},
		{"malformed date exists", `{"trait":"bad_date","op":"not_exists"}`, "", 0, false},
		{"date op on number", `{"trait":"age","op":"before","value":"2100-01-01"}`, "", 0, false},
		{"eq on object", `{"trait":"address","op":"eq","value":"Paris"}`, "", 0, false},
		{"trait of nil profile", `{"trait":"plan","op":"not_exists"}`, "nil", 0, true},

		// Computed fields; the future order counts only from 2026-06-16.
		{"event_count", `{"computed":"event_count","op":"eq","value":7}`, "", 0, true},
		{"event_count before the now event", `{"computed":"event_count","op":"eq","value":6}`, "", -1, true},
		{"event_count with the future event", `{"computed":"event_count","op":"eq","value":8}`, "", day, true},
		{"orders", `{"computed":"orders","op":"eq","value":3}`, "", 0, true},
		{"orders with the future order", `{"computed":"orders","op":"eq","value":4}`, "", day, true},
		{"total_spend revenue total and items", `{"computed":"total_spend","op":"eq","value":60.5}`, "", 0, true},
		{"total_spend with the future order", `{"computed":"total_spend","op":"eq","value":1060.5}`, "", day, true},
		{"average_order_value", `{"computed":"average_order_value","op":"between","value":[20.166,20.167]}`, "", 0, true},
		{"average_order_value not above", `{"computed":"average_order_value","op":"gt","value":20.17}`, "", 0, false},
		{"average_order_value exists", `{"computed":"average_order_value","op":"exists"}`, "", 0, true},
		{"first_seen", `{"computed":"first_seen","op":"before","value":"2026-05-07"}`, "", 0, true},
		{"first_seen edge", `{"computed":"first_seen","op":"before","value":"2026-05-06"}`, "", 0, false},
		{"last_seen is now", `{"computed":"last_seen","op":"less_than_ago","value":"1s"}`, "", 0, true},
		{"last_seen now is within_next", `{"computed":"last_seen","op":"within_next","value":"1s"}`, "", 0, true},
		{"first_order", `{"computed":"first_order","op":"after","value":"2026-05-05"}`, "", 0, true},
		{"last_order edge", `{"computed":"last_order","op":"more_than_ago","value":"7d"}`, "", 0, false},
		{"last_order", `{"computed":"last_order","op":"more_than_ago","value":"6d"}`, "", 0, true},
		{"last_order after is strict", `{"computed":"last_order","op":"after","value":"2026-06-08"}`, "", 0, false},
		{"last_order moves with the future order", `{"computed":"last_order","op":"after","value":"2026-06-15"}`, "", day, true},
		{"days_since_last_order", `{"computed":"days_since_last_order","op":"eq","value":7}`, "", 0, true},
		{"days_since_last_order floors", `{"computed":"days_since_last_order","op":"eq","value":7}`, "", day / 2, true},
		{"days_since_last_order after the future order", `{"computed":"days_since_last_order","op":"eq","value":0}`, "", day, true},
		{"days_since_last_seen", `{"computed":"days_since_last_seen","op":"eq","value":0}`, "", 0, true},
		{"days_since_last_seen a second short of a day", `{"computed":"days_since_last_seen","op":"eq","value":0}`, "", day - 1, true},
		{"days_since_last_seen after the future event", `{"computed":"days_since_last_seen","op":"eq","value":1}`, "", 2 * day, true},
		{"empty event_count", `{"computed":"event_count","op":"eq","value":0}`, "empty", 0, true},
		{"empty orders", `{"computed":"orders","op":"eq","value":0}`, "empty", 0, true},
		{"empty total_spend", `{"computed":"total_spend","op":"eq","value":0}`, "empty", 0, true},
		{"empty total_spend exists", `{"computed":"total_spend","op":"not_exists"}`, "empty", 0, false},
		{"empty average_order_value absent", `{"computed":"average_order_value","op":"not_exists"}`, "empty", 0, true},
		{"empty average_order_value exists", `{"computed":"average_order_value","op":"exists"}`, "empty", 0, false},
		{"empty average_order_value compares false", `{"computed":"average_order_value","op":"lt","value":1}`, "empty", 0, false},
		{"empty first_seen absent", `{"computed":"first_seen","op":"not_exists"}`, "empty", 0, true},
		{"empty first_seen exists", `{"computed":"first_seen","op":"exists"}`, "empty", 0, false},
		{"empty last_order compares false", `{"computed":"last_order","op":"before","value":"2100-01-01"}`, "empty", 0, false},
		{"empty days_since_last_order absent", `{"computed":"days_since_last_order","op":"not_exists"}`, "empty", 0, true},
		{"empty days_since_last_seen compares false", `{"computed":"days_since_last_seen","op":"gte","value":0}`, "empty", 0, false},
		{"nil profile event_count", `{"computed":"event_count","op":"eq","value":0}`, "nil", 0, true},
		{"total_spend sums exactly", `{"computed":"total_spend","op":"eq","value":0.3}`, "cents", 0, true},
		{"average_order_value divides the exact sum", `{"computed":"average_order_value","op":"eq","value":0.1}`, "cents", 0, true},
		{"total_spend beyond int64 micros", `{"computed":"total_spend","op":"eq","value":1e13}`, "whales", 0, true},

		// Event conditions: count and the default "did it".
		{"did it now", `{"event":"Signed Up"}`, "", 0, true},
		{"did it in the future", `{"event":"Signed Up"}`, "", -1, false},
		{"never did it", `{"event":"Never"}`, "", 0, false},
		{"count eq", `{"event":"Order Completed","op":"eq","value":3}`, "", 0, true},
		{"count gt", `{"event":"Order Completed","op":"gt","value":3}`, "", 0, false},
		{"count lt", `{"event":"Order Completed","measure":"count","op":"lt","value":4}`, "", 0, true},
		{"count neq", `{"event":"Order Completed","op":"neq","value":3}`, "", 0, false},
		{"count between", `{"event":"Order Completed","op":"between","value":[2,3]}`, "", 0, true},
		{"count in", `{"event":"Order Completed","op":"in","value":[3,5]}`, "", 0, true},
		{"count with the future event", `{"event":"Order Completed","op":"eq","value":4}`, "", day, true},
		{"count zero", `{"event":"Never","op":"eq","value":0}`, "", 0, true},
		{"page key", `{"event":"$page","op":"eq","value":1}`, "", 0, true},

		// Windows and their edges.
		{"last excludes its start", `{"event":"Order Completed","within":{"last":"7d"}}`, "", 0, false},
		{"last a second later", `{"event":"Order Completed","within":{"last":"7d"}}`, "", -1, true},
		{"last 10d", `{"event":"Order Completed","within":{"last":"10d"},"op":"eq","value":1}`, "", 0, true},
		{"last 11d", `{"event":"Order Completed","within":{"last":"11d"},"op":"eq","value":2}`, "", 0, true},
		{"last in hours", `{"event":"Order Completed","within":{"last":"240h"},"op":"eq","value":1}`, "", 0, true},
		{"last in weeks", `{"event":"Order Completed","within":{"last":"1w"},"op":"eq","value":0}`, "", 0, true},
		{"last includes now", `{"event":"Signed Up","within":{"last":"1s"}}`, "", 0, true},
		{"last drops past events", `{"event":"Signed Up","within":{"last":"1s"}}`, "", 1, false},
		{"since includes its start", `{"event":"Order Completed","within":{"since":"2026-06-08"},"op":"eq","value":1}`, "", 0, true},
		{"since a second later", `{"event":"Order Completed","within":{"since":"2026-06-08T00:00:01Z"},"op":"eq","value":0}`, "", 0, true},
		{"since truncates to the second", `{"event":"Order Completed","within":{"since":"2026-06-08T00:00:00.5Z"},"op":"eq","value":1}`, "", 0, true},
		{"since two", `{"event":"Order Completed","within":{"since":"2026-06-05"},"op":"eq","value":2}`, "", 0, true},
		{"since with the future event", `{"event":"Order Completed","within":{"since":"2026-06-05"},"op":"eq","value":3}`, "", day, true},
		{"from included to excluded", `{"event":"Order Completed","within":{"from":"2026-06-05","to":"2026-06-08"},"op":"eq","value":1}`, "", 0, true},
		{"to a second later", `{"event":"Order Completed","within":{"from":"2026-06-05","to":"2026-06-08T00:00:01Z"},"op":"eq","value":2}`, "", 0, true},
		{"from a second later", `{"event":"Order Completed","within":{"from":"2026-06-05T00:00:01Z","to":"2026-06-09"},"op":"eq","value":1}`, "", 0, true},
		{"from to stops at now", `{"event":"Order Completed","within":{"from":"2026-06-01","to":"2026-07-01"},"op":"eq","value":2}`, "", 0, true},
		{"from to later", `{"event":"Order Completed","within":{"from":"2026-06-01","to":"2026-07-01"},"op":"eq","value":3}`, "", day, true},

		// Filters: products[] paths, nested paths, folding, missing and mistyped values.
		{"products[] folds case", `{"event":"Order Completed","where":[{"property":"products[].category","op":"eq","value":"books"}],"op":"eq","value":2}`, "", 0, true},
		{"products[] case sensitive", `{"event":"Order Completed","where":[{"property":"products[].category","op":"eq","value":"books","case_sensitive":true}],"op":"eq","value":1}`, "", 0, true},
		{"each filter picks its own element", `{"event":"Order Completed","where":[{"property":"products[].category","op":"eq","value":"Food"},{"property":"products[].price","op":"eq","value":10}],"op":"eq","value":1}`, "", 0, true},
		{"filters all hold", `{"event":"Order Completed","where":[{"property":"products[].category","op":"eq","value":"Toys"},{"property":"products[].quantity","op":"eq","value":3}]}`, "", 0, false},
		{"products[] in", `{"event":"Order Completed","where":[{"property":"products[].category","op":"in","value":["toys","food"]}],"op":"eq","value":2}`, "", 0, true},
		{"products[] not_in needs one other element", `{"event":"Order Completed","where":[{"property":"products[].category","op":"not_in","value":["books"]}],"op":"eq","value":2}`, "", 0, true},
		{"products[] gt", `{"event":"Order Completed","where":[{"property":"products[].price","op":"gt","value":20}],"op":"eq","value":1}`, "", 0, true},
		{"products[] not_exists", `{"event":"Product Added","where":[{"property":"products[].category","op":"not_exists"}],"op":"eq","value":2}`, "", 0, true},
		{"property not_exists", `{"event":"Order Completed","where":[{"property":"revenue","op":"not_exists"}],"op":"eq","value":2}`, "", 0, true},
		{"property exists", `{"event":"Order Completed","where":[{"property":"revenue","op":"exists"}],"op":"eq","value":1}`, "", 0, true},
		{"property after", `{"event":"Order Completed","where":[{"property":"shipped","op":"after","value":"2026-05-09"}],"op":"eq","value":1}`, "", 0, true},
		{"property before", `{"event":"Order Completed","where":[{"property":"shipped","op":"before","value":"2026-05-09"}]}`, "", 0, false},
		{"starts_with", `{"event":"$page","where":[{"property":"path","op":"starts_with","value":"/blog/"}]}`, "", 0, true},
		{"contains folds case", `{"event":"$page","where":[{"property":"path","op":"contains","value":"RECIPES"}]}`, "", 0, true},
		{"contains case sensitive", `{"event":"$page","where":[{"property":"path","op":"contains","value":"RECIPES","case_sensitive":true}]}`, "", 0, false},
		{"nested path", `{"event":"$page","where":[{"property":"utm.source","op":"eq","value":"news"}]}`, "", 0, true},
		{"nested path exists", `{"event":"$page","where":[{"property":"utm.source","op":"exists"}]}`, "", 0, true},
		{"nested path not_exists", `{"event":"$page","where":[{"property":"utm.medium","op":"not_exists"}]}`, "", 0, true},
		{"path through a string", `{"event":"$page","where":[{"property":"path.x","op":"exists"}]}`, "", 0, false},
		{"string price is not a number", `{"event":"Product Added","where":[{"property":"price","op":"gt","value":5}],"op":"eq","value":1}`, "", 0, true},
		{"string price as string", `{"event":"Product Added","where":[{"property":"price","op":"eq","value":"7"}],"op":"eq","value":1}`, "", 0, true},
		{"null property does not exist", `{"event":"Product Added","where":[{"property":"coupon","op":"exists"}]}`, "", 0, false},
		{"null property is absent", `{"event":"Product Added","where":[{"property":"coupon","op":"not_exists"}],"op":"eq","value":2}`, "", 0, true},
		{"neq on null property", `{"event":"Product Added","where":[{"property":"coupon","op":"neq","value":"x"}]}`, "", 0, false},
		{"neq on missing property", `{"event":"Product Added","where":[{"property":"color","op":"neq","value":"red"}]}`, "", 0, false},
		{"not_in strings skips numbers", `{"event":"Product Added","where":[{"property":"price","op":"not_in","value":["x"]}],"op":"eq","value":1}`, "", 0, true},
		{"in", `{"event":"Product Added","where":[{"property":"category","op":"in","value":["books","food"]}],"op":"eq","value":2}`, "", 0, true},
		{"between", `{"event":"Product Added","where":[{"property":"price","op":"between","value":[10,13]}]}`, "", 0, true},
		{"filter and window", `{"event":"Order Completed","where":[{"property":"products[].category","op":"eq","value":"books"}],"within":{"last":"30d"}}`, "", 0, true},
		{"filter and narrower window", `{"event":"Order Completed","where":[{"property":"products[].category","op":"eq","value":"books"}],"within":{"last":"10d"}}`, "", 0, false},

		// Measures.
		{"sum of products[]", `{"event":"Order Completed","measure":"sum","of":"products[].price","op":"eq","value":55.5}`, "", 0, true},
		{"avg of products[]", `{"event":"Order Completed","measure":"avg","of":"products[].price","op":"eq","value":13.875}`, "", 0, true},
		{"min of products[]", `{"event":"Order Completed","measure":"min","of":"products[].price","op":"eq","value":5}`, "", 0, true},
		{"max of products[]", `{"event":"Order Completed","measure":"max","of":"products[].price","op":"eq","value":20.5}`, "", 0, true},
		{"sum skips events without the property", `{"event":"Order Completed","measure":"sum","of":"revenue","op":"eq","value":30}`, "", 0, true},
		{"sum with the future event", `{"event":"Order Completed","measure":"sum","of":"revenue","op":"eq","value":1030}`, "", day, true},
		{"sum of another property", `{"event":"Order Completed","measure":"sum","of":"total","op":"eq","value":20.5}`, "", 0, true},
		{"sum in a window", `{"event":"Order Completed","within":{"last":"10d"},"measure":"sum","of":"products[].price","op":"eq","value":5}`, "", 0, true},
		{"sum of every element of a filtered event", `{"event":"Order Completed","where":[{"property":"products[].category","op":"eq","value":"food"}],"measure":"sum","of":"products[].price","op":"eq","value":30}`, "", 0, true},
		{"min ignores strings", `{"event":"Product Added","measure":"min","of":"price","op":"eq","value":12.5}`, "", 0, true},
		{"max ignores strings", `{"event":"Product Added","measure":"max","of":"price","op":"eq","value":12.5}`, "", 0, true},
		{"avg ignores strings", `{"event":"Product Added","measure":"avg","of":"price","op":"eq","value":12.5}`, "", 0, true},
		{"sum without values is 0", `{"event":"Product Added","measure":"sum","of":"missing","op":"eq","value":0}`, "", 0, true},
		{"sum without values exists", `{"event":"Product Added","measure":"sum","of":"missing","op":"not_exists"}`, "", 0, false},
		{"avg without values absent", `{"event":"Product Added","measure":"avg","of":"missing","op":"not_exists"}`, "", 0, true},
		{"avg without values compares false", `{"event":"Product Added","measure":"avg","of":"missing","op":"gte","value":0}`, "", 0, false},
		{"min without values compares false", `{"event":"Never","measure":"min","of":"price","op":"lt","value":1e9}`, "", 0, false},
		{"max without values exists", `{"event":"Never","measure":"max","of":"price","op":"exists"}`, "", 0, false},
		{"sum exactly", `{"event":"Order Completed","measure":"sum","of":"revenue","op":"eq","value":0.3}`, "cents", 0, true},
		{"avg of the exact sum", `{"event":"Order Completed","measure":"avg","of":"revenue","op":"eq","value":0.1}`, "cents", 0, true},
		{"sum rounds each value to micros", `{"event":"Product Added","measure":"sum","of":"price","op":"eq","value":8.2}`, "cents", 0, true},
		{"sum beyond int64 micros", `{"event":"Order Completed","measure":"sum","of":"revenue","op":"eq","value":1e13}`, "whales", 0, true},
		{"first before", `{"event":"Order Completed","measure":"first","op":"before","value":"2026-05-07"}`, "", 0, true},
		{"first before edge", `{"event":"Order Completed","measure":"first","op":"before","value":"2026-05-06"}`, "", 0, false},
		{"last after", `{"event":"Order Completed","measure":"last","op":"after","value":"2026-06-07"}`, "", 0, true},
		{"last less_than_ago", `{"event":"Order Completed","measure":"last","op":"less_than_ago","value":"8d"}`, "", 0, true},
		{"last less_than_ago edge", `{"event":"Order Completed","measure":"last","op":"less_than_ago","value":"7d"}`, "", 0, false},
		{"last exists", `{"event":"Order Completed","measure":"last","op":"exists"}`, "", 0, true},
		{"first of a window", `{"event":"Order Completed","within":{"last":"30d"},"measure":"first","op":"after","value":"2026-06-04"}`, "", 0, true},
		{"first without events absent", `{"event":"Never","measure":"first","op":"not_exists"}`, "", 0, true},
		{"first without events exists", `{"event":"Never","measure":"first","op":"exists"}`, "", 0, false},
		{"last without events compares false", `{"event":"Never","measure":"last","op":"before","value":"2100-01-01"}`, "", 0, false},

		// Segments and groups.
		{"segment member", `{"segment":"vips"}`, "", 0, true},
		{"segment not member", `{"segment":"others"}`, "", 0, false},
		{"and all", `{"and":[{"trait":"plan","op":"eq","value":"pro"},{"trait":"vip","op":"eq","value":true}]}`, "", 0, true},
		{"and one false", `{"and":[{"trait":"plan","op":"eq","value":"pro"},{"trait":"vip","op":"eq","value":false}]}`, "", 0, false},
		{"or one true", `{"or":[{"trait":"plan","op":"eq","value":"free"},{"event":"Signed Up"}]}`, "", 0, true},
		{"or none", `{"or":[{"trait":"plan","op":"eq","value":"free"},{"segment":"others"}]}`, "", 0, false},
		{"not", `{"not":{"trait":"plan","op":"eq","value":"free"}}`, "", 0, true},
		{"not includes missing values", `{"not":{"trait":"nothing","op":"eq","value":"x"}}`, "", 0, true},
		{"not a member", `{"not":{"segment":"vips"}}`, "", 0, false},
		{"nested", `{"and":[{"or":[{"segment":"others"},{"not":{"event":"Never"}}]},{"computed":"orders","op":"gte","value":3}]}`, "", 0, true},
	}
	profiles := refProfiles(t)
	member := func(id string) bool { return id == "vips" }
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseJSON([]byte(tc.rule))
			if err != nil {
				t.Fatalf("rule does not parse: %v", err)
			}
			name := cmp.Or(tc.profile, "alice")
			p, ok := profiles[name]
			if !ok {
				t.Fatalf("no profile %q", name)
			}
			if got := Reference(r, p, refNow+tc.at, member); got != tc.want {
				t.Errorf("Reference(%s, %s, now%+ds) = %v, want %v", tc.rule, name, tc.at, got, tc.want)
			}
		})
	}
}

// TestReferenceTreatsNilMemberAsNoSegment checks that segment conditions
// need no member function: without one, the profile is in no segment.
func TestReferenceTreatsNilMemberAsNoSegment(t *testing.T) {
	p := refProfiles(t)["alice"]
	if Reference(&Rule{Segment: "vips"}, p, refNow, nil) {
		t.Error("segment condition holds without a member function")
	}
	if !Reference(&Rule{Not: &Rule{Segment: "vips"}}, p, refNow, nil) {
		t.Error("not(segment) fails without a member function")
	}
}

// TestReferenceRefusesInvalidRulesQuietly checks that rules that skipped
// Validate get an answer, not a panic: the reference runs inside property
// tests fed by generators, where a panic would hide the failing case.
func TestReferenceRefusesInvalidRulesQuietly(t *testing.T) {
	p := refProfiles(t)["alice"]
	tests := []struct {
		name string
		rule *Rule
	}{
		{"nil rule", nil},
		{"empty node", &Rule{}},
		{"two kinds", &Rule{Trait: "plan", Event: "Signed Up"}},
		{"trait without op", &Rule{Trait: "plan"}},
		{"unknown computed", &Rule{Computed: "karma", Op: Exists}},
		{"computed with a wrong operand", &Rule{Computed: "orders", Op: Eq, Value: "three"}},
		{"bad window", &Rule{Event: "Signed Up", Within: &Window{Last: "forever"}}},
		{"bad since", &Rule{Event: "Signed Up", Within: &Window{Since: "yesterday"}}},
		{"bad from", &Rule{Event: "Signed Up", Within: &Window{From: "x", To: "2026-01-01"}}},
		{"bad to", &Rule{Event: "Signed Up", Within: &Window{From: "2026-01-01", To: "x"}}},
		{"nil filter", &Rule{Event: "Signed Up", Where: []*Filter{nil}}},
		{"bad filter path", &Rule{Event: "Signed Up", Where: []*Filter{{Property: "a..b", Op: Exists}}}},
		{"bad filter op", &Rule{Event: "Signed Up", Where: []*Filter{{Property: "a", Op: "like"}}}},
		{"bad measure", &Rule{Event: "Signed Up", Measure: "median", Op: Gt, Value: 1.0}},
		{"bad of", &Rule{Event: "Order Completed", Measure: MeasureSum, Of: "products[]", Op: Gt, Value: 1.0}},
		{"bad measure operand", &Rule{Event: "Signed Up", Measure: MeasureFirst, Op: Gt, Value: 1.0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rule != nil && tc.rule.Validate() == nil {
				t.Fatal("the case is meant to be an invalid rule")
			}
			if Reference(tc.rule, p, refNow, nil) {
				t.Errorf("invalid rule %+v matches", tc.rule)
			}
		})
	}
}

func TestReferenceEventKey(t *testing.T) {
	tests := []struct {
		e    event.Event
		want string
	}{
		{event.Event{Type: event.Track, Event: "Order Completed"}, "Order Completed"},
		{event.Event{Type: event.Page, Name: "Home"}, "$page"},
		{event.Event{Type: event.Screen, Name: "Home"}, "$screen"},
		{event.Event{Type: event.Identify}, "$identify"},
		{event.Event{Type: event.Group, GroupID: "g"}, "$group"},
		{event.Event{Type: event.Alias, PreviousID: "p"}, "$alias"},
	}
	for _, tc := range tests {
		if got := EventKey(&tc.e); got != tc.want {
			t.Errorf("EventKey(%s event) = %q, want %q", tc.e.Type, got, tc.want)
		}
	}
}

// TestReferenceNowIsAMidnight pins the fixture instant the table's dates are
// computed from.
func TestReferenceNowIsAMidnight(t *testing.T) {
	want := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC).Unix()
	if refNow != want {
		t.Fatalf("refNow = %d, want %d (2026-06-15T00:00:00Z)", refNow, want)
	}
}
