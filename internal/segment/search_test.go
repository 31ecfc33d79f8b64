package segment

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"tailor/internal/event"
	"tailor/internal/profile"
)

func TestSearchTraitMatchesThroughTheDictionary(t *testing.T) {
	e := shopEngine(t, 8)
	for pid, traits := range map[string]map[string]any{
		"p_1": {"email": "Ann@Example.com", "plan": "Pro"},
		"p_2": {"plan": "pro-trial"},
		"p_3": {"plan": "PRO"},
		"p_4": {"plan": "enterprise"},
		"p_5": {"age": 42},
		"p_6": {"vip": true, "plan": "Pro"},
		"p_7": {"tags": []any{"Gold", "x"}},
	} {
		setTraits(t, e, pid, traits)
	}
	// p_6 is merged into p_8: its traits leave the index with it.
	ev := event.Event{Type: event.Page, Timestamp: httpNow}
	e.Apply(&ev, profile.Resolution{Profile: "p_8", Merged: []string{"p_6"}})

	tests := []struct {
		name, key, op, value string
		limit                int
		want                 []string
	}{
		{"eq ignores case", "plan", "eq", "pro", 10, []string{"p_1", "p_3"}},
		{"empty op is eq", "plan", "", "PRO", 10, []string{"p_1", "p_3"}},
		{"prefix", "plan", "prefix", "Pro", 10, []string{"p_1", "p_2", "p_3"}},
		{"contains", "plan", "contains", "ERP", 10, []string{"p_4"}},
		{"contains on an email", "email", "contains", "example.COM", 10, []string{"p_1"}},
		{"a number by its JSON text", "age", "eq", "42", 10, []string{"p_5"}},
		{"a list by its JSON text", "tags", "contains", `"gold"`, 10, []string{"p_7"}},
		{"a merged-away profile is not found", "vip", "eq", "true", 10, []string{}},
		{"limit", "plan", "prefix", "pro", 2, []string{"p_1", "p_2"}},
		{"no match", "plan", "eq", "basic", 10, []string{}},
		{"no such trait", "colour", "eq", "red", 10, []string{}},
		{"empty value, prefix matches all set", "plan", "prefix", "", 10, []string{"p_1", "p_2", "p_3", "p_4"}},
	}
	for _, tt := range tests {
		got, err := e.SearchTrait(tt.key, tt.op, tt.value, tt.limit)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: SearchTrait(%q, %q, %q) = %q, %v; want %q", tt.name, tt.key, tt.op, tt.value, got, err, tt.want)
		}
	}
	if _, err := e.SearchTrait("plan", "like", "pro", 10); err == nil || !strings.Contains(err.Error(), `"like"`) {
		t.Errorf("unknown op: %v, want an error naming it", err)
	}
}

// BenchmarkSearchTrait compares the index's search with the profile
// store's scan, which it replaces, on the same profiles: one email each,
// one plan of four.
func BenchmarkSearchTrait(b *testing.B) {
	const n = 50_000
	st := profile.NewStore()
	e := NewEngine(Options{Profiles: st})
	at := httpNow
	for i := range n {
		ev := event.Event{Type: event.Identify, UserID: fmt.Sprintf("u%d", i), MessageID: fmt.Sprintf("m%d", i),
			Traits:    map[string]any{"email": fmt.Sprintf("user%d@example.com", i), "plan": []string{"free", "pro", "team", "enterprise"}[i%4]},
			Timestamp: at, ReceivedAt: at, Seq: uint64(i + 1)}
		e.Apply(&ev, st.Apply(&ev))
	}
	for _, bc := range []struct{ name, trait, value string }{
		{"rare", "email", "user4242@example.com"},
		{"common", "plan", "pro"},
	} {
		b.Run("index/"+bc.name, func(b *testing.B) {
			for b.Loop() {
				if ids, err := e.SearchTrait(bc.trait, SearchEq, bc.value, 50); err != nil || len(ids) == 0 {
					b.Fatal(ids, err)
				}
			}
		})
		b.Run("store/"+bc.name, func(b *testing.B) {
			for b.Loop() {
				if len(st.Search(bc.trait, bc.value, 50)) == 0 {
					b.Fatal("no match")
				}
			}
		})
	}
}
