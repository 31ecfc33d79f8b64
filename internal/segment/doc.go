// Package segment owns segments: the rule language (a JSON rule tree and its
// text form), the in-memory columnar index of profiles and events that
// evaluates rules over every profile in milliseconds, and the live engine
// that keeps each saved segment's membership current as events arrive and
// as time windows expire.
package segment
