// Package ingest owns the Segment-compatible HTTP Tracking API: write keys,
// body limits, gzip, batching, validation and the hand-off to the event log.
//
// A request is acknowledged (2xx) only after every message it carries is
// durable in the log (or known to be a duplicate of one that is). In a batch,
// invalid messages are rejected one by one and never cost the valid ones:
// SDKs drop or endlessly retry a whole batch answered with a 4xx. Every
// rejection is counted; the answer reports the first MaxReportedRejections
// by index and reason and the rejected-events view keeps the first
// MaxKeptRejections, so that the cost of a request follows its size on the
// wire, not the number of invalid messages packed into it.
//
// A write key in the Authorization header is checked before the body is
// read. A key in the body (analytics.js) is known only after the body is
// in, so those requests read their bodies within a budget of their own
// (Handler.BodyKeyedLimit): clients without a key cannot hold every
// connection with slow uploads.
package ingest
