package recommend

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"tailor/internal/store/storetest"
	"testing"
	"time"
)

// refProf is a profile as separate slices, the layout prof replaced: the
// reference its sections are checked against.
type refProf struct {
	secs [nSecs][]touch // secID unused
	freq []bought
}

func (r *refProf) push(s int, t touch, limit int) {
	l := r.secs[s]
	if len(l) >= limit {
		l = slices.Clone(l[len(l)-limit+1:])
	}
	r.secs[s] = append(l, t)
}

func checkProf(t *testing.T, step int, id string, p profRef, r *refProf) {
	t.Helper()
	if p.id() != id {
		t.Fatalf("step %d: id %q, want %q", step, p.id(), id)
	}
	for s := secFreq + 1; s < nSecs; s++ {
		if got := p.section(s); !slices.Equal(got, r.secs[s]) && len(got)+len(r.secs[s]) > 0 {
			t.Fatalf("step %d: section %d is %v, want %v", step, s, got, r.secs[s])
		}
	}
	if got := p.freq(); !slices.Equal(got, r.freq) && len(got)+len(r.freq) > 0 {
		t.Fatalf("step %d: freq is %v, want %v", step, got, r.freq)
	}
	if h := p.hist().h; len(h) != int(p.end[secViews]) || cap(h) < len(h) {
		t.Fatalf("step %d: array of %d touches (cap %d), sections end at %d", step, len(h), cap(h), p.end[secViews])
	}
}

func TestProfSectionsBehaveLikeSeparateSlices(t *testing.T) {
	for _, id := range []string{"", "a", "exactly-sixteen!", "2b3e2a4c-1111-4a2b-9c3d-000000000042"} {
		t.Run(fmt.Sprintf("id%d", len(id)), func(t *testing.T) {
			tab := newProfTable()
			p := tab.at(tab.add(id, 0))
			idView := p.id()
			var r refProf
			rnd := rand.New(rand.NewPCG(3, uint64(len(id))))
			const limit = 7
			for step := range 3000 {
				tc := touch{Item: rnd.Int32N(50), T: int64(step)}
				switch op := rnd.IntN(10); {
				case op < 6:
					s := []int{secViews, secCarts, secBuys}[op%3]
					p.push(s, tc, limit)
					r.push(s, tc, limit)
				case op < 8:
					b := bought{Item: tc.Item, N: float64(step % 5), First: int64(-step), Last: int64(step)}
					p.addFreq(b)
					r.freq = append(r.freq, b)
				case op == 8 && len(r.freq) > 0:
					i := rnd.IntN(len(r.freq))
					p.removeFreq(i)
					r.freq = slices.Delete(r.freq, i, i+1)
				default:
					s := []int{secViews, secCarts, secBuys}[rnd.IntN(3)]
					ts := make([]touch, rnd.IntN(2*limit))
					for i := range ts {
						ts[i] = touch{Item: int32(i), T: int64(step + i)}
					}
					p.set(s, ts)
					r.secs[s] = ts
				}
				if len(r.freq) > 20 {
					p.removeFreq(0)
					r.freq = r.freq[1:]
				}
				// Writing through freq changes the profile.
				if f := p.freq(); len(f) > 0 {
					f[len(f)-1].N++
					r.freq[len(r.freq)-1].N++
				}
				checkProf(t, step, id, p, &r)
			}
			// The id's view outlives every array the profile grew out of.
			runtime.GC()
			if idView != id {
				t.Fatalf("id view became %q, want %q", idView, id)
			}
		})
	}
}

func TestProfTableFindsAddsAndRemovesThroughHashCollisions(t *testing.T) {
	for _, collide := range []bool{false, true} {
		t.Run(fmt.Sprintf("collide=%v", collide), func(t *testing.T) {
			tab := newProfTable()
			if collide {
				// Every id in one chain: the ids, not the hashes, decide.
				tab.hash = func(string) uint64 { return 42 }
			}
			live := map[string]bool{}
			rnd := rand.New(rand.NewPCG(5, 5))
			for step := range 2000 {
				id := fmt.Sprintf("user-%d", rnd.IntN(60))
				if live[id] {
					p, ok := tab.remove(id)
					if !ok || p.id() != id {
						t.Fatalf("step %d: remove %q gave %q, %v", step, id, p.id(), ok)
					}
					delete(live, id)
				} else {
					if tab.find(id) >= 0 {
						t.Fatalf("step %d: %q found before it was added", step, id)
					}
					ix := tab.add(id, 0)
					tab.at(ix).push(secViews, touch{Item: int32(step), T: int64(step)}, 3)
					live[id] = true
				}
				if tab.len() != len(live) {
					t.Fatalf("step %d: %d profiles, want %d", step, tab.len(), len(live))
				}
			}
			seen := map[string]bool{}
			for id, p := range tab.all() {
				if !live[id] || seen[id] || tab.get(id) != p {
					t.Fatalf("all yielded %q (live %v, twice %v)", id, live[id], seen[id])
				}
				seen[id] = true
			}
			if len(seen) != len(live) {
				t.Fatalf("all yielded %d profiles, want %d", len(seen), len(live))
			}
			if tab.n > 60 {
				t.Fatalf("%d slots for at most 60 profiles: removed slots are not reused", tab.n)
			}
			if _, ok := tab.remove("nobody"); ok {
				t.Fatal("removed a profile never added")
			}
		})
	}
}

// TestLoadsProfileRecordsOfEarlierVersions loads a profile record as every
// version so far wrote it (JSON, lists oldest first), with more views than
// History allows now: the history is as stored, and the next view trims it
// to History.
func TestLoadsProfileRecordsOfEarlierVersions(t *testing.T) {
	db := storetest.MemDB(t)
	var views []string
	for i := range 5 {
		views = append(views, fmt.Sprintf(`{"i":"p%d","t":%d}`, i, 100+i))
	}
	rec := `{"v":[` + strings.Join(views, ",") + `],"c":[{"i":"p1","t":90}],"b":[{"i":"p2","t":80},{"i":"p3","t":80}],` +
		`"f":[{"i":"p2","n":2,"f":10,"l":80},{"i":"p3","n":1,"f":80,"l":80}]}`
	if err := db.Set([]byte(profPrefix+"ann"), []byte(rec), nil); err != nil {
		t.Fatal(err)
	}
	e := New(Options{DB: db, History: 3})
	if err := e.Load(); err != nil {
		t.Fatal(err)
	}
	p := e.profiles.get("ann")
	if p.prof == nil {
		t.Fatal("profile not loaded")
	}
	name := func(ts []touch) (out []string) {
		for _, x := range ts {
			out = append(out, fmt.Sprintf("%s@%d", e.items[x.Item].id, x.T))
		}
		return out
	}
	for _, c := range []struct {
		got  []touch
		want []string
	}{
		{p.views(), []string{"p0@100", "p1@101", "p2@102", "p3@103", "p4@104"}},
		{p.carts(), []string{"p1@90"}},
		{p.buys(), []string{"p2@80", "p3@80"}},
	} {
		if got := name(c.got); !slices.Equal(got, c.want) {
			t.Errorf("loaded %v, want %v", got, c.want)
		}
	}
	f := p.freq()
	if len(f) != 2 || e.items[f[0].Item].id != "p2" || f[0].N != 2 || f[0].First != 10 || f[0].Last != 80 ||
		e.items[f[1].Item].id != "p3" || f[1].N != 1 {
		t.Errorf("loaded freq %+v", f)
	}
	e.interact("ann", kindView, e.index("p9"), 200)
	if got, want := name(e.profiles.get("ann").views()), []string{"p3@103", "p4@104", "p9@200"}; !slices.Equal(got, want) {
		t.Errorf("after a view: %v, want %v", got, want)
	}
}

// TestMergeUnionsHistoriesWithinTheCaps merges a profile into another:
// each history is the union in time order, cut to History; the distinct
// purchases add up per item, and items beyond Distinct are dropped.
func TestMergeUnionsHistoriesWithinTheCaps(t *testing.T) {
	e := New(Options{History: 3, Distinct: 2})
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	p := func(id string) prod { return prod{id, "C", 10} }
	view(e, "a", at(1), p("p1"))
	view(e, "a", at(3), p("p2"))
	view(e, "a", at(5), p("p3"))
	buy(e, "a", at(10), p("p1"))
	buy(e, "a", at(20), p("p2"))
	view(e, "b", at(2), p("p4"))
	view(e, "b", at(4), p("p5"))
	buy(e, "b", at(30), p("p1"))
	buy(e, "b", at(40), p("p3"))
	mergeInto("a", "b", at(50))(e)

	if e.profiles.get("a").prof != nil || e.profiles.len() != 1 {
		t.Fatalf("after the merge %d profiles, a present: %v", e.profiles.len(), e.profiles.get("a").prof != nil)
	}
	b := e.profiles.get("b")
	name := func(ts []touch) (out []string) {
		for _, x := range ts {
			out = append(out, fmt.Sprintf("%s@%d", e.items[x.Item].id, x.T-t0.Unix()))
		}
		return out
	}
	for _, c := range []struct {
		what string
		got  []touch
		want []string
	}{
		{"views", b.views(), []string{"p2@3", "p5@4", "p3@5"}},
		{"carts", b.carts(), nil},
		{"buys", b.buys(), []string{"p2@20", "p1@30", "p3@40"}},
	} {
		if got := name(c.got); !slices.Equal(got, c.want) {
			t.Errorf("%s %v, want %v", c.what, got, c.want)
		}
	}
	var freq []string
	for _, f := range b.freq() {
		freq = append(freq, fmt.Sprintf("%s n%g %d-%d", e.items[f.Item].id, f.N, f.First-t0.Unix(), f.Last-t0.Unix()))
	}
	if want := []string{"p1 n2 10-30", "p3 n1 40-40"}; !slices.Equal(freq, want) {
		t.Errorf("freq %v, want %v", freq, want)
	}
}
