package profile

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/store"
)

// TestLoadEachInKeyOrder: a load of several chunks' worth of profiles
// (decoded in parallel) hands every profile to fn once, in key order, with
// its state; a corrupt record fails the load and names its profile.
func TestLoadEachInKeyOrder(t *testing.T) {
	db := openTestDB(t)
	src := NewStore()
	const n = 3*loadChunkRecords + 17
	var evs []*event.Event
	for i := range n {
		evs = append(evs, &event.Event{Seq: uint64(i + 1), Type: event.Track, MessageID: fmt.Sprint("m", i), UserID: fmt.Sprint("u", i),
			Timestamp: time.Unix(1700000000+int64(i), 0).UTC(), Event: "Viewed", Properties: map[string]any{"n": float64(i)}})
	}
	checkpoint(t, src, db, evs...)

	dst := NewStore()
	var ids []string
	counts := map[string]int{}
	if err := dst.LoadEach(db, func(id string, st *State) {
		ids = append(ids, id)
		counts[id] = st.EventNameCount("Viewed")
	}); err != nil {
		t.Fatal(err)
	}
	if len(ids) != n || dst.Len() != n {
		t.Fatalf("loaded %d profiles (store holds %d), want %d", len(ids), dst.Len(), n)
	}
	if !slices.IsSorted(ids) {
		t.Error("profiles not handed over in key order")
	}
	for id, c := range counts {
		if c != 1 {
			t.Fatalf("profile %s: %d Viewed, want 1", id, c)
		}
	}
	if d := Diff(src, dst, 3); len(d) > 0 {
		t.Fatalf("loaded store differs:\n%s", strings.Join(d, "\n"))
	}

	bad := ids[2*loadChunkRecords+5]
	if err := db.Set([]byte(store.PrefixProfile+bad), []byte{profileVersion, 0xff}, nil); err != nil {
		t.Fatal(err)
	}
	err := NewStore().LoadEach(db, nil)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("load over a corrupt record: %v, want an error naming %s", err, bad)
	}
}

// TestLoadedProfilesChangeApart: a load packs the profiles' identifiers and
// states side by side (loadArena); changing some of them (a new trait, a
// new identifier, evictions that re-encode) leaves their neighbours as they
// were, and a checkpoint and a second load give the same store as applying
// everything to one never reloaded.
func TestLoadedProfilesChangeApart(t *testing.T) {
	db := openTestDB(t)
	src := NewStore()
	const n = 2*loadChunkRecords + 9
	ev := func(seq, i int, traits map[string]any) *event.Event {
		return &event.Event{Seq: uint64(seq), Type: event.Identify, MessageID: fmt.Sprint("m", seq), UserID: fmt.Sprint("u", i),
			Timestamp: time.Unix(1700000000+int64(seq), 0).UTC(), Traits: traits}
	}
	var first []*event.Event
	for i := range n {
		first = append(first, ev(i+1, i, map[string]any{"plan": "free", "n": float64(i)}))
	}
	checkpoint(t, src, db, first...)

	dst := NewStore()
	dst.SetHot(7) // every change past the seventh profile evicts and re-encodes one
	if err := dst.Load(db); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 3 {
		e := ev(n+1+i, i, map[string]any{"plan": "a much longer plan name than free", "email": fmt.Sprintf("u%d@example.org", i)})
		src.apply(e)
		dst.apply(e)
	}
	if d := Diff(src, dst, 3); len(d) > 0 {
		t.Fatalf("store changed after its load differs:\n%s", strings.Join(d, "\n"))
	}
	checkpoint(t, dst, db)
	again := NewStore()
	if err := again.Load(db); err != nil {
		t.Fatal(err)
	}
	if d := Diff(src, again, 3); len(d) > 0 {
		t.Fatalf("reloaded store differs:\n%s", strings.Join(d, "\n"))
	}
}
