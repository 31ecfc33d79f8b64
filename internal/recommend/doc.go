// Package recommend owns the recommendation models and strategies: item-to-item
// co-occurrence (purchases, carts, views), category complements, bundles,
// upsell, buy again, recently viewed, trending and bestsellers (global, per
// segment, per trait value) and the personalised "for you" blend, with the
// business filters every strategy goes through.
//
// The Engine is a processor.Applier: the processor goroutine is the only
// writer of its models and updates them with every event, so a purchase
// changes the next answer at once; readers (the admin API, templates, the
// decision API) take the engine's read lock. Every decayed figure is kept as
// a value at an event time and decayed lazily, so the models depend only on
// the events and their order, never on the wall clock: a restart (checkpoint
// plus replay of the log after it) gives the same answers.
//
// Memory is bounded per profile (Options.History items of each kind, and
// Options.Distinct distinct purchased items) and per item (Options.Neighbours
// co-occurring items of each kind, pruned incrementally).
package recommend
