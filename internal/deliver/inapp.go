package deliver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

// InboxItem is one in-app message in a profile's inbox.
type InboxItem struct {
	ID      string     `json:"id"`
	Key     string     `json:"message_key"`
	Title   string     `json:"title"`
	Body    string     `json:"body"`
	URL     string     `json:"url,omitempty"`
	Created time.Time  `json:"created"`
	Read    *time.Time `json:"read,omitempty"`
}

// Inbox is the in-app channel: messages kept under ib/<profile>\x00<id>,
// id derived from the send key, so a resend after a crash overwrites the
// same item instead of adding a second. Apps read it through the API.
type Inbox struct {
	DB *pebble.DB
	// Max bounds the items kept per profile; older ones are dropped.
	// Default 200.
	Max int

	mu sync.Mutex // one writer per inbox at a time: insert-and-trim, mark read
}

// ErrNoItem is returned for an inbox item that does not exist.
var ErrNoItem = errors.New("no such inbox message")

func inboxPrefix(profile string) []byte {
	return append(append([]byte(store.PrefixInbox), profile...), 0)
}

// Send implements Adapter.
func (ib *Inbox) Send(ctx context.Context, env Envelope) (Receipt, error) {
	id := IdempotencyKey(env.Key)
	ib.mu.Lock()
	defer ib.mu.Unlock()
	k := append(inboxPrefix(env.Profile), id...)
	if _, closer, err := ib.DB.Get(k); err == nil {
		closer.Close()
		return Receipt{ProviderID: id}, nil // sent before a crash
	}
	v, err := json.Marshal(InboxItem{ID: id, Key: env.Key, Title: env.Title, Body: env.Body, URL: env.URL, Created: time.Now().UTC()})
	if err != nil {
		return Receipt{}, Permanent(err)
	}
	b := ib.DB.NewBatch()
	defer b.Close()
	_ = b.Set(k, v, nil)
	items, err := ib.list(env.Profile)
	if err != nil {
		return Receipt{}, Temporary(err)
	}
	max := ib.Max
	if max <= 0 {
		max = 200
	}
	for i := max - 1; i < len(items); i++ { // newest first: drop the tail
		_ = b.Delete(append(inboxPrefix(env.Profile), items[i].ID...), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return Receipt{}, Temporary(fmt.Errorf("inapp: store: %w", err))
	}
	return Receipt{ProviderID: id}, nil
}

func (ib *Inbox) list(profile string) ([]InboxItem, error) {
	p := inboxPrefix(profile)
	it, err := ib.DB.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: store.UpperBound(string(p))})
	if err != nil {
		return nil, fmt.Errorf("inapp: read inbox: %w", err)
	}
	defer it.Close()
	var out []InboxItem
	for it.First(); it.Valid(); it.Next() {
		var x InboxItem
		if err := json.Unmarshal(it.Value(), &x); err == nil && bytes.HasPrefix(it.Key(), p) {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b InboxItem) int { return b.Created.Compare(a.Created) })
	return out, it.Error()
}

// List returns up to limit items of profile, newest first, and how many
// are unread in all.
func (ib *Inbox) List(profile string, limit int) ([]InboxItem, int, error) {
	items, err := ib.list(profile)
	if err != nil {
		return nil, 0, err
	}
	unread := 0
	for _, x := range items {
		if x.Read == nil {
			unread++
		}
	}
	if items == nil {
		items = []InboxItem{}
	}
	return items[:min(limit, len(items))], unread, nil
}

// MarkRead marks item id of profile read (once: a second call keeps the
// first time).
func (ib *Inbox) MarkRead(profile, id string, at time.Time) (InboxItem, error) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	k := append(inboxPrefix(profile), id...)
	v, closer, err := ib.DB.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return InboxItem{}, ErrNoItem
	}
	if err != nil {
		return InboxItem{}, fmt.Errorf("inapp: read item: %w", err)
	}
	var x InboxItem
	err = json.Unmarshal(v, &x)
	closer.Close()
	if err != nil {
		return InboxItem{}, fmt.Errorf("inapp: decode item: %w", err)
	}
	if x.Read != nil {
		return x, nil
	}
	t := at.UTC()
	x.Read = &t
	nv, _ := json.Marshal(x)
	return x, ib.DB.Set(k, nv, pebble.Sync)
}
