package segment

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
)

// buildIndex feeds random profiles to an engine the way the processor
// does. Some profiles arrive as two profiles that merge halfway, so the
// merged-ordinal paths are exercised too.
func buildIndex(t *testing.T, rng *rand.Rand, ps []*RefProfile) *Engine {
	t.Helper()
	e := NewEngine(Options{Now: func() time.Time { return time.Unix(genNow, 0) }})
	for i, p := range ps {
		evs := append([]RefEvent(nil), p.Events...)
		rng.Shuffle(len(evs), func(a, b int) { evs[a], evs[b] = evs[b], evs[a] })
		split := i%3 == 0 && len(evs) > 1
		other := p.ID + "-b"
		for j, re := range evs {
			ev := &event.Event{Timestamp: time.Unix(re.Time, 0), Properties: re.Properties, MessageID: fmt.Sprint(j)}
			if strings.HasPrefix(re.Key, "$") {
				ev.Type = event.Type(re.Key[1:])
			} else {
				ev.Type, ev.Event = event.Track, re.Key
			}
			res := profile.Resolution{Profile: p.ID}
			switch {
			case split && j < len(evs)/2:
				res.Profile = other
			case split && j == len(evs)/2:
				res.Merged = []string{other}
			}
			e.Apply(ev, res)
		}
		if len(evs) == 0 {
			e.ix.ord(p.ID)
		}
		o, _ := e.ix.lookup(p.ID)
		e.ix.setTraits(o, func(yield func(string, string) bool) {
			for k, v := range p.Traits {
				if v == nil {
					continue // a JSON null removes the trait
				}
				b, _ := json.Marshal(v)
				if !yield(k, string(b)) {
					return
				}
			}
		})
	}
	return e
}

// The fast full evaluation, the single-profile evaluation the live engine
// uses, and the reference agree on random rules over random profiles.
func TestFastPathEqualsReference(t *testing.T) {
	rules, mismatches := 0, 0
	defer func(r uint64, p int) { candidateRatio, parallelMin = r, p }(candidateRatio, parallelMin)
	for seed := range 8 {
		// Seeds 4 to 7 run and-groups of leaves concurrently.
		parallelMin = map[bool]int{true: 0, false: 1 << 30}[seed >= 4]
		// Odd seeds evaluate and-groups per candidate after their first
		// child, even ones by scans only.
		candidateRatio = map[bool]uint64{true: 0, false: 1 << 40}[seed%2 == 1]
		rng := rand.New(rand.NewPCG(uint64(seed), 42))
		ps := randomProfiles(rng, 80, genNow)
		e := buildIndex(t, rng, ps)
		now := time.Unix(genNow, 0)
		// The models snapshot: none, at now, or at another instant with
		// other lifecycle thresholds; the reference gets the same one.
		switch seed % 4 {
		case 1:
			// Predictions: fitted on these profiles, else the CDNOW fit.
			e.pred = testPredictions
			e.RefreshModels(now)
		case 2:
			e.ix.models = computeModels(e.ix, now.Add(-45*24*time.Hour),
				ModelOptions{NewWithin: 7 * 24 * time.Hour, ActiveWithin: 30 * 24 * time.Hour, LapsedAfter: 90 * 24 * time.Hour})
			// Predictions as of 45 days ago, cached for that snapshot.
			e.ix.installPredictions(e.ix.models, testPredictions, nil)
		case 3:
			e.ix.models = computeModels(e.ix, now.Add(3*24*time.Hour), ModelOptions{})
		}
		models := e.ix.models
		if models != nil {
			checkModels(t, models, ps)
		}
		for range 150 {
			r := randomRule(rng, 1+rng.IntN(4))
			rules++
			ev := newEvaluation(e.ix, now, nil, true)
			b, err := ev.rule(r, "")
			if err != nil {
				t.Fatalf("rule %s: %v", js(r), err)
			}
			// Without next changes, count and sum take their fast paths.
			fast, err := newEvaluation(e.ix, now, nil, false).rule(r, "")
			if err != nil {
				t.Fatalf("rule %s: %v", js(r), err)
			}
			if !fast.Equals(b) {
				t.Errorf("seed %d rule %s: without next changes %v, with %v", seed, js(r), fast.ToArray(), b.ToArray())
			}
			// After every event, computed fields read the running
			// aggregates (their own fast path).
			late := int64(e.ix.maxTs) + 86400
			lb, err := newEvaluation(e.ix, time.Unix(late, 0), nil, false).rule(r, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				o, _ := e.ix.lookup(p.ID)
				if want := ReferenceWith(r, p, late, nil, e.ix.models); lb.Contains(o) != want {
					mismatches++
					t.Errorf("seed %d profile %s rule %s after every event: reference %v, full %v", seed, p.ID, js(r), want, lb.Contains(o))
				}
			}
			for _, p := range ps {
				o, _ := e.ix.lookup(p.ID)
				want := ReferenceWith(r, p, genNow, nil, models)
				got := b.Contains(o)
				sg := newSingle(e.ix, o, now, nil, false)
				one, _, err := sg.rule(r, "")
				if err != nil {
					t.Fatal(err)
				}
				if got != want || one != want {
					mismatches++
					if mismatches < 5 {
						t.Errorf("seed %d profile %s rule %s:\n reference %v, full %v, single %v", seed, p.ID, js(r), want, got, one)
					}
					continue
				}
				// The next-change instants are never late: the answer is
				// the same at every instant before them.
				for _, next := range []int64{int64(ev.next[o]), sg.next} {
					if next == 0 || next == math.MaxInt64 {
						next = genNow + 400*86400
					}
					for _, at := range []int64{genNow + 1, (genNow + next) / 2, next - 1} {
						if at > genNow && at < next && ReferenceWith(r, p, at, nil, models) != want {
							t.Errorf("seed %d profile %s rule %s: answer changes at %d, before the next change %d",
								seed, p.ID, js(r), at, next)
						}
					}
				}
			}
		}
	}
	if mismatches > 0 {
		t.Fatalf("%d mismatches over %d rules", mismatches, rules)
	}
}

func js(r *Rule) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// Live membership after random event streams and jumps of the clock equals
// a from-scratch evaluation at the same instant, for every saved segment.
func TestLiveMembershipEqualsFullEvaluation(t *testing.T) {
	for seed := range 4 {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		c := &clock{t: time.Unix(genNow-60*86400, 0)}
		e := NewEngine(Options{Now: c.now})
		e.Begin()
		var defs []*Rule
		for i := range 25 {
			r := randomRule(rng, 1+rng.IntN(3))
			if i%5 == 4 && i > 0 {
				// A segment of segments.
				r = &Rule{And: []*Rule{{Segment: fmt.Sprintf("s%d", i-1)}, {Not: &Rule{Segment: fmt.Sprintf("s%d", i-2)}}}}
			}
			if _, err := e.Save(Definition{ID: fmt.Sprintf("s%d", i), Rule: r}); err != nil {
				t.Fatal(err)
			}
			defs = append(defs, r)
		}
		ps := randomProfiles(rng, 60, genNow)
		type item struct {
			p  string
			ev RefEvent
		}
		var all []item
		for _, p := range ps {
			for _, ev := range p.Events {
				all = append(all, item{p.ID, ev})
			}
		}
		rng.Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })
		check := func(when string) {
			if rng.IntN(3) == 0 {
				// New boundaries move profiles in the segments that rank by them.
				e.RefreshModels(c.t)
			}
			e.Tick()
			for i := range defs {
				id := fmt.Sprintf("s%d", i)
				s := e.segs[id]
				full, err := newEvaluation(e.ix, c.t, e.resolve, false).rule(s.def.Rule, "")
				if err != nil {
					t.Fatal(err)
				}
				if !full.Equals(s.members) {
					t.Fatalf("seed %d %s: segment %s %s: live %v, full %v", seed, when, id, js(s.def.Rule), s.members.ToArray(), full.ToArray())
				}
			}
		}
		for i, it := range all {
			ev := &event.Event{Timestamp: time.Unix(it.ev.Time, 0), Properties: it.ev.Properties, MessageID: fmt.Sprint(i)}
			if strings.HasPrefix(it.ev.Key, "$") {
				ev.Type = event.Type(it.ev.Key[1:])
			} else {
				ev.Type, ev.Event = event.Track, it.ev.Key
			}
			e.Apply(ev, profile.Resolution{Profile: it.p})
			if rng.IntN(40) == 0 {
				c.t = c.t.Add(time.Duration(rng.IntN(20*86400)) * time.Second)
				check(fmt.Sprintf("after event %d", i))
			}
		}
		for range 10 {
			c.t = c.t.Add(time.Duration(rng.IntN(40*86400)) * time.Second)
			check("at the end")
		}
	}
}

// Windows over full chunks read only their rows through the chunks' time
// order: the answers equal the reference's on a stream past one chunk.
func TestWindowsOverFullChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const profiles = 400
	ps := make([]*RefProfile, profiles)
	for i := range ps {
		ps[i] = &RefProfile{ID: fmt.Sprintf("p%d", i), Traits: map[string]any{}}
	}
	e := NewEngine(Options{Now: func() time.Time { return time.Unix(genNow, 0) }})
	for i := range vecChunk + vecChunk/2 {
		p := ps[rng.IntN(profiles)]
		ts := genNow - int64(rng.IntN(400*86400)) + 3*86400 // a few in the future
		props := map[string]any{"category": pick(rng, []string{"Hats", "Shoes", "Bags"}), "revenue": float64(rng.IntN(100))}
		p.Events = append(p.Events, RefEvent{Key: "Order Completed", Time: ts, Properties: props})
		ev, res := track(p.ID, "Order Completed", time.Unix(ts, 0), props)
		ev.MessageID = fmt.Sprint(i)
		e.Apply(ev, res)
	}
	if len(e.ix.streams["Order Completed"].byTime) == 0 {
		t.Fatal("no chunk has its time order")
	}
	for _, text := range []string{
		`did "Order Completed" at least 3 times in last 30d`,
		`did "Order Completed" where category = "hats" at most 1 times in last 7d`,
		`did "Order Completed" sum(revenue) > 150 in last 60d`,
		`did "Order Completed" avg(revenue) > 50 between 2026-01-01 and 2026-03-01`,
		`did "Order Completed" exactly 2 times since 2026-05-01`,
		`not did "Order Completed" in last 2d`,
	} {
		r, err := ParseText(text)
		if err != nil {
			t.Fatal(err)
		}
		for _, track := range []bool{false, true} {
			ev := newEvaluation(e.ix, time.Unix(genNow, 0), nil, track)
			b, err := ev.rule(r, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				o, _ := e.ix.lookup(p.ID)
				if want := Reference(r, p, genNow, nil); b.Contains(o) != want {
					t.Fatalf("%s (next changes %v), profile %s: full %v, reference %v", text, track, p.ID, b.Contains(o), want)
				}
			}
		}
	}
}
