package segment

import (
	"errors"
	"reflect"
	"testing"
)

func TestProfileViewListsMembershipsAndFigures(t *testing.T) {
	e := shopEngine(t, 5)
	e.RefreshModels(httpNow) // the quintiles RFM scores are read against
	for _, d := range []Definition{
		{ID: "buyers", Name: "Buyers", Rule: &Rule{Computed: "orders", Op: Gte, Value: 1.0}},
		{ID: "all", Name: "Everyone", Rule: &Rule{Computed: "event_count", Op: Gte, Value: 1.0}},
		{ID: "big", Name: "Big spenders", Rule: &Rule{Computed: "total_spend", Op: Gte, Value: 100.0}},
	} {
		if _, err := e.Save(d); err != nil {
			t.Fatalf("save %s: %v", d.ID, err)
		}
	}
	tests := []struct {
		profile  string
		segments []SegmentRef
		orders   any // the computed "orders" field
		hasRFM   bool
	}{
		{"p_1", []SegmentRef{{"all", "Everyone"}, {"big", "Big spenders"}, {"buyers", "Buyers"}}, 1.0, true},
		{"p_3", []SegmentRef{{"all", "Everyone"}, {"buyers", "Buyers"}}, 1.0, true},
		{"p_4", []SegmentRef{{"all", "Everyone"}}, 0.0, false},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			v, err := e.ProfileView(tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v.Segments, tt.segments) {
				t.Errorf("segments = %v, want %v", v.Segments, tt.segments)
			}
			if got := v.Computed["orders"]; got != tt.orders {
				t.Errorf("computed orders = %#v, want %#v", got, tt.orders)
			}
			if _, ok := v.Computed[FieldRFM]; ok != tt.hasRFM {
				t.Errorf("has %s = %v, want %v (computed %v)", FieldRFM, ok, tt.hasRFM, v.Computed)
			}
			if _, ok := v.Computed[FieldLifecycle]; !ok {
				t.Errorf("no %s in %v", FieldLifecycle, v.Computed)
			}
		})
	}
	if _, err := e.ProfileView("p_404"); !errors.Is(err, ErrNoProfile) {
		t.Errorf("unknown profile: err = %v, want ErrNoProfile", err)
	}
}
