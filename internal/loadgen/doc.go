// Package loadgen drives load for `tailor bench`: it pre-renders demo-shaped
// Segment messages into request bodies, sends them to a Tailor server (or
// commits them as raw synced Pebble batches, the storage baseline), and
// measures acknowledged throughput, ack latency, errors and processor lag.
//
// Everything a worker touches per request is prepared before the clock starts:
// URLs, headers and two copies of every body. Later passes over the corpus
// reuse those copies: a background renderer rewrites the pass digits of their
// messageIds in place (see cursor), so no body is built on the clock. Per-request measurements go into per-worker
// counters and histograms that only their worker writes (atomically, so the
// once-a-second progress reporter can read them without locks); they are
// merged when read.
//
// By default a run is closed-loop: each worker sends its next request as soon
// as the previous one is acknowledged, which measures a saturated server. A
// paced run (IngestConfig.Rate) starts requests on a fixed schedule instead
// and measures each request's latency from its scheduled start, so that ack
// latency is known at a given offered load; see pacer.
package loadgen
