// Package eventlog owns Tailor's durable, partitioned event log on Pebble.
//
// Keyspace (all big-endian, so range scans are ordered):
//
//	l/<partition:2><seq:8>                -> stored message (event.AppendStored form),
//	                                         framed and compressed once the log has a dictionary
//	ld/<id:8>                             -> S2 dictionary (compress.go), written before any value uses it
//	t/<identifier>\x00<ts:8><seq:8>       -> <partition:2>   timeline index
//	d/<source>\x00<messageId>             -> <day:uvarint>   de-duplication
//
// ts is the event's timestamp in Unix nanoseconds; the timeline index is
// written in the same batch as the record, under the keys the caller passes
// in Record.Index. day is the UTC day (days since the Unix epoch) the record
// was committed; ExpireDedupe deletes keys older than the window.
//
// The log keeps no checkpoint of its own: how far the log has been applied is
// the reader's state, kept with what it derived (the processor writes
// k/applied in the same batch as every applier's state) and passed to ReplayAll.
//
// Invariants:
//   - One goroutine (the writer) assigns sequence numbers, so seq is a total
//     order over all partitions and increases within each partition.
//   - Append returns only after the batch holding the records is synced, and
//     the entries of each group commit reach the Sink (one for all
//     partitions) in seq order, after the sync and before any of its appends
//     return. A crash between the sync and the Sink is repaired by the
//     reader's ReplayAll from its checkpoint.
//   - A (source, messageId) pair is written at most once while its de-duplication
//     key lives (the window); duplicates are acknowledged but not written.
//
// The Log type is the embedded implementation; a JetStream stream with
// subject-mapped partitions can implement the same Append/ReplayAll contract.
package eventlog
