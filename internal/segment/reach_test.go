package segment

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// withReach replaces some leaves of r with reachability conditions and
// puts some beside it, so that they meet every kind of node.
func withReach(rng *rand.Rand, r *Rule) *Rule {
	leaf := func() *Rule { return &Rule{Reachable: pick(rng, Channels)} }
	var swap func(n *Rule)
	swap = func(n *Rule) {
		for i, k := range n.And {
			if k.And == nil && k.Or == nil && k.Not == nil && rng.IntN(3) == 0 {
				n.And[i] = leaf()
			} else {
				swap(k)
			}
		}
		for i, k := range n.Or {
			if k.And == nil && k.Or == nil && k.Not == nil && rng.IntN(3) == 0 {
				n.Or[i] = leaf()
			} else {
				swap(k)
			}
		}
		if n.Not != nil {
			swap(n.Not)
		}
	}
	swap(r)
	switch rng.IntN(4) {
	case 0:
		return &Rule{And: []*Rule{leaf(), r}}
	case 1:
		return &Rule{Or: []*Rule{r, leaf()}}
	case 2:
		return &Rule{Not: leaf()}
	}
	return r
}

// The reach column answers reachability conditions alike in the full
// evaluation, the single-profile one and the reference, for profiles
// consent told about and for the others (the default channels).
func TestReachableFastPathEqualsReference(t *testing.T) {
	defer func(r uint64, p int) { candidateRatio, parallelMin = r, p }(candidateRatio, parallelMin)
	defaults := []string{"inapp", "webhook"}
	seen := map[bool]int{}
	for seed := range 4 {
		parallelMin = map[bool]int{true: 0, false: 1 << 30}[seed >= 2]
		candidateRatio = map[bool]uint64{true: 0, false: 1 << 40}[seed%2 == 1]
		rng := rand.New(rand.NewPCG(uint64(seed), 77))
		ps := randomProfiles(rng, 80, genNow)
		e := buildIndex(t, rng, ps)
		e.SetReachableByDefault(defaults)
		for i, p := range ps {
			if i%5 == 0 {
				p.Reachable = defaults // consent never told: the default
				continue
			}
			for _, ch := range Channels {
				if rng.IntN(2) == 0 {
					p.Reachable = append(p.Reachable, ch)
				}
			}
			// Told twice: the second answer is the one that counts.
			e.SetReachable(p.ID, []string{pick(rng, Channels)}, 0)
			e.SetReachable(p.ID, p.Reachable, 0)
		}
		now := time.Unix(genNow, 0)
		for range 150 {
			r := withReach(rng, randomRule(rng, 1+rng.IntN(3)))
			if err := r.Validate(); err != nil {
				t.Fatalf("rule %s: %v", js(r), err)
			}
			full, err := newEvaluation(e.ix, now, nil, false).rule(r, "")
			if err != nil {
				t.Fatalf("rule %s: %v", js(r), err)
			}
			for _, p := range ps {
				o, _ := e.ix.lookup(p.ID)
				want := ReferenceWith(r, p, genNow, nil, e.ix.models)
				seen[want]++
				one, _, err := newSingle(e.ix, o, now, nil, false).rule(r, "")
				if err != nil {
					t.Fatal(err)
				}
				if full.Contains(o) != want || one != want {
					t.Fatalf("seed %d profile %s (reachable %v) rule %s: reference %v, full %v, single %v",
						seed, p.ID, p.Reachable, js(r), want, full.Contains(o), one)
				}
			}
		}
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Fatalf("outcomes %v: want both", seen)
	}
}

func TestReachableRuleValidation(t *testing.T) {
	cases := []struct {
		json, path string
	}{
		{`{"reachable":"pigeon"}`, "/reachable"},
		{`{"reachable":"email","op":"eq","value":true}`, ""},
		{`{"reachable":"email","case_sensitive":true}`, ""},
		{`{"reachable":"email","trait":"plan","op":"exists"}`, ""},
		{`{"and":[{"reachable":"sms"},{"reachable":"EMAIL"}]}`, "/and/1/reachable"},
	}
	for _, c := range cases {
		_, err := ParseJSON([]byte(c.json))
		var re *Error
		if !errors.As(err, &re) || re.Path != c.path {
			t.Errorf("%s: got %v, want an error at %q", c.json, err, c.path)
		}
	}
	for _, ok := range []string{`{"reachable":"email"}`, `{"not":{"reachable":"push"}}`} {
		if _, err := ParseJSON([]byte(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestReachableTextForm(t *testing.T) {
	cases := []struct{ text, json, back string }{
		{`reachable on email`, `{"reachable":"email"}`, `reachable on email`},
		{`Reachable ON "sms" and plan = "pro"`, `{"and":[{"reachable":"sms"},{"trait":"plan","op":"eq","value":"pro"}]}`, `reachable on sms and plan = "pro"`},
		{`not reachable on push or did "Signed Up"`, `{"or":[{"not":{"reachable":"push"}},{"event":"Signed Up"}]}`, `not reachable on push or did "Signed Up"`},
		// A trait of that name is still a trait.
		{`reachable = true`, `{"trait":"reachable","op":"eq","value":true}`, `reachable = true`},
	}
	for _, c := range cases {
		r, err := ParseText(c.text)
		if err != nil {
			t.Fatalf("%s: %v", c.text, err)
		}
		if got := js(r); got != c.json {
			t.Errorf("%s: %s, want %s", c.text, got, c.json)
		}
		if got := FormatText(r); got != c.back {
			t.Errorf("format %s: %s, want %s", c.json, got, c.back)
		}
	}
	for text, col := range map[string]int{`reachable on pigeon`: 14, `reachable on (`: 14} {
		_, err := ParseText(text)
		var te *TextError
		if !errors.As(err, &te) || te.Col != col {
			t.Errorf("%s: %v, want an error at column %d", text, err, col)
		}
	}
}

// A saved segment on reachability moves with SetReachable alone: the
// profile enters and leaves with transitions caused by the consent event,
// and segments that do not ask are not re-evaluated.
func TestReachableSegmentFollowsConsent(t *testing.T) {
	c := &clock{t: t0}
	e := NewEngine(Options{Now: c.now})
	e.Begin()
	e.Apply(track("p_1", "Signed Up", t0, nil))
	for _, d := range []Definition{
		{ID: "mailable", Rule: mustRule(t, `{"and":[{"reachable":"email"},{"event":"Signed Up"}]}`)},
		{ID: "signed", Rule: mustRule(t, `{"event":"Signed Up"}`)},
		{ID: "via-mailable", Rule: mustRule(t, `{"segment":"mailable"}`)},
	} {
		if _, err := e.Save(d); err != nil {
			t.Fatal(err)
		}
	}
	e.Transitions()
	evals := e.evals.Load()
	e.SetReachable("p_1", []string{"email", "sms"}, 41)
	tr := e.Transitions()
	if len(tr) != 2 || !tr[0].Entered || tr[0].Cause != "41" || tr[1].Segment != "via-mailable" {
		t.Fatalf("transitions = %+v, want p_1 into mailable and via-mailable, cause 41", tr)
	}
	if n := e.evals.Load() - evals; n != 2 {
		t.Errorf("%d evaluations, want 2 (the segments that read reachability)", n)
	}
	e.SetReachable("p_1", []string{"sms", "email"}, 42) // no change
	if tr := e.Transitions(); len(tr) != 0 {
		t.Fatalf("unchanged reachability made %+v", tr)
	}
	e.SetReachable("p_1", []string{"sms"}, 43)
	if in, _ := e.Contains("mailable", "p_1"); in {
		t.Fatal("still mailable after email consent went")
	}
	if tr := e.Transitions(); len(tr) != 2 || tr[0].Entered || tr[0].Cause != "43" {
		t.Fatalf("transitions = %+v, want exits caused by 43", tr)
	}
	// A merge: the survivor keeps its own answer until consent tells.
	e.SetReachable("p_2", []string{"email"}, 44)
	e.Apply(track("p_2", "Signed Up", t0, nil))
	ev, res := track("p_1", "Page Viewed", t0, nil)
	res.Merged = []string{"p_2"}
	e.Apply(ev, res)
	o, _ := e.ix.lookup("p_1")
	if e.ix.reachable(o, "email") {
		t.Error("the survivor took the merged profile's reachability")
	}
	if got := e.ix.reachBitmap("email").GetCardinality(); got != 0 {
		t.Errorf("email bitmap holds %d ords after the merge, want 0", got)
	}
	if in, _ := e.Contains("mailable", "p_1"); in {
		t.Error("the merged profile's reachability made the survivor mailable")
	}
}

// BenchmarkReachableCount counts "reachable on email" over 200,000
// profiles, a third of them told reachable, against the trait condition
// "email exists" on the same profiles (the baseline of the same run).
func BenchmarkReachableCount(b *testing.B) {
	const n = 200_000
	e := NewEngine(Options{})
	e.SetReachableByDefault([]string{"inapp", "webhook"})
	for i := range n {
		id := "p_" + strconv.Itoa(i)
		o := e.ix.ord(id)
		e.ix.setTraits(o, func(yield func(string, string) bool) { yield("email", `"`+id+`@example.com"`) })
		if i%3 == 0 {
			e.SetReachable(id, []string{"email", "inapp", "webhook"}, 0)
		}
	}
	at := time.Unix(genNow, 0)
	for _, tc := range []struct{ name, text string }{
		{"trait-exists", `email exists`},
		{"reachable", `reachable on email`},
		{"reachable-default", `reachable on inapp`},
		{"and", `email exists and reachable on email`},
	} {
		r, err := ParseText(tc.text)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := e.Count(r, at); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
