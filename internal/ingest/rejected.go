package ingest

import (
	"encoding/binary"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// Rejected is the rejected-events view: messages refused by validation, kept
// so an operator can see what a source sends wrong. Keys are
// r/<unix nanos:8><counter:4>, newest last. Only the newest MaxRejected are
// kept: a misbehaving source must not fill the disk.
type Rejected struct {
	db  *pebble.DB
	ctr atomic.Uint32
}

// MaxRejected is how many rejected events the view keeps.
const MaxRejected = 10000

// NewRejected returns the view over db.
func NewRejected(db *pebble.DB) *Rejected { return &Rejected{db: db} }

// RejectedEvent is one refused message.
type RejectedEvent struct {
	At       time.Time `json:"at"`
	SourceID string    `json:"source_id,omitempty"`
	Endpoint string    `json:"endpoint"`
	Index    int       `json:"index"`
	Reason   string    `json:"reason"`
	Body     string    `json:"body"` // the message, truncated to maxRejectedBody
	// More counts the messages of the same request rejected after this one
	// and not kept (see MaxKeptRejections).
	More int `json:"more,omitempty"`
}

const maxRejectedBody = 2048

// truncateBody copies at most maxRejectedBody bytes of a rejected message:
// the view shows what was wrong, it does not archive the message.
func truncateBody(b []byte) string {
	if len(b) > maxRejectedBody {
		return string(b[:maxRejectedBody]) + "…"
	}
	return string(b)
}

func (r *Rejected) add(evs []RejectedEvent) {
	if r == nil || len(evs) == 0 {
		return
	}
	b := r.db.NewBatch()
	defer b.Close()
	for _, e := range evs {
		v, _ := json.Marshal(e)
		k := binary.BigEndian.AppendUint64([]byte(store.PrefixRejected), uint64(e.At.UnixNano()))
		k = binary.BigEndian.AppendUint32(k, r.ctr.Add(1))
		b.Set(k, v, nil)
	}
	// The view is diagnostic, not acknowledged data: no sync.
	_ = b.Commit(pebble.NoSync)
	if n := r.ctr.Load(); n/1000 != (n-uint32(len(evs)))/1000 {
		r.trim()
	}
}

// trim deletes all but the newest MaxRejected entries.
func (r *Rejected) trim() {
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixRejected), UpperBound: store.UpperBound(store.PrefixRejected)})
	if err != nil {
		return
	}
	defer it.Close()
	n := 0
	for it.Last(); it.Valid(); it.Prev() {
		if n++; n > MaxRejected {
			_ = r.db.DeleteRange([]byte(store.PrefixRejected), append([]byte(nil), it.Key()...), pebble.NoSync)
			// it.Key() itself is kept: DeleteRange's end is exclusive, so
			// MaxRejected+1 remain at most until the next trim.
			return
		}
	}
}

// List returns up to limit rejected events, newest first.
func (r *Rejected) List(limit int) ([]RejectedEvent, error) {
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixRejected), UpperBound: store.UpperBound(store.PrefixRejected)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []RejectedEvent{}
	for it.Last(); it.Valid() && len(out) < limit; it.Prev() {
		var e RejectedEvent
		if json.Unmarshal(it.Value(), &e) == nil {
			out = append(out, e)
		}
	}
	return out, it.Error()
}
