package profile

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"tailor/internal/event"
)

// keys returns n trait keys prefix000, prefix001, ..., each set to "v".
func keys(prefix string, n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprintf("%s%03d", prefix, i)] = "v"
	}
	return m
}

// named returns one track event per name prefix000..., at second sec.
func named(prefix string, n, sec int, category bool) []*event.Event {
	var evs []*event.Event
	for i := range n {
		name := fmt.Sprintf("%s%03d", prefix, i)
		if category {
			evs = append(evs, trackEvent(fmt.Sprint(prefix, "-m", i), atSec(sec), event.ProductViewed, map[string]any{"category": name}))
		} else {
			evs = append(evs, trackEvent(fmt.Sprint(prefix, "-m", i), atSec(sec), name, nil))
		}
	}
	return evs
}

func TestLimits(t *testing.T) {
	quotes := func(n int) string { return strings.Repeat(`"`, n) } // each encodes as 2 bytes
	tests := []struct {
		name    string
		evs     []*event.Event
		refused Refused // summed over Apply in order
		check   func(s *State) string
	}{
		{"a new trait key ranking last is refused", []*event.Event{
			identifyEvent("a", atSec(1), keys("k", MaxTraits)),
			identifyEvent("b", atSec(2), map[string]any{"zzz": "v"}),
		}, Refused{Traits: 1}, func(s *State) string {
			if _, ok := s.Trait("zzz"); ok || len(s.traits) != MaxTraits {
				return "zzz kept"
			}
			return ""
		}},
		{"a smaller trait key displaces the last", []*event.Event{
			identifyEvent("a", atSec(1), keys("k", MaxTraits)),
			identifyEvent("b", atSec(2), map[string]any{"a": "v"}),
		}, Refused{Traits: 1}, func(s *State) string {
			_, a := s.Trait("a")
			_, last := s.Trait(fmt.Sprintf("k%03d", MaxTraits-1))
			if !a || last || len(s.traits) != MaxTraits {
				return fmt.Sprintf("a %v, last %v", a, last)
			}
			return ""
		}},
		{"identity traits rank first", []*event.Event{
			identifyEvent("a", atSec(1), keys("a", MaxTraits)),
			identifyEvent("b", atSec(2), map[string]any{"email": "x@example.com", "phone": "+33100000000"}),
			identifyEvent("c", atSec(3), keys("0", 20)),
		}, Refused{Traits: 22}, func(s *State) string {
			email, _ := s.TraitString("email")
			phone, _ := s.TraitString("phone")
			if email != "x@example.com" || phone != "+33100000000" || len(s.traits) != MaxTraits {
				return fmt.Sprintf("email %q phone %q, %d traits", email, phone, len(s.traits))
			}
			return ""
		}},
		{"removed traits count", []*event.Event{
			identifyEvent("a", atSec(1), keys("k", MaxTraits-1)),
			identifyEvent("b", atSec(2), map[string]any{"k900": nil}),
			identifyEvent("c", atSec(3), map[string]any{"zzz": "v"}),
		}, Refused{Traits: 1}, func(s *State) string {
			if _, ok := s.Trait("zzz"); ok {
				return "zzz kept"
			}
			return ""
		}},
		{"a value at 4 KB encoded is kept", []*event.Event{
			identifyEvent("a", atSec(1), map[string]any{"bio": strings.Repeat("x", MaxTraitValueBytes-2)}),
		}, Refused{}, func(s *State) string {
			if j, _ := s.TraitJSON("bio"); len(j) != MaxTraitValueBytes {
				return fmt.Sprintf("bio is %d bytes", len(j))
			}
			return ""
		}},
		{"a longer value is refused and the trait keeps its value", []*event.Event{
			identifyEvent("a", atSec(1), map[string]any{"bio": "short"}),
			identifyEvent("b", atSec(2), map[string]any{"bio": strings.Repeat("x", MaxTraitValueBytes-1)}),
		}, Refused{TraitSize: 1}, func(s *State) string {
			if v, _ := s.TraitString("bio"); v != "short" {
				return "bio " + v
			}
			return ""
		}},
		{"size is measured encoded", []*event.Event{
			identifyEvent("a", atSec(1), map[string]any{"ok": quotes(MaxTraitValueBytes/2 - 1), "big": quotes(MaxTraitValueBytes / 2)}),
		}, Refused{TraitSize: 1}, func(s *State) string {
			_, ok := s.Trait("ok")
			_, big := s.Trait("big")
			if !ok || big {
				return fmt.Sprintf("ok %v big %v", ok, big)
			}
			return ""
		}},
		{"a key over 1 KB is refused", []*event.Event{
			identifyEvent("a", atSec(1), map[string]any{strings.Repeat("k", MaxTraitKeyBytes): 1.0, strings.Repeat("k", MaxTraitKeyBytes+1): 2.0}),
		}, Refused{TraitSize: 1}, func(s *State) string {
			if len(s.traits) != 1 {
				return fmt.Sprintf("%d traits", len(s.traits))
			}
			return ""
		}},
		{"a new event name ranking last is refused but counted in event_count", append(named("e", MaxEventNames, 1, false),
			trackEvent("z", atSec(2), "zzz", nil)), Refused{EventNames: 1}, func(s *State) string {
			if s.EventNameCount("zzz") != 0 || s.EventCount() != MaxEventNames+1 || s.TypeCount(event.Track) != MaxEventNames+1 {
				return "zzz counted by name, or not at all"
			}
			return ""
		}},
		{"a smaller event name displaces the last", append(named("e", MaxEventNames, 1, false),
			trackEvent("z", atSec(2), "A", nil)), Refused{EventNames: 1}, func(s *State) string {
			if s.EventNameCount("A") != 1 || s.EventNameCount(fmt.Sprintf("e%03d", MaxEventNames-1)) != 0 {
				return "A not counted, or the last name kept"
			}
			return ""
		}},
		{"categories", append(named("c", MaxCategories, 1, true),
			trackEvent("z1", atSec(2), event.ProductAdded, map[string]any{"category": "zzz"}),
			trackEvent("z2", atSec(2), event.ProductAdded, map[string]any{"category": "A"})),
			Refused{Categories: 2}, func(s *State) string {
				if s.CategoryWeight("zzz") != 0 || s.CategoryWeight("A") != weightAdd || s.FavouriteCategory() != "A" {
					return fmt.Sprintf("zzz %d A %d favourite %s", s.CategoryWeight("zzz"), s.CategoryWeight("A"), s.FavouriteCategory())
				}
				return ""
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			var refused Refused
			for _, e := range tc.evs {
				refused = refused.Add(s.Apply(e))
			}
			if refused != tc.refused {
				t.Errorf("refused %+v, want %+v", refused, tc.refused)
			}
			if msg := tc.check(&s); msg != "" {
				t.Error(msg)
			}
			if !stateOf(reversed(tc.evs)...).Equal(&s) {
				t.Error("state depends on order")
			}
		})
	}
}

func TestMergeReportsLimits(t *testing.T) {
	a := stateOf(append(named("x", 300, 1, false), identifyEvent("a", atSec(1), keys("a", 300)))...)
	b := stateOf(append(named("y", 300, 1, false), identifyEvent("b", atSec(1), keys("b", 300)))...)
	got := a.Merge(b)
	if want := (Refused{Traits: 100, EventNames: 100}); got != want || !got.Any() {
		t.Errorf("Merge refused %+v, want %+v", got, want)
	}
	if len(a.traits) != MaxTraits || len(a.eventCounts) != MaxEventNames {
		t.Errorf("%d traits, %d names after merge", len(a.traits), len(a.eventCounts))
	}
	if _, ok := a.Trait("b199"); !ok {
		t.Error("b199 dropped")
	}
	if _, ok := a.Trait("b200"); ok {
		t.Error("b200 kept")
	}
}

func TestIdentityTraitTrust(t *testing.T) {
	id := func(msg string, sec int, trust event.Trust, traits map[string]any) *event.Event {
		e := identifyEvent(msg, atSec(sec), traits)
		e.Trust = trust
		return e
	}
	const server, client = event.TrustServer, event.TrustClient
	tests := []struct {
		name string
		evs  []*event.Event
		want string // the traits as JSON
	}{
		{"server beats a later client", []*event.Event{
			id("a", 1, server, map[string]any{"email": "a@example.com"}),
			id("b", 2, client, map[string]any{"email": "b@example.com"}),
		}, `{"email":"a@example.com"}`},
		{"server beats an earlier client", []*event.Event{
			id("a", 1, client, map[string]any{"phone": "+1111111"}),
			id("b", 2, server, map[string]any{"phone": "+2222222"}),
		}, `{"phone":"+2222222"}`},
		{"later server wins among servers", []*event.Event{
			id("a", 2, server, map[string]any{"email": "new@example.com"}),
			id("b", 1, server, map[string]any{"email": "old@example.com"}),
		}, `{"email":"new@example.com"}`},
		{"later client wins while no server wrote", []*event.Event{
			id("a", 1, client, map[string]any{"email": "a@example.com"}),
			id("b", 2, client, map[string]any{"email": "b@example.com"}),
		}, `{"email":"b@example.com"}`},
		{"equal times between clients: messageId", []*event.Event{
			id("m1", 1, client, map[string]any{"email": "one@example.com"}),
			id("m10", 1, client, map[string]any{"email": "ten@example.com"}),
		}, `{"email":"ten@example.com"}`},
		{"a client null cannot remove a server email", []*event.Event{
			id("a", 1, server, map[string]any{"email": "a@example.com"}),
			id("b", 2, client, map[string]any{"email": nil}),
		}, `{"email":"a@example.com"}`},
		{"a server null beats a later client write", []*event.Event{
			id("a", 1, server, map[string]any{"email": nil}),
			id("b", 2, client, map[string]any{"email": "b@example.com"}),
		}, `{}`},
		{"other traits ignore trust", []*event.Event{
			id("a", 1, server, map[string]any{"name": "Ann", "Email": "a@example.com"}),
			id("b", 2, client, map[string]any{"name": "Bob", "Email": "b@example.com"}),
		}, `{"Email":"b@example.com","name":"Bob"}`},
		{"unknown trust levels count as client", []*event.Event{
			id("a", 1, server, map[string]any{"email": "a@example.com"}),
			id("b", 2, event.Trust(7), map[string]any{"email": "b@example.com"}),
		}, `{"email":"a@example.com"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := stateOf(tc.evs...)
			if got := jsonOf(t, s.View().Traits); got != tc.want {
				t.Errorf("traits %s, want %s", got, tc.want)
			}
			if !stateOf(reversed(tc.evs)...).Equal(s) {
				t.Error("state depends on order")
			}
			merged := stateOf(tc.evs[1:]...)
			merged.Merge(stateOf(tc.evs[0]))
			if !merged.Equal(s) {
				t.Error("merge differs")
			}
			var back State
			if b, _ := s.MarshalBinary(); back.UnmarshalBinary(b) != nil || !back.Equal(s) {
				t.Error("trust does not round-trip")
			}
		})
	}
}

// TestRevenueSumIsExact checks revenue sums past int64 and 2^64: exact,
// independent of order and grouping, and kept by the codec.
func TestRevenueSumIsExact(t *testing.T) {
	orders := func(n int, amount float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = amount
		}
		return out
	}
	const max = 1e11 // currency units: event.MaxMicros
	tests := []struct {
		name    string
		amounts []float64
		fits    bool
	}{
		{"largest that fits an int64", orders(92, max), true},
		{"past int64", orders(93, max), false},
		{"past 2^64", orders(185, max), false},
		{"negative past int64", orders(200, -max), false},
		{"clamped amounts", orders(100, 1e15), false},
		{"up and back down", slices.Concat(orders(200, max), orders(200, -max), []float64{0.000001}), true},
		{"one micro above a huge sum", slices.Concat(orders(150, max), []float64{0.000001}), false},
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var evs []*event.Event
			want := new(big.Int)
			for i, a := range tc.amounts {
				evs = append(evs, trackEvent(fmt.Sprint("o", i), atSec(i%50), event.OrderCompleted, map[string]any{"revenue": a}))
				want.Add(want, big.NewInt(event.Micros(a)))
			}
			s := stateOf(evs...)
			wantFloat, _ := new(big.Float).SetInt(want).Float64()
			if s.Revenue() != wantFloat/1e6 {
				t.Errorf("Revenue %v, want %v", s.Revenue(), wantFloat/1e6)
			}
			if c := s.View().Computed; c.TotalRevenue != s.Revenue() || c.AverageOrderValue != s.Revenue()/float64(len(tc.amounts)) {
				t.Errorf("view total %v aov %v", c.TotalRevenue, c.AverageOrderValue)
			}
			m, ok := s.RevenueMicros()
			if ok != tc.fits || ok && m != want.Int64() {
				t.Errorf("RevenueMicros = %d, %v; want %s, fits %v", m, ok, want, tc.fits)
			}
			got := new(big.Int).Lsh(big.NewInt(s.revenue.hi), 64)
			if got.Add(got, new(big.Int).SetUint64(s.revenue.lo)); got.Cmp(want) != 0 {
				t.Errorf("sum %s, want %s", got, want)
			}
			perm := slices.Clone(evs)
			r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			split := r.IntN(len(perm))
			merged := stateOf(perm[:split]...)
			merged.Merge(stateOf(perm[split:]...))
			var back State
			b, _ := s.MarshalBinary()
			if !merged.Equal(s) || back.UnmarshalBinary(b) != nil || !back.Equal(s) {
				t.Error("order, merge or codec changes the sum")
			}
		})
	}
}
