package segment

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"tailor/internal/event"
	"tailor/internal/profile"
)

// idsOnly is a profile store that knows only which profiles exist.
type idsOnly []string

func (p idsOnly) View(string, func(*profile.State, []event.Identifier)) bool { return false }
func (p idsOnly) Owner(*event.Event) (string, bool)                          { return "", false }
func (p idsOnly) Each(fn func(string, *profile.State) bool) {
	for _, id := range p {
		if !fn(id, &profile.State{}) {
			return
		}
	}
}

// The persisted columns read back into an index that evaluates every rule
// exactly as the one that wrote them, merges included.
func TestPersistedIndexEvaluatesLikeTheLiveOne(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(3, 9))
	ps := randomProfiles(rng, 300, genNow)
	live := buildIndex(t, rng, ps)
	live.opts.DB = db
	checkpoint := func() {
		b := db.NewBatch()
		if err := live.Checkpoint(b); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	checkpoint()
	// A second checkpoint after more events rewrites only the last pages.
	for i, p := range ps[:50] {
		ev, res := track(p.ID, "Product Added", time.Unix(genNow-int64(i)*3600, 0), map[string]any{"category": "Hats", "price": float64(i)})
		live.Apply(ev, res)
	}
	checkpoint()

	ids := make(idsOnly, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	back := NewEngine(Options{DB: db, Profiles: ids, Now: live.opts.Now})
	if err := back.Load(t.Context(), nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		o, _ := back.ix.lookup(p.ID)
		back.ix.setTraits(o, func(yield func(string, string) bool) {
			for k, v := range p.Traits {
				if v != nil {
					b, _ := json.Marshal(v)
					if !yield(k, string(b)) {
						return
					}
				}
			}
		})
	}
	if a, b := live.ix.Stats(), back.ix.Stats(); a.Events != b.Events || a.Profiles != b.Profiles {
		t.Fatalf("stats live %+v, loaded %+v", a, b)
	}
	now := time.Unix(genNow, 0)
	for range 400 {
		r := randomRule(rng, 1+rng.IntN(4))
		want, err1 := newEvaluation(live.ix, now, nil, false).rule(r, "")
		got, err2 := newEvaluation(back.ix, now, nil, false).rule(r, "")
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		// Ordinals are persisted, so the bitmaps compare directly.
		if !want.Equals(got) {
			t.Fatalf("rule %s: live %v, loaded %v", js(r), want.ToArray(), got.ToArray())
		}
		for _, p := range ps[:20] {
			o, _ := back.ix.lookup(p.ID)
			one, _, _ := newSingle(back.ix, o, now, nil, false).rule(r, "")
			if one != got.Contains(o) {
				t.Fatalf("rule %s profile %s: single %v after load, full %v", js(r), p.ID, one, got.Contains(o))
			}
		}
	}
}

// Persisted pages and dictionary blocks come from disk: any bytes decode to
// an error or to rows, never a panic, and rows decoded stay within bounds.
func FuzzDecodePage(f *testing.F) {
	var s stream
	s.key = "Order Completed"
	s.appendEvent(1, 100, map[string]any{"revenue": 12.5, "products": []any{map[string]any{"category": "Hats"}}, "page": map[string]any{"path": "/x"}})
	s.appendEvent(0, 200, map[string]any{"revenue": "n/a"})
	f.Add(s.appendPage(nil, 0), byte(2))
	var d dict
	d.id("a")
	d.id(1.5)
	d.id(true)
	d.id([]any{"x"})
	f.Add(d.appendBlock(nil, 0), byte(0))
	f.Fuzz(func(t *testing.T, b []byte, nords byte) {
		var d dict
		_ = d.decodeBlock(b)
		t2 := stream{key: s.key}
		for _, c := range s.colOrder {
			nc := t2.column(c.path, c.multi)
			for range 4 {
				nc.dict.id(float64(nc.dict.len()))
			}
		}
		if err := t2.decodePage(b, int(nords)); err != nil {
			return
		}
		for r := range t2.n {
			if int(t2.ord.get(r)) >= int(nords) {
				t.Fatalf("row %d: ordinal %d past %d", r, t2.ord.get(r), nords)
			}
		}
	})
}

// An index rebuilt because the persisted one is of another version, or
// cannot be read, replaces every key of the old one: a restart reads back
// the new index, never a stale page or dictionary block (a 1 M store once
// failed to start with "dictionary block 2 of "title" out of order").
func TestRebuiltIndexReplacesTheStaleOne(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &clock{t: t0}
	checkpoint := func(e *Engine) {
		t.Helper()
		b := db.NewBatch()
		if err := e.Checkpoint(b); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	page := func(e *Engine, n, distinct int) {
		for i := range n {
			e.Apply(&event.Event{Type: event.Page, Timestamp: t0.Add(-time.Duration(i) * time.Second), MessageID: strconv.Itoa(i),
				Properties: map[string]any{"title": "title " + strconv.Itoa(i%distinct)}}, profile.Resolution{Profile: "p_" + strconv.Itoa(i%50)})
		}
	}
	ids := make(idsOnly, 50)
	for i := range ids {
		ids[i] = "p_" + strconv.Itoa(i)
	}
	a := NewEngine(Options{DB: db, Now: c.now})
	a.Begin()
	page(a, 12000, 10000) // three dictionary blocks of titles
	checkpoint(a)
	// The persisted index becomes another version's.
	if err := db.Set(metaKey, []byte(`{"v":1,"streams":[]}`), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	b := NewEngine(Options{DB: db, Profiles: ids, Now: c.now})
	if err := b.Load(t.Context(), nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	b.Begin()
	page(b, 100, 100)
	checkpoint(b)
	back := NewEngine(Options{DB: db, Profiles: ids, Now: c.now})
	if err := back.Load(t.Context(), nil, 0, nil); err != nil {
		t.Fatalf("loading the rebuilt index: %v", err)
	}
	if got := back.ix.Stats().Events; got != 100 {
		t.Fatalf("loaded %d events, want the rebuilt index's 100", got)
	}
	// Unreadable columns: the engine starts (rebuilding from the log).
	if err := db.Set(pageKey(0, 0), []byte{0xff, 0xff}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	again := NewEngine(Options{DB: db, Profiles: ids, Now: c.now})
	if err := again.Load(t.Context(), nil, 0, nil); err != nil {
		t.Fatalf("a corrupt index stopped the load: %v", err)
	}
	if !again.ix.staleColumns {
		t.Fatal("the corrupt index is not marked for replacement")
	}
}
