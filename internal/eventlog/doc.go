// Package eventlog owns Tailor's durable, partitioned event log on Pebble.
//
// Keyspace (all big-endian, so range scans are ordered):
//
//	l/<partition:2><seq:8>          -> stored message (event.AppendStored form)
//	t/<identifier>\x00<ts:8><seq:8> -> <partition:2>   timeline index
//	d/<source>\x00<messageId>       -> <receivedAt day:uvarint>  de-duplication
//	k/<partition:2>                 -> <seq:8>  checkpoint: highest applied seq
//
// Invariants:
//   - One goroutine (the writer) assigns sequence numbers, so seq is a total
//     order over all partitions and increases within each partition.
//   - Append returns only after the batch holding the records is synced, and
//     records reach their partition's Sink in seq order, after the sync. A
//     crash between the sync and the Sink is repaired by Replay from the
//     checkpoint.
//   - A (source, messageId) pair is written at most once while its de-duplication
//     key lives (the window); duplicates are acknowledged but not written.
//
// The Log type is the embedded implementation; a JetStream stream with
// subject-mapped partitions can implement the same Append/ReplayAll contract.
package eventlog
