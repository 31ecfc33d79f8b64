package consent

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/arena/arenatest"
	"tailor/internal/profile"
	"tailor/internal/store"
)

// BenchmarkGCWithConsent measures what the loaded consent of many profiles
// costs one full collection (the fact table holds no pointer per profile).
// Every profile has the sample state: two consents and a suppression with
// its own address.
//
//	go test -run '^$' -bench GCWithConsent -benchtime 20x ./internal/consent/
func BenchmarkGCWithConsent(b *testing.B) {
	const n = 300_000
	db, err := store.Open(b.TempDir(), 8<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	c := New(db, nil, Options{})
	batch := db.NewBatch()
	st := sampleState()
	for i := range n {
		for ch, x := range st.Suppressed {
			x.Address = fmt.Sprintf("u%d@example.org", i)
			st.Suppressed[ch] = x
		}
		if err := batch.Set(store.Key(store.PrefixConsent, fmt.Sprintf("p_%08d", i)), appendRecord(nil, c.pack(&st)), nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		b.Fatal(err)
	}
	c = New(db, nil, Options{})
	if err := c.Load(); err != nil {
		b.Fatal(err)
	}
	if c.facts.len() != n {
		b.Fatalf("loaded %d states, want %d", c.facts.len(), n)
	}
	arenatest.Collect(b, c, n, "profile")
}

// TestPackedLoadKeepsNeighbours: states loaded into the fact table stay each
// their own when one of them changes after the load.
func TestPackedLoadKeepsNeighbours(t *testing.T) {
	w := newWorld(t, Options{})
	s := sampleState()
	for _, id := range []string{"p_ann", "p_bob", "p_cat"} {
		if err := w.db.Set(store.Key(store.PrefixConsent, id), appendRecord(nil, w.c.pack(&s)), nil); err != nil {
			t.Fatal(err)
		}
	}
	c := New(w.db, w, Options{})
	if err := c.Load(); err != nil {
		t.Fatal(err)
	}
	before := c.Get("p_cat")
	for _, ch := range []string{"email", "sms", "push"} {
		c.Apply(track_(EventChanged, map[string]any{"channel": ch, "granted": false}), profile.Resolution{Profile: "p_bob"})
	}
	if got := c.Get("p_ann"); !reflect.DeepEqual(got, s) {
		t.Errorf("p_ann changed with p_bob:\n got %+v\nwant %+v", got, s)
	}
	if got := c.Get("p_cat"); !reflect.DeepEqual(got, before) {
		t.Errorf("p_cat changed with p_bob:\n got %+v\nwant %+v", got, before)
	}
	for _, ch := range []string{"email", "sms"} {
		if ok, _ := c.Allowed("p_bob", ch, "marketing"); ok {
			t.Errorf("p_bob still allowed %s marketing after opting out", ch)
		}
	}
}
