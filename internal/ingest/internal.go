package ingest

import (
	"context"
	"fmt"

	"tailor/internal/event"
)

// InternalSource is the source of the events Tailor records itself
// (segment_entered, later deliveries): trusted, never rate-limited, and
// de-duplicated by their message ids like any other source's.
const InternalSource = "tailor"

// AppendInternal decodes and appends messages Tailor itself produced (each
// a Segment-spec JSON message with a messageId) and waits until they are
// durable. A message that does not decode is a bug in its producer: the
// whole call fails and nothing is appended.
func (h *Handler) AppendInternal(ctx context.Context, msgs [][]byte) error {
	now := h.now()
	evs := make([]*event.Event, len(msgs))
	metas := make([]event.Meta, len(msgs))
	for i, m := range msgs {
		metas[i] = event.Meta{SourceID: InternalSource, ReceivedAt: now, Trust: event.TrustServer}
		e, err := event.Decode(m, metas[i])
		if err != nil {
			return fmt.Errorf("internal event %d: %w", i, err)
		}
		evs[i] = &e
	}
	sc := getScratch()
	defer sc.release()
	return h.append(ctx, evs, msgs, metas, sc)
}
