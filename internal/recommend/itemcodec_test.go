package recommend

import (
	"reflect"
	"testing"
)

func TestItemRecordRoundTripAndTruncation(t *testing.T) {
	e, _ := newTestEngine(t0, Options{})
	playShop(e)
	it := e.items[e.ids["phone"]]
	b := appendItem(nil, it, e.items)
	r, err := decodeItem(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float32{}
	for _, oc := range it.co[kindBuy] {
		want[e.items[oc.o].id] = oc.c
	}
	if r.Name != it.name || r.Category != it.category || r.Price != it.price || r.N != it.n || r.Sold != it.sold ||
		!reflect.DeepEqual(r.Co[kindBuy], want) {
		t.Errorf("round trip: %+v, want the item %+v", r, it)
	}
	// Every shorter record is refused, never read as a smaller item.
	for n := range len(b) {
		if _, err := decodeItem(b[:n]); err == nil {
			t.Fatalf("a record cut at %d of %d bytes decoded", n, len(b))
		}
	}
	if _, err := decodeItem(append(b, 0)); err == nil {
		t.Error("trailing bytes accepted")
	}
}

func FuzzDecodeItem(f *testing.F) {
	e, _ := newTestEngine(t0, Options{})
	playShop(e)
	f.Add(appendItem(nil, e.items[e.ids["phone"]], e.items))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeItem(b) // must not panic
	})
}
