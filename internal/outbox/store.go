package outbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// Store is the outbox on Pebble. Its durable writes are Pebble batches
// committed with Sync; Pebble's commit pipeline syncs the WAL once for all
// batches waiting at that moment, so concurrent workers share each sync
// (group commit) without a queue of our own.
type Store struct {
	db  *pebble.DB
	now func() time.Time

	// enqMu guards enqueuing: keys being written by an Enqueue call whose
	// batch is not committed yet. A key is seen when it is in oi/ or here,
	// so "is the key seen? then write it" is atomic between concurrent
	// calls while their synced commits still share a WAL sync; a call that
	// finds its key here waits for the other call's commit before it
	// returns, since it promises the key durable.
	enqMu     sync.Mutex
	enqueuing map[string]chan struct{} // closed when its call's commit is done

	// mu guards claimed: the keys leased to workers. It is bounded by the
	// workers' batch sizes, whatever the queue's length.
	mu      sync.Mutex
	claimed map[string]struct{}
	// head (an ob/ key, under mu; nil: the start) is where Claim starts
	// reading: no ob/ entry sorts before it. Without it every claim would read past the
	// tombstones of all the messages finished since the last compaction,
	// which made a claim cost grow with the broadcast (50 ms after 150,000
	// sends). Claim raises it to the first entry it meets (claimed entries
	// stay in ob/, so it never passes one); Enqueue and Reschedule lower
	// it after they commit, under mu, so that a claim that ran before
	// their entry was visible cannot leave the head past it.
	head []byte

	depth   atomic.Int64 // ob/ entries: queued or sending
	resends atomic.Int64 // claims of messages a crash left in sending
}

// State bytes of ob/ values: a claim of an entry marked sending is a resend
// after a crash, found without reading its record.
const (
	obQueued  = 'q'
	obSending = 's'
)

// Open returns the outbox over db and counts the queue (a scan of the ob/
// keys only).
func Open(db *pebble.DB) (*Store, error) {
	s := &Store{db: db, now: time.Now, claimed: map[string]struct{}{}, enqueuing: map[string]chan struct{}{}}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixOutboxDue), UpperBound: store.UpperBound(store.PrefixOutboxDue)})
	if err != nil {
		return nil, fmt.Errorf("outbox: open queue: %w", err)
	}
	var n int64
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("outbox: count queue: %w", err)
	}
	s.depth.Store(n)
	return s, nil
}

// SetClock replaces the clock that stamps enqueue and state-change times
// (tests and simulations run on their own clock).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Depth is the number of messages not final (queued or sending).
func (s *Store) Depth() int64 { return s.depth.Load() }

// Resends is the number of claims, since Open, of messages a crash had
// left in sending: each is sent again with its key.
func (s *Store) Resends() int64 { return s.resends.Load() }

func dueKey(due time.Time, key string) []byte {
	k := make([]byte, 0, len(store.PrefixOutboxDue)+8+len(key))
	k = append(k, store.PrefixOutboxDue...)
	k = binary.BigEndian.AppendUint64(k, uint64(max(due.UnixNano(), 0)))
	return append(k, key...)
}

func itemKey(key string) []byte { return store.Key(store.PrefixOutboxItem, key) }

func profKey(profile string, created time.Time, key string) []byte {
	k := make([]byte, 0, len(store.PrefixOutboxProf)+len(profile)+9+len(key))
	k = append(append(append(k, store.PrefixOutboxProf...), profile...), 0)
	k = binary.BigEndian.AppendUint64(k, uint64(created.UnixNano()))
	return append(k, key...)
}

// Enqueue checks every message, then writes the ones whose keys it has not
// seen, with one synced batch. A message that fails its check fails the
// whole call and nothing is written.
func (s *Store) Enqueue(ctx context.Context, msgs []Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range msgs {
		if err := msgs[i].normalize(); err != nil {
			return fmt.Errorf("outbox: enqueue message %d: %w", i, err)
		}
	}
	// Reserve the unseen keys under the lock; encode and commit outside
	// it, so that concurrent calls share a WAL sync.
	done := make(chan struct{})
	var mine []*Message
	var waits []string // keys another call is committing
	waitFor := map[string]chan struct{}{}
	s.enqMu.Lock()
	for i := range msgs {
		m := &msgs[i]
		if ch, busy := s.enqueuing[m.Key]; busy {
			if ch != done {
				waits, waitFor[m.Key] = append(waits, m.Key), ch
			}
			continue
		}
		_, closer, err := s.db.Get(itemKey(m.Key))
		if err == nil {
			closer.Close()
			continue
		}
		if !errors.Is(err, pebble.ErrNotFound) {
			s.release(mine, done)
			s.enqMu.Unlock()
			return fmt.Errorf("outbox: enqueue %q: %w", m.Key, err)
		}
		s.enqueuing[m.Key] = done
		mine = append(mine, m)
	}
	s.enqMu.Unlock()
	err := s.commitNew(mine)
	s.enqMu.Lock()
	s.release(mine, done)
	s.enqMu.Unlock()
	if err != nil {
		return err
	}
	// Durable on return means also the keys another call was writing.
	for _, k := range waits {
		select {
		case <-waitFor[k]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if _, ok, err := s.Get(k); err != nil || !ok {
			return fmt.Errorf("outbox: enqueue %q: a concurrent enqueue of the key failed; retry: %v", k, err)
		}
	}
	return nil
}

// release forgets the reservations of keys (under enqMu) and wakes the
// calls waiting for them.
func (s *Store) release(keys []*Message, done chan struct{}) {
	for _, m := range keys {
		delete(s.enqueuing, m.Key)
	}
	close(done)
}

// commitNew writes reserved, unseen messages with one synced batch.
func (s *Store) commitNew(msgs []*Message) error {
	if len(msgs) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	now := s.now().UTC()
	var earliest []byte // the first of the new ob/ keys
	for _, m := range msgs {
		due := m.NotBefore.UTC()
		if due.IsZero() || due.Before(now) {
			due = now
		}
		dk := dueKey(due, m.Key)
		if earliest == nil || bytes.Compare(dk, earliest) < 0 {
			earliest = dk
		}
		rec := Record{Message: *m, State: Queued, Due: due, Created: now, Updated: now}
		v, err := encodeRecord(&rec)
		if err != nil {
			return fmt.Errorf("outbox: encode %q: %w", m.Key, err)
		}
		_ = b.Set(itemKey(m.Key), v, nil)
		_ = b.Set(dk, []byte{obQueued}, nil)
		_ = b.Set(profKey(m.Profile, now, m.Key), nil, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("outbox: enqueue %d messages: %w", len(msgs), err)
	}
	s.lowerHead(earliest)
	s.depth.Add(int64(len(msgs)))
	return nil
}

// stored is a Record as kept under oi/: times as unix nanoseconds, which
// encode several times faster than time.Time's RFC 3339 text (a third of
// an enqueue's cost was formatting the four times).
type stored struct {
	Message
	NotBefore int64  `json:"not_before,omitempty"` // shadows Message.NotBefore
	State     State  `json:"s"`
	Due       int64  `json:"d"`
	Attempts  int    `json:"a,omitempty"`
	Created   int64  `json:"c"`
	Updated   int64  `json:"u"`
	Reason    string `json:"r,omitempty"`
	Resends   int    `json:"x,omitempty"`
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func encodeRecord(r *Record) ([]byte, error) {
	st := stored{Message: r.Message, NotBefore: nanos(r.NotBefore), State: r.State, Due: nanos(r.Due), Attempts: r.Attempts,
		Created: nanos(r.Created), Updated: nanos(r.Updated), Reason: r.Reason, Resends: r.Resends}
	st.Message.NotBefore = time.Time{}
	return json.Marshal(&st)
}

func decodeRecord(v []byte) (*Record, error) {
	var st stored
	if err := json.Unmarshal(v, &st); err != nil {
		return nil, err
	}
	r := &Record{Message: st.Message, State: st.State, Due: fromNanos(st.Due), Attempts: st.Attempts,
		Created: fromNanos(st.Created), Updated: fromNanos(st.Updated), Reason: st.Reason, Resends: st.Resends}
	r.NotBefore = fromNanos(st.NotBefore)
	return r, nil
}

// Get returns the record of key.
func (s *Store) Get(key string) (*Record, bool, error) {
	v, closer, err := s.db.Get(itemKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("outbox: get %q: %w", key, err)
	}
	defer closer.Close()
	r, err := decodeRecord(v)
	if err != nil {
		return nil, false, fmt.Errorf("outbox: decode %q: %w", key, err)
	}
	return r, true, nil
}

// Claim implements Queue. It reads the queue from its head, so the entries
// skipped because they are claimed are at most the claims in flight.
func (s *Store) Claim(now time.Time, n int) ([]*Record, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lower := []byte(store.PrefixOutboxDue)
	if s.head != nil {
		lower = s.head
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: store.UpperBound(store.PrefixOutboxDue)})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("outbox: claim: %w", err)
	}
	defer it.Close()
	limit := uint64(max(now.UnixNano(), 0))
	var out []*Record
	first := true
	for it.First(); it.Valid() && len(out) < n; it.Next() {
		k := it.Key()[len(store.PrefixOutboxDue):]
		if len(k) < 8 {
			continue
		}
		due := binary.BigEndian.Uint64(k)
		if first {
			s.head, first = bytes.Clone(it.Key()), false
		}
		if due > limit {
			if len(out) == 0 {
				return nil, time.Unix(0, int64(due)), nil
			}
			break
		}
		key := string(k[8:])
		if _, held := s.claimed[key]; held {
			continue
		}
		rec, ok, err := s.Get(key)
		if err != nil {
			return out, time.Time{}, err
		}
		if !ok {
			continue // cannot happen: ob/ and oi/ are written together
		}
		if v := it.Value(); len(v) > 0 && v[0] == obSending {
			rec.Recovered = true
			s.resends.Add(1)
		}
		rec.Due = time.Unix(0, int64(due)).UTC()
		s.claimed[key] = struct{}{}
		out = append(out, rec)
	}
	if err := it.Error(); err != nil {
		return out, time.Time{}, fmt.Errorf("outbox: claim: %w", err)
	}
	return out, time.Time{}, nil
}

// Release implements Queue.
func (s *Store) Release(rec *Record) {
	s.mu.Lock()
	delete(s.claimed, rec.Key)
	s.mu.Unlock()
}

func (s *Store) put(b *pebble.Batch, rec *Record) error {
	v, err := encodeRecord(rec)
	if err != nil {
		return fmt.Errorf("outbox: encode %q: %w", rec.Key, err)
	}
	return b.Set(itemKey(rec.Key), v, nil)
}

// MarkSending implements Queue: the records and their queue entries say
// sending, with one synced batch.
func (s *Store) MarkSending(recs []*Record) error {
	if len(recs) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	now := s.now().UTC()
	for _, r := range recs {
		if r.Recovered {
			r.Resends++
		}
		r.State, r.Updated = Sending, now
		r.Attempts++
		if err := s.put(b, r); err != nil {
			return err
		}
		_ = b.Set(dueKey(r.Due, r.Key), []byte{obSending}, nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("outbox: mark %d sending: %w", len(recs), err)
	}
	return nil
}

// Finish implements Queue.
func (s *Store) Finish(rec *Record, state State, reason string, sync bool) error {
	if !state.Final() {
		return fmt.Errorf("outbox: finish %q: %s is not a final state", rec.Key, state)
	}
	b := s.db.NewBatch()
	defer b.Close()
	rec.State, rec.Reason, rec.Updated = state, reason, s.now().UTC()
	if err := s.put(b, rec); err != nil {
		return err
	}
	_ = b.Delete(dueKey(rec.Due, rec.Key), nil)
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	if err := b.Commit(opt); err != nil {
		return fmt.Errorf("outbox: finish %q as %s: %w", rec.Key, state, err)
	}
	s.depth.Add(-1)
	s.Release(rec)
	return nil
}

// Reschedule implements Queue.
func (s *Store) Reschedule(rec *Record, due time.Time, reason string) error {
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Delete(dueKey(rec.Due, rec.Key), nil)
	rec.State, rec.Reason, rec.Updated, rec.Due = Queued, reason, s.now().UTC(), due.UTC()
	if err := s.put(b, rec); err != nil {
		return err
	}
	_ = b.Set(dueKey(rec.Due, rec.Key), []byte{obQueued}, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("outbox: reschedule %q: %w", rec.Key, err)
	}
	s.lowerHead(dueKey(rec.Due, rec.Key))
	s.Release(rec)
	return nil
}

// lowerHead makes Claim read from key on, for an entry just committed.
func (s *Store) lowerHead(key []byte) {
	s.mu.Lock()
	if s.head != nil && bytes.Compare(key, s.head) < 0 {
		s.head = key
	}
	s.mu.Unlock()
}

// Sync implements Queue.
func (s *Store) Sync() error {
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.LogData(nil, nil)
	return b.Commit(pebble.Sync)
}

// History returns up to limit messages of profile, newest first.
func (s *Store) History(profile string, limit int) ([]*Record, error) {
	prefix := append(append([]byte(store.PrefixOutboxProf), profile...), 0)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: store.UpperBound(string(prefix))})
	if err != nil {
		return nil, fmt.Errorf("outbox: history of %q: %w", profile, err)
	}
	defer it.Close()
	out := []*Record{}
	for it.Last(); it.Valid() && len(out) < limit; it.Prev() {
		k := it.Key()
		if !bytes.HasPrefix(k, prefix) || len(k) < len(prefix)+8 {
			continue
		}
		rec, ok, err := s.Get(string(k[len(prefix)+8:]))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, rec)
		}
	}
	return out, it.Error()
}

var _ Queue = (*Store)(nil)
