package segment

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fast path's members equal those of SQLite running the SQL statement
// of the same rule over the same profiles and events: an engine that shares
// no code with ours, fed the rule's documented semantics.
func TestSQLEqualsFastPath(t *testing.T) {
	// Under -race SQLite runs about 100 times slower: 6 × 50 profiles and
	// 180 compared rules a seed keep the test near 12 s on 2 cores.
	const (
		seeds    = 6
		profiles = 50
		perSeed  = 180
	)
	db := openSQL(t)
	now := time.Unix(genNow, 0)
	compared, skipped, empty, nonEmpty, mismatches := 0, 0, 0, 0, 0
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 20261201))
		ps := randomProfiles(rng, profiles, genNow)
		e := buildIndex(t, rng, ps)
		loadSQL(t, db, ps)
		for n := 0; n < perSeed; {
			r := randomRule(rng, 1+rng.IntN(4))
			query, args, err := sqlRule(r, genNow)
			if errors.Is(err, errSQLUnsupported) {
				skipped++
				continue
			}
			if err != nil {
				t.Fatalf("rule %s: %v", js(r), err)
			}
			want, err := queryIDs(db, query, args)
			if err != nil {
				t.Fatalf("rule %s: %v\nSQL %s\nargs %v", js(r), err, query, args)
			}
			b, err := newEvaluation(e.ix, now, nil, false).rule(r, "")
			if err != nil {
				t.Fatalf("rule %s: fast path: %v", js(r), err)
			}
			n++
			compared++
			if len(want) == 0 {
				empty++
			} else {
				nonEmpty++
			}
			var diff []*RefProfile
			for _, p := range ps {
				o, ok := e.ix.lookup(p.ID)
				if got := ok && b.Contains(o); got != want[p.ID] {
					diff = append(diff, p)
				}
			}
			if len(diff) == 0 {
				continue
			}
			mismatches++
			if mismatches <= 3 {
				t.Errorf("seed %d: SQL and the fast path differ on %d profiles\nrule %s\nSQL %s\nargs %v\n%s",
					seed, len(diff), js(r), query, args, describeProfiles(diff, want, 3))
			}
		}
	}
	t.Logf("%d rules compared (%d with no member, %d with some), %d not translated, %d mismatches",
		compared, empty, nonEmpty, skipped, mismatches)
	if mismatches > 0 {
		t.Fatalf("%d of %d rules differ", mismatches, compared)
	}
	// Too few comparisons, or only one outcome, would prove little.
	if compared < 1000 || empty == 0 || nonEmpty == 0 {
		t.Fatalf("%d rules compared, %d empty, %d non-empty: want 1000, both outcomes", compared, empty, nonEmpty)
	}
}

// describeProfiles prints up to n of ps with what SQL says of them, their
// traits and their events in time order.
func describeProfiles(ps []*RefProfile, inSQL map[string]bool, n int) string {
	var b strings.Builder
	for _, p := range ps[:min(n, len(ps))] {
		fmt.Fprintf(&b, "profile %s: SQL %v\n  traits %v\n", p.ID, inSQL[p.ID], p.Traits)
		evs := slices.Clone(p.Events)
		slices.SortFunc(evs, func(a, b RefEvent) int { return int(a.Time - b.Time) })
		for _, e := range evs {
			fmt.Fprintf(&b, "  %s (now%+ds) %q %v\n", time.Unix(e.Time, 0).UTC().Format(time.RFC3339), e.Time-genNow, e.Key, e.Properties)
		}
	}
	return b.String()
}
