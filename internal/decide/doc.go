// Package decide owns the decision API: placements (spots on a page that
// show one of several variants, chosen per visitor by ordered rules over
// segments and traits, optionally by an experiment, with a slot of
// recommended products), the geo table (currency per country, the shop's
// stores), signed tracking tokens and the impressions, clicks and
// conversions that come back on them, and the web snippet that shows
// offers on a shop's pages.
//
// The read path (/v1/decide) never writes: it reads an immutable snapshot
// of the placements, the profile store under its read lock, the segment
// index and the recommender. Only the events sent back on tokens are
// appended to the log, through the caller's Record.
package decide
