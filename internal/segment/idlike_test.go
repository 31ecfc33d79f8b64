package segment

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// A property whose values are mostly distinct (order and cart ids) stops
// being indexed once it is clearly an identifier, unless a saved segment
// reads it; rules on it are then refused with the reason, everything else
// evaluates as before, and the decision survives a checkpoint and load.
func TestIdentifierLikePropertiesAreDropped(t *testing.T) {
	defer func(old int) { idLikeMin = old }(idLikeMin)
	idLikeMin = 16

	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &clock{t: t0}
	e := NewEngine(Options{DB: db, Now: c.now})
	e.Begin()
	// A saved segment pins Order Completed's coupon, an identifier too.
	if _, err := e.Save(Definition{ID: "coupon", Rule: mustRule(t, `{"event":"Order Completed","where":[{"property":"coupon","op":"eq","value":"c-3"}]}`)}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 100 {
		id := fmt.Sprintf("p_%d", i%40)
		ids = append(ids, id)
		e.Apply(track(id, "Order Completed", t0.Add(-time.Duration(i)*time.Hour), map[string]any{
			"order_id": fmt.Sprintf("o-%d", i), "coupon": fmt.Sprintf("c-%d", i), "currency": []string{"EUR", "USD"}[i%2],
			"products": []any{map[string]any{"sku": fmt.Sprintf("s-%d", i), "category": "Hats"}, map[string]any{"sku": fmt.Sprintf("t-%d", i), "category": "Bags"}},
		}))
	}
	s := e.ix.streams["Order Completed"]
	for path, want := range map[string]bool{"order_id": true, "products[].sku": true, "coupon": false, "currency": false, "products[].category": false} {
		if got := s.cols[path].dropped; got != want {
			t.Errorf("%s dropped = %v, want %v", path, got, want)
		}
	}
	check := func(e *Engine) {
		t.Helper()
		for _, tc := range []struct {
			rule, err string
			want      int
		}{
			{rule: `{"event":"Order Completed","where":[{"property":"order_id","op":"eq","value":"o-1"}]}`, err: "/where/0/property: property \"order_id\" of \"Order Completed\" is not indexed: most of its values are distinct"},
			{rule: `{"event":"Order Completed","where":[{"property":"products[].sku","op":"exists"}]}`, err: "not indexed"},
			{rule: `{"event":"Order Completed","measure":"sum","of":"order_id","op":"gt","value":0}`, err: "/of: property \"order_id\""},
			{rule: `{"event":"Order Completed","where":[{"property":"coupon","op":"eq","value":"c-3"}]}`, want: 1},
			{rule: `{"event":"Order Completed","where":[{"property":"products[].category","op":"eq","value":"bags"},{"property":"currency","op":"eq","value":"USD"}]}`, want: 20},
		} {
			n, err := e.Count(mustRule(t, tc.rule), c.t)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("%s: err %v, want one with %q", tc.rule, err, tc.err)
			case tc.err == "" && (err != nil || n != tc.want):
				t.Errorf("%s: %d, %v; want %d", tc.rule, n, err, tc.want)
			}
		}
	}
	check(e)
	b := db.NewBatch()
	if err := e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	back := NewEngine(Options{DB: db, Profiles: idsOnly(ids), Now: c.now})
	if err := back.Load(t.Context(), nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	back.Begin()
	if !back.ix.streams["Order Completed"].cols["order_id"].dropped {
		t.Error("order_id is indexed again after a load")
	}
	check(back)
	if in, _ := back.Contains("coupon", "p_3"); !in {
		t.Error("p_3 used coupon c-3 but is not in the segment after a load")
	}
}
