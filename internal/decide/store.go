package decide

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/apierr"
	"tailor/internal/store"
)

const (
	keyPlacement = store.PrefixDecide + "p/"
	keyGeo       = store.PrefixDecide + "geo"
	keySecret    = store.PrefixDecide + "secret"
	keyStats     = store.PrefixDecide + "s/"
	// keyClick is <profile id> -> <unix nanos:8><placement>: the profile's
	// last click on a placement, for crediting its next order.
	keyClick = store.PrefixDecide + "c/"
)

// Placements keeps the placements and the geo table in the store and a
// compiled, immutable snapshot of them in memory. Writers (the admin API)
// serialize on mu and publish a new snapshot; readers (every /v1/decide)
// load the snapshot with one atomic read and never lock.
type Placements struct {
	db   *pebble.DB
	mu   sync.Mutex
	snap atomic.Pointer[snapshot]
	// SegmentExists checks rule segments on save (nil: not checked).
	SegmentExists func(id string) bool
	now           func() time.Time
}

// snapshot is the placements and geo table as of one write. Nothing in it
// changes after it is published.
type snapshot struct {
	byID map[string]*compiled
	geo  *geoIndex
}

// compiled is a placement prepared for deciding: each rule's condition
// compiled and each variant's answer JSON encoded once.
type compiled struct {
	p       Placement
	conds   []cond // by rule index; zero for segment rules
	variant map[string]int
	// variantJSON[i] is `"variant":{...}` for Variants[i], ready to copy
	// into answers.
	variantJSON [][]byte
	def         int
}

// OpenPlacements loads the placements and geo table of db.
func OpenPlacements(db *pebble.DB) (*Placements, error) {
	s := &Placements{db: db, now: time.Now}
	snap := &snapshot{byID: map[string]*compiled{}, geo: newGeoIndex(Geo{})}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(keyPlacement), UpperBound: []byte(store.PrefixDecide + "p0")})
	if err != nil {
		return nil, fmt.Errorf("decide: list placements: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		var p Placement
		if err := json.Unmarshal(it.Value(), &p); err != nil {
			it.Close()
			return nil, fmt.Errorf("decide: placement %s: %w", it.Key()[len(keyPlacement):], err)
		}
		c, err := compile(p)
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("decide: placement %s: %w", p.ID, err)
		}
		snap.byID[p.ID] = c
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	v, closer, err := db.Get([]byte(keyGeo))
	switch {
	case err == nil:
		var g Geo
		err = json.Unmarshal(v, &g)
		closer.Close()
		if err != nil {
			return nil, fmt.Errorf("decide: geo table: %w", err)
		}
		snap.geo = newGeoIndex(g)
	case !errors.Is(err, pebble.ErrNotFound):
		return nil, fmt.Errorf("decide: geo table: %w", err)
	}
	s.snap.Store(snap)
	return s, nil
}

func compile(p Placement) (*compiled, error) {
	c := &compiled{p: p, conds: make([]cond, len(p.Rules)), variant: map[string]int{}}
	for i, v := range p.Variants {
		c.variant[v.ID] = i
		var b bytes.Buffer
		b.WriteString(`"variant":{"id":`)
		appendStr(&b, v.ID)
		if v.Name != "" {
			b.WriteString(`,"name":`)
			appendStr(&b, v.Name)
		}
		if v.Layout != "" {
			b.WriteString(`,"layout":`)
			appendStr(&b, v.Layout)
		}
		if len(v.Content) > 0 {
			var compact bytes.Buffer
			if err := json.Compact(&compact, v.Content); err != nil {
				return nil, fmt.Errorf("variant %s content: %w", v.ID, err)
			}
			b.WriteString(`,"content":`)
			b.Write(compact.Bytes())
		}
		b.WriteByte('}')
		c.variantJSON = append(c.variantJSON, b.Bytes())
	}
	c.def = c.variant[p.Default]
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Segment != "" {
			continue
		}
		cd, err := compileCond(r)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i, err)
		}
		c.conds[i] = cd
	}
	return c, nil
}

func (s *Placements) load() *snapshot { return s.snap.Load() }

// List returns every placement by id.
func (s *Placements) List() []Placement {
	snap := s.load()
	out := make([]Placement, 0, len(snap.byID))
	for _, c := range snap.byID {
		out = append(out, c.p)
	}
	slices.SortFunc(out, func(a, b Placement) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Get returns placement id.
func (s *Placements) Get(id string) (Placement, bool) {
	c, ok := s.load().byID[id]
	if !ok {
		return Placement{}, false
	}
	return c.p, true
}

// Put validates and stores p. create refuses an existing id
// (PlacementExists); otherwise p replaces it and keeps its Created time.
func (s *Placements) Put(p Placement, create bool) (Placement, error) {
	if err := p.Validate(s.SegmentExists); err != nil {
		return Placement{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.load()
	prev, exists := old.byID[p.ID]
	if create && exists {
		return Placement{}, apierr.Errorf(apierr.PlacementExists, "placement %q exists; PUT /api/placements/%s replaces it", p.ID, p.ID)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	p.Created, p.Updated = now, now
	if exists {
		p.Created = prev.p.Created
	}
	c, err := compile(p)
	if err != nil {
		return Placement{}, apierr.New(apierr.InvalidPlacement, err.Error())
	}
	b, err := json.Marshal(p)
	if err != nil {
		return Placement{}, fmt.Errorf("decide: encode placement %s: %w", p.ID, err)
	}
	if err := s.db.Set([]byte(keyPlacement+p.ID), b, pebble.Sync); err != nil {
		return Placement{}, fmt.Errorf("decide: store placement %s: %w", p.ID, err)
	}
	next := &snapshot{byID: make(map[string]*compiled, len(old.byID)+1), geo: old.geo}
	for k, v := range old.byID {
		next.byID[k] = v
	}
	next.byID[p.ID] = c
	s.snap.Store(next)
	return p, nil
}

// Delete removes placement id (PlacementNotFound if there is none).
func (s *Placements) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.load()
	if _, ok := old.byID[id]; !ok {
		return apierr.Errorf(apierr.PlacementNotFound, "no placement %q", id)
	}
	if err := s.db.Delete([]byte(keyPlacement+id), pebble.Sync); err != nil {
		return fmt.Errorf("decide: delete placement %s: %w", id, err)
	}
	next := &snapshot{byID: make(map[string]*compiled, len(old.byID)), geo: old.geo}
	for k, v := range old.byID {
		if k != id {
			next.byID[k] = v
		}
	}
	s.snap.Store(next)
	return nil
}

// Geo returns the geo table.
func (s *Placements) Geo() Geo { return s.load().geo.Geo }

// SetGeo validates and stores the geo table.
func (s *Placements) SetGeo(g Geo) error {
	if err := g.Validate(); err != nil {
		return err
	}
	if g.Regions == nil {
		g.Regions = []Region{}
	}
	if g.Stores == nil {
		g.Stores = []Store{}
	}
	b, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("decide: encode geo table: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Set([]byte(keyGeo), b, pebble.Sync); err != nil {
		return fmt.Errorf("decide: store geo table: %w", err)
	}
	old := s.load()
	s.snap.Store(&snapshot{byID: old.byID, geo: newGeoIndex(g)})
	return nil
}

// Secret returns the key tracking tokens are signed with, made at the
// first call on a data directory and kept: tokens stay valid over
// restarts.
func Secret(db *pebble.DB) ([]byte, error) {
	v, closer, err := db.Get([]byte(keySecret))
	if err == nil {
		defer closer.Close()
		return bytes.Clone(v), nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("decide: read token secret: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := db.Set([]byte(keySecret), k, pebble.Sync); err != nil {
		return nil, fmt.Errorf("decide: store token secret: %w", err)
	}
	return k, nil
}

// statsKey is dc/s/<placement>\x00<day:4 big-endian, days since epoch>.
func statsKey(placement string, day uint32) []byte {
	k := make([]byte, 0, len(keyStats)+len(placement)+5)
	k = append(k, keyStats...)
	k = append(k, placement...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, day)
}
