package ingest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/event"
	"tailor/internal/store"
)

// Source is one sender of events (a website, an app, a backend), with its
// own write key. De-duplication of messageIds is per source.
type Source struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	WriteKey  string    `json:"write_key"`
	CreatedAt time.Time `json:"created_at"`
	// Trust is "server" (a backend; the default) or "client" (a browser or
	// app: its write key is public). See event.Trust.
	Trust string `json:"trust"`
}

// trust returns the source's trust level; an unknown stored value is
// treated as the least trusted.
func (src Source) trust() event.Trust {
	t, ok := event.ParseTrust(src.Trust)
	if !ok {
		return event.TrustClient
	}
	return t
}

// ErrSourceNotFound is returned for an unknown source id.
var ErrSourceNotFound = errors.New("source not found")

// Sources maps write keys to sources. With a db it persists them under
// src/<id>; the zero value is an in-memory registry.
type Sources struct {
	mu    sync.RWMutex
	db    *pebble.DB
	byKey map[string]Source
}

// LoadSources reads the registered sources from db.
func LoadSources(db *pebble.DB) (*Sources, error) {
	s := &Sources{db: db, byKey: make(map[string]Source)}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(store.PrefixSource), UpperBound: store.UpperBound(store.PrefixSource)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		var src Source
		if err := json.Unmarshal(it.Value(), &src); err != nil {
			return nil, fmt.Errorf("source %s: %w", it.Key()[len(store.PrefixSource):], err)
		}
		s.byKey[src.WriteKey] = src
	}
	return s, it.Error()
}

// Add registers writeKey for sourceID (in memory only; see Create).
func (s *Sources) Add(writeKey, sourceID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey == nil {
		s.byKey = make(map[string]Source)
	}
	s.byKey[writeKey] = Source{ID: sourceID, Name: sourceID, WriteKey: writeKey, Trust: "server"}
}

// Lookup returns the source id of writeKey and its trust level.
func (s *Sources) Lookup(writeKey string) (string, event.Trust, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	src, ok := s.byKey[writeKey]
	return src.ID, src.trust(), ok
}

// Ensure makes sure source id exists with writeKey, replacing an older key
// of the same source (used for the default source, whose key may come from
// a flag).
func (s *Sources) Ensure(id, name, writeKey string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, src := range s.byKey {
		if src.ID == id {
			if k == writeKey {
				return nil
			}
			delete(s.byKey, k)
		}
	}
	return s.putLocked(Source{ID: id, Name: name, WriteKey: writeKey, CreatedAt: time.Now().UTC(), Trust: "server"})
}

// Create registers a new source with a generated write key. trust is
// "server" or "client" ("" means server).
func (s *Sources) Create(name, trust string) (Source, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return Source{}, errors.New("name: required, at most 200 bytes")
	}
	t, ok := event.ParseTrust(trust)
	if !ok {
		return Source{}, fmt.Errorf("trust: %q is not a trust level; use \"server\" for a backend or \"client\" for a browser or app", trust)
	}
	src := Source{ID: "src_" + randomHex(8), Name: name, WriteKey: randomHex(16), CreatedAt: time.Now().UTC(), Trust: t.String()}
	s.mu.Lock()
	defer s.mu.Unlock()
	return src, s.putLocked(src)
}

// Delete revokes a source's write key. Its events stay in the log.
func (s *Sources) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, src := range s.byKey {
		if src.ID == id {
			if s.db != nil {
				if err := s.db.Delete(store.Key(store.PrefixSource, id), pebble.Sync); err != nil {
					return err
				}
			}
			delete(s.byKey, k)
			return nil
		}
	}
	return ErrSourceNotFound
}

// List returns the sources by id.
func (s *Sources) List() []Source {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Source, 0, len(s.byKey))
	for _, src := range s.byKey {
		out = append(out, src)
	}
	slices.SortFunc(out, func(a, b Source) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (s *Sources) putLocked(src Source) error {
	if s.byKey == nil {
		s.byKey = make(map[string]Source)
	}
	if s.db != nil {
		v, _ := json.Marshal(src)
		if err := s.db.Set(store.Key(store.PrefixSource, src.ID), v, pebble.Sync); err != nil {
			return fmt.Errorf("save source %s: %w", src.ID, err)
		}
	}
	s.byKey[src.WriteKey] = src
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
