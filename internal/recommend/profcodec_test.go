package recommend

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store/storetest"
)

// recordOf is what a profile record must hold for p: its sections, items
// named by product id.
func recordOf(p profRef, items []*item) profRecord {
	var r profRecord
	for _, s := range [...]struct {
		ts  []touch
		out *[]touchRecord
	}{{p.views(), &r.Views}, {p.carts(), &r.Carts}, {p.buys(), &r.Buys}} {
		for _, t := range s.ts {
			*s.out = append(*s.out, touchRecord{items[t.Item].id, t.T})
		}
	}
	for _, f := range p.freq() {
		r.Freq = append(r.Freq, boughtRecord{items[f.Item].id, f.N, f.First, f.Last})
	}
	return r
}

func TestProfRecordRoundTripAndTruncation(t *testing.T) {
	e, _ := newTestEngine(t0, Options{})
	playShop(e)
	view(e, "m5", t0.Add(-time.Hour), jacket) // a profile with views, carts and purchases
	cart(e, "m5", t0.Add(-time.Hour), hat)
	p := e.profiles.at(e.profiles.find("m5"))
	want := recordOf(p, e.items)
	if len(want.Views) == 0 || len(want.Carts) == 0 || len(want.Buys) == 0 || len(want.Freq) == 0 {
		t.Fatalf("the test profile lacks a section: %+v", want)
	}
	b := appendProf(nil, p.hist(), e.items)
	var got profRecord
	if err := decodeProf(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// Every shorter record is refused, never read as a smaller history.
	for n := range len(b) {
		if err := decodeProf(b[:n], &got); err == nil {
			t.Fatalf("a record cut at %d of %d bytes decoded", n, len(b))
		}
	}
	if err := decodeProf(append(b, 0), &got); err == nil {
		t.Error("trailing bytes accepted")
	}
}

// TestLoadReadsJSONProfileRecords: a store checkpointed before the binary
// format keeps its histories, and its first load rewrites them binary.
func TestLoadReadsJSONProfileRecords(t *testing.T) {
	events := randomEvents(2000)
	now := t0.AddDate(0, 3, 0)
	db := storetest.MemDB(t)
	opts := Options{Neighbours: 4, History: 8, Distinct: 6, DB: db}
	e, _ := newTestEngine(now, opts)
	for _, ev := range events {
		ev(e)
	}
	want := answers(t, e)
	cp := db.NewBatch()
	if err := e.Checkpoint(cp); err != nil {
		t.Fatal(err)
	}
	if err := cp.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	// Rewrite every profile record as the JSON the engine wrote before.
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(profPrefix), UpperBound: []byte(profPrefix + "\xff")})
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		var r profRecord
		if err := decodeProf(it.Value(), &r); err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(r)
		if err := b.Set(append([]byte(nil), it.Key()...), js, nil); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("only %d profile records: the test shows little", n)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}

	restored, _ := newTestEngine(now, opts)
	if err := restored.Load(); err != nil {
		t.Fatal(err)
	}
	got := answers(t, restored)
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s after loading JSON records:\n got %v\nwant %v", k, ids(got[k]), ids(w))
		}
	}
	// The load rewrote every record in the binary format, once.
	n = 0
	it, err = db.NewIter(&pebble.IterOptions{LowerBound: []byte(profPrefix), UpperBound: []byte(profPrefix + "\xff")})
	if err != nil {
		t.Fatal(err)
	}
	for it.First(); it.Valid(); it.Next() {
		if it.Value()[0] != profVersion {
			t.Errorf("%s is still %.20q after the load", it.Key(), it.Value())
		}
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if n != e.profiles.len() {
		t.Errorf("%d profile records after the rewrite, want %d", n, e.profiles.len())
	}
	again, _ := newTestEngine(now, opts)
	if err := again.Load(); err != nil {
		t.Fatal(err)
	}
	for id, p := range e.profiles.all() {
		if w, g := recordOf(p, e.items), recordOf(again.profiles.get(id), again.items); !reflect.DeepEqual(g, w) {
			t.Fatalf("profile %s loaded from the rewritten record:\n got %+v\nwant %+v", id, g, w)
		}
	}
	for id, p := range e.profiles.all() {
		rp := restored.profiles.get(id)
		if rp.prof == nil {
			t.Fatalf("profile %s lost", id)
		}
		if w, g := recordOf(p, e.items), recordOf(rp, restored.items); !reflect.DeepEqual(g, w) {
			t.Fatalf("profile %s after loading JSON:\n got %+v\nwant %+v", id, g, w)
		}
	}
}

func FuzzDecodeProf(f *testing.F) {
	e, _ := newTestEngine(t0, Options{})
	playShop(e)
	f.Add(appendProf(nil, e.profiles.at(e.profiles.find("m5")).hist(), e.items))
	f.Add([]byte(`{"v":[{"i":"a","t":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r profRecord
		_ = decodeProf(b, &r) // must not panic
	})
}
