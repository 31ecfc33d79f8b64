// Package deliver owns sending: the workers that claim due messages from the
// outbox, the send-policy engine every send passes through (consent, global
// holdout, frequency caps, quiet hours), rendering, per-adapter pacing and
// warm-up, retries with backoff, the channel adapters (one file each), the
// in-app inbox, and the transactional send API.
//
// What must stay true:
//   - Every decision about a message (sent, deferred, suppressed, dropped,
//     failed) is recorded as a profile event whose message id derives from
//     the message key, so recording it again after a crash is a no-op.
//   - The outbox says sending, durably, before an adapter is called, and
//     every adapter sends the message's idempotency key to its provider
//     (SMTP: a Message-ID derived from it; HTTP providers: an
//     Idempotency-Key header), so a resend after a crash can be
//     deduplicated by the provider.
//   - A paced or capped send stays in the outbox, rescheduled: nothing is
//     lost for being early.
package deliver
