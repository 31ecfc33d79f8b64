// Package ingest owns the Segment-compatible HTTP Tracking API: write keys,
// body limits, gzip, batching, validation and the hand-off to the event log.
//
// A request is acknowledged (2xx) only after every message it carries is
// durable in the log (or known to be a duplicate of one that is). In a batch,
// invalid messages are rejected one by one, reported by index and reason,
// counted and kept in the rejected-events view, and never cost the valid
// ones: SDKs drop or endlessly retry a whole batch answered with a 4xx.
package ingest
