package outbox

import "time"

// Queue is what the delivery workers need of an outbox. The Pebble Store
// implements it on one node; a JetStream work-queue stream (claims as
// deliveries with an ack wait, reschedules as naks with a delay) can stand
// in when delivery workers run on several nodes.
type Queue interface {
	Enqueuer
	// Claim leases up to max messages due at now that no worker holds, in
	// due order. When none is due it returns the next due time (zero: the
	// queue is empty). A claimed message is held until the worker calls
	// one of MarkSending, Finish, Reschedule or Release for it.
	Claim(now time.Time, max int) ([]*Record, time.Time, error)
	// MarkSending durably records that the messages are about to be handed
	// to their adapter.
	MarkSending(recs []*Record) error
	// Finish moves a claimed message to a final state. With sync false the
	// change becomes durable with the next synced write (Sync or any
	// MarkSending): a crash before it means a resend, never a loss.
	Finish(rec *Record, state State, reason string, sync bool) error
	// Reschedule puts a claimed message back in the queue, due at due.
	Reschedule(rec *Record, due time.Time, reason string) error
	// Release gives a claim up without changing the message.
	Release(rec *Record)
	// Sync makes every earlier change durable.
	Sync() error
}
