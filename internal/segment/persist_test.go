package segment

import (
	"encoding/json"
	"math/rand/v2"
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
	f.Add(s.encodePage(0), byte(2))
	var d dict
	d.id("a")
	d.id(1.5)
	d.id(true)
	d.id([]any{"x"})
	f.Add(d.encodeBlock(0), byte(0))
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
