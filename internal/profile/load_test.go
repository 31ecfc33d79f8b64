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
