package message

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/osteele/liquid"

	"tailor/internal/store"
)

// Keys under store.PrefixTemplate:
//
//	mt/h/<id>              -> head: the current version (JSON)
//	mt/v/<id>\x00<ver:8>   -> one version (JSON); never rewritten, kept after
//	                          delete so that queued sends still render
//	mt/secret              -> the link-signing secret
const (
	headPrefix    = store.PrefixTemplate + "h/"
	versionPrefix = store.PrefixTemplate + "v/"
	secretKey     = store.PrefixTemplate + "secret"
)

// ErrNotFound is a template id (or version) that does not exist.
var ErrNotFound = errors.New("no such template")

type head struct {
	Version int  `json:"version"`
	Deleted bool `json:"deleted,omitempty"`
}

// Store keeps template versions.
type Store struct {
	db  *pebble.DB
	eng *liquid.Engine
	now func() time.Time

	mu       sync.Mutex // serializes saves (version numbering)
	versions sync.Map   // "<id>@<version>" -> Template: versions never change, so a send reads each once
}

// NewStore returns a template store over db; eng parses the templates (the
// one the renderer uses, with its tags and filters).
func NewStore(db *pebble.DB, eng *liquid.Engine) *Store {
	return &Store{db: db, eng: eng, now: time.Now}
}

func versionKey(id string, v int) []byte {
	k := store.Key(versionPrefix, id+"\x00")
	return binary.BigEndian.AppendUint64(k, uint64(v))
}

// Save validates t and stores it as the next version of t.ID. create says
// the id must be new (or deleted); otherwise it must exist.
func (s *Store) Save(t Template, create bool) (Template, error) {
	if err := t.Validate(s.eng); err != nil {
		return Template{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok, err := s.head(t.ID)
	if err != nil {
		return Template{}, err
	}
	exists := ok && !h.Deleted
	if create && exists {
		return Template{}, fmt.Errorf("template %q: %w", t.ID, ErrExists)
	}
	if !create && !exists {
		return Template{}, fmt.Errorf("template %q: %w", t.ID, ErrNotFound)
	}
	t.Version = h.Version + 1
	t.Created = s.now().UTC()
	b := s.db.NewBatch()
	defer b.Close()
	tb, err := json.Marshal(t)
	if err != nil {
		return Template{}, fmt.Errorf("encode template %s: %w", t.ID, err)
	}
	hb, _ := json.Marshal(head{Version: t.Version})
	_ = b.Set(versionKey(t.ID, t.Version), tb, nil)
	_ = b.Set(store.Key(headPrefix, t.ID), hb, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return Template{}, fmt.Errorf("save template %s: %w", t.ID, err)
	}
	return t, nil
}

// ErrExists is creating a template whose id is taken.
var ErrExists = errors.New("a template with this id exists; PUT replaces it")

func (s *Store) head(id string) (head, bool, error) {
	v, c, err := s.db.Get(store.Key(headPrefix, id))
	if errors.Is(err, pebble.ErrNotFound) {
		return head{}, false, nil
	}
	if err != nil {
		return head{}, false, fmt.Errorf("read template head %s: %w", id, err)
	}
	defer c.Close()
	var h head
	if err := json.Unmarshal(v, &h); err != nil {
		return head{}, false, fmt.Errorf("decode template head %s: %w", id, err)
	}
	return h, true, nil
}

// Get returns version v of id, or its current version when v is 0. A
// deleted template's old versions stay readable by number.
func (s *Store) Get(id string, v int) (Template, error) {
	if v == 0 {
		h, ok, err := s.head(id)
		if err != nil {
			return Template{}, err
		}
		if !ok || h.Deleted {
			return Template{}, fmt.Errorf("template %q: %w", id, ErrNotFound)
		}
		v = h.Version
	}
	ck := id + "@" + strconv.Itoa(v)
	if t, ok := s.versions.Load(ck); ok {
		return t.(Template), nil
	}
	raw, c, err := s.db.Get(versionKey(id, v))
	if errors.Is(err, pebble.ErrNotFound) {
		return Template{}, fmt.Errorf("template %q version %d: %w", id, v, ErrNotFound)
	}
	if err != nil {
		return Template{}, fmt.Errorf("read template %s: %w", id, err)
	}
	defer c.Close()
	var t Template
	if err := json.Unmarshal(raw, &t); err != nil {
		return Template{}, fmt.Errorf("decode template %s@%d: %w", id, v, err)
	}
	s.versions.Store(ck, t)
	return t, nil
}

// Delete marks id deleted; its versions stay for sends already queued.
func (s *Store) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok, err := s.head(id)
	if err != nil {
		return err
	}
	if !ok || h.Deleted {
		return fmt.Errorf("template %q: %w", id, ErrNotFound)
	}
	h.Deleted = true
	hb, _ := json.Marshal(h)
	if err := s.db.Set(store.Key(headPrefix, id), hb, pebble.Sync); err != nil {
		return fmt.Errorf("delete template %s: %w", id, err)
	}
	return nil
}

// Summary is a template in the list.
type Summary struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Channel string    `json:"channel"`
	Version int       `json:"version"`
	Created time.Time `json:"updated"`
	Locales []string  `json:"locales"`
}

// List returns the current version of every template not deleted, by id.
func (s *Store) List() ([]Summary, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(headPrefix), UpperBound: store.UpperBound(headPrefix)})
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	var ids []string
	for it.First(); it.Valid(); it.Next() {
		var h head
		if json.Unmarshal(it.Value(), &h) == nil && !h.Deleted {
			ids = append(ids, strings.TrimPrefix(string(it.Key()), headPrefix))
		}
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	out := make([]Summary, 0, len(ids))
	for _, id := range ids {
		t, err := s.Get(id, 0)
		if err != nil {
			return nil, err
		}
		locs := make([]string, 0, len(t.Locales))
		for l := range t.Locales {
			locs = append(locs, l)
		}
		slices.Sort(locs)
		out = append(out, Summary{ID: t.ID, Name: t.Name, Channel: t.Channel, Version: t.Version, Created: t.Created, Locales: locs})
	}
	return out, nil
}

// Secret returns the link-signing secret, made at first use and kept in the
// store so that links in sent messages keep working across restarts.
func Secret(db *pebble.DB) ([]byte, error) {
	v, c, err := db.Get([]byte(secretKey))
	if err == nil {
		defer c.Close()
		return append([]byte(nil), v...), nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("read link secret: %w", err)
	}
	sec := make([]byte, 32)
	_, _ = rand.Read(sec)
	if err := db.Set([]byte(secretKey), sec, pebble.Sync); err != nil {
		return nil, fmt.Errorf("store link secret: %w", err)
	}
	return sec, nil
}
