package journey

import (
	"tailor/internal/segment"
)

// DemoJourneys returns the ready-made journeys `serve --demo` saves with
// the demo store. Their templates are referred to by id (cart-reminder,
// thank-you …): the message package's templates of those ids render them.
// Cart, post-purchase, welcome and win-back are live; browse abandonment
// and app-gone-quiet are drafts to publish from the dashboard.
func DemoJourneys() []Journey {
	send := func(id, channel, tpl, next string) *Step {
		return &Step{ID: id, Type: StepSend, Channel: channel, Template: tpl, Next: next}
	}
	wait := func(id, d, next string) *Step { return &Step{ID: id, Type: StepWait, Duration: d, Next: next} }
	ordered := &Goal{Event: "Order Completed", Within: "3d"}
	return []Journey{
		{ID: "abandoned-cart", Name: "Abandoned cart", Status: StatusLive,
			Description: "Product Added and no order within an hour: an email with the cart's products and a coupon; a second reminder 24 h later.",
			Trigger:     Trigger{Type: TriggerEvent, Event: "Product Added"},
			Entry:       Entry{Rule: EntryOncePer, Period: "1d"}, Goal: ordered, Holdout: 5, Start: "wait-1h",
			Steps: []*Step{wait("wait-1h", "1h", "cart-email"), send("cart-email", "email", "cart-reminder", "wait-24h"),
				wait("wait-24h", "24h", "cart-email-2"), send("cart-email-2", "email", "cart-reminder-coupon", "")}},
		{ID: "post-purchase", Name: "Post-purchase thank-you", Status: StatusLive,
			Description: "A thank-you an hour after an order, then products that go with it a week later.",
			Trigger:     Trigger{Type: TriggerEvent, Event: "Order Completed"},
			Entry:       Entry{Rule: EntryEveryTime}, Start: "wait-1h",
			Steps: []*Step{wait("wait-1h", "1h", "thank-you"), send("thank-you", "email", "thank-you", "wait-7d"),
				wait("wait-7d", "7d", "cross-sell"), send("cross-sell", "email", "cross-sell", "")}},
		{ID: "browse-abandonment", Name: "Browse abandonment", Status: StatusDraft,
			Description: "Viewed a product and did not add anything to the cart within 4 hours: a reminder of what they looked at.",
			Trigger:     Trigger{Type: TriggerEvent, Event: "Product Viewed"},
			Entry:       Entry{Rule: EntryOncePer, Period: "7d"}, Goal: ordered, Start: "wait-add",
			Steps: []*Step{{ID: "wait-add", Type: StepWaitEvent, Event: "Product Added", Timeout: "4h", Next: "added", Else: "browse-email"},
				{ID: "added", Type: StepExit}, send("browse-email", "email", "browse-reminder", "")}},
		{ID: "win-back", Name: "Win-back for lapsing customers", Status: StatusLive,
			Description: "Entering Lifecycle: at risk: a we-miss-you email, and a coupon a week later to half of those who still did not order.",
			Trigger:     Trigger{Type: TriggerSegmentEntered, Segment: "stage-at-risk"},
			Entry:       Entry{Rule: EntryOncePer, Period: "90d"}, Goal: &Goal{Event: "Order Completed", Within: "21d"}, Holdout: 10,
			Start: "miss-you",
			Steps: []*Step{send("miss-you", "email", "win-back", "wait-7d"), wait("wait-7d", "7d", "split"),
				{ID: "split", Type: StepSplit, Paths: []SplitPath{{50, "coupon"}, {50, "no-coupon"}}},
				send("coupon", "email", "win-back-coupon", ""), {ID: "no-coupon", Type: StepExit}}},
		{ID: "welcome", Name: "Welcome series", Status: StatusLive,
			Description: "Three emails over the first five days after signing up, at 10:00 in the customer's timezone.",
			Trigger:     Trigger{Type: TriggerEvent, Event: "Signed Up"},
			Entry:       Entry{Rule: EntryOnce}, Start: "mark",
			Steps: []*Step{{ID: "mark", Type: StepUpdateTrait, Traits: map[string]any{"welcome_series": true}, Next: "welcome-1"},
				send("welcome-1", "email", "welcome-1", "wait-2d"), wait("wait-2d", "2d", "at-10"),
				{ID: "at-10", Type: StepWaitUntil, Time: "10:00", Next: "welcome-2"},
				send("welcome-2", "email", "welcome-2", "wait-3d"), wait("wait-3d", "3d", "welcome-3"),
				send("welcome-3", "email", "welcome-3", "")}},
		{ID: "app-gone-quiet", Name: "App user gone quiet", Status: StatusDraft,
			Description: "Leaving Visited in the last 14 days, no order, without having ordered: a push to come back.",
			Trigger:     Trigger{Type: TriggerSegmentExited, Segment: "visited-14d-no-order"},
			Entry:       Entry{Rule: EntryOncePer, Period: "30d"}, Goal: &Goal{Event: "Order Completed", Within: "7d"}, Start: "quiet",
			Steps: []*Step{{ID: "quiet", Type: StepBranch, Rule: &segment.Rule{Computed: "days_since_last_seen", Op: segment.Gte, Value: 14.0},
				Next: "push", Else: "done"},
				send("push", "push", "come-back-push", ""), {ID: "done", Type: StepExit}}},
	}
}
