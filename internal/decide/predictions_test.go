package decide

import (
	"testing"

	"tailor/internal/segment"
)

// fakePredictions answers model outputs from a table and counts the reads.
type fakePredictions struct {
	values map[string]map[string]float64 // profile → field → value
	reads  int
}

func (f *fakePredictions) Prediction(field, id string) (float64, bool) {
	f.reads++
	v, ok := f.values[id][field]
	return v, ok
}

func TestPredictionFieldsAreTheSegmentEnginesNumericPredictions(t *testing.T) {
	for _, f := range PredictionFields {
		if !segment.IsPredictionField(f) {
			t.Errorf("%s is no numeric prediction field of the segment engine", f)
		}
	}
	for _, f := range ComputedFields[:len(ComputedFields)-len(PredictionFields)] {
		if segment.IsPredictionField(f) {
			t.Errorf("%s is read from the profile but is a prediction field", f)
		}
	}
}

func TestPredictionRulesChooseWinBackAndTopValueOffers(t *testing.T) {
	e, profiles, _ := testEngine(t)
	var account Placement
	for _, p := range DemoPlacements() {
		if p.ID == "account_offer" {
			account = p
		}
	}
	// A profile-figure rule after the prediction rules: the order of rules
	// still decides when the two kinds are evaluated in different phases.
	account.Rules = append(account.Rules, Rule{Computed: "orders", Value: 1.0, Variant: "standard"},
		Rule{Computed: "p_alive", Op: "exists", Variant: "top_value"})
	if _, err := e.Placements.Put(account, true); err != nil {
		t.Fatal(err)
	}
	profiles.ids["user_id:slipping"], profiles.ids["user_id:top"], profiles.ids["user_id:both"] = "p_slipping", "p_top", "p_both"
	profiles.ids["user_id:fitless"], profiles.ids["user_id:noorders"] = "p_fitless", "p_noorders"
	profiles.facts["p_slipping"] = &fakeFacts{orders: 2}
	profiles.facts["p_top"] = &fakeFacts{orders: 6}
	profiles.facts["p_both"] = &fakeFacts{orders: 3}
	profiles.facts["p_fitless"] = &fakeFacts{}
	profiles.facts["p_noorders"] = &fakeFacts{}
	preds := &fakePredictions{values: map[string]map[string]float64{
		"p_slipping": {"churn_risk": 0.85, "clv_percentile": 40, "p_alive": 0.15},
		"p_top":      {"churn_risk": 0.1, "clv_percentile": 95, "p_alive": 0.9},
		"p_both":     {"churn_risk": 0.75, "clv_percentile": 99, "p_alive": 0.25},
		"p_buyer":    {"churn_risk": 0.7, "clv_percentile": 89, "p_alive": 0.3}, // on the boundaries: neither
		"p_noorders": {"p_alive": 1},                                            // only exists holds
	}}
	e.Predictions = preds
	tests := []struct {
		who     Request
		variant string
		rule    int // -1: the default
	}{
		{Request{UserID: "slipping"}, "win_back", 0},
		{Request{UserID: "top"}, "top_value", 1},
		{Request{UserID: "both"}, "win_back", 0},
		{Request{UserID: "buyer"}, "standard", 2},
		{Request{UserID: "noorders"}, "top_value", 3},
		{Request{UserID: "fitless"}, "standard", -1},
		{Request{AnonymousID: "never-seen"}, "standard", -1},
	}
	for _, tt := range tests {
		tt.who.Placements = []string{"account_offer"}
		p := decide(t, e, tt.who).Placements[0]
		rule := -1
		if p.Rule != nil {
			rule = *p.Rule
		}
		if p.Variant.ID != tt.variant || rule != tt.rule {
			t.Errorf("%+v: %s by rule %d, want %s by rule %d", tt.who, p.Variant.ID, rule, tt.variant, tt.rule)
		}
	}

	// Prediction rules after the chosen one are not read, and a visitor
	// without a profile reads none.
	preds.reads = 0
	decide(t, e, Request{UserID: "slipping", Placements: []string{"account_offer"}})
	decide(t, e, Request{AnonymousID: "never-seen", Placements: []string{"account_offer"}})
	if preds.reads != 1 {
		t.Fatalf("%d prediction reads, want 1 (the first rule's, for the known profile)", preds.reads)
	}

	// Without a predictions source no prediction rule holds.
	e.Predictions = nil
	p := decide(t, e, Request{UserID: "both", Placements: []string{"account_offer"}}).Placements[0]
	if p.Variant.ID != "standard" || p.Rule == nil || *p.Rule != 2 {
		t.Fatalf("without predictions: %s by rule %v, want standard by rule 2", p.Variant.ID, p.Rule)
	}
}

func TestPredictionRulesValidate(t *testing.T) {
	variants := []Variant{{ID: "a"}, {ID: "b"}}
	tests := []struct {
		rule Rule
		ok   bool
	}{
		{Rule{Computed: "churn_risk", Op: "gt", Value: 0.7, Variant: "b"}, true},
		{Rule{Computed: "clv_percentile", Value: 90.0, Variant: "b"}, true},
		{Rule{Computed: "next_order_in_days", Op: "lt", Value: 7.0, Variant: "b"}, true},
		{Rule{Computed: "p_alive", Op: "exists", Variant: "b"}, true},
		{Rule{Computed: "churn_risk", Op: "gt", Value: "high", Variant: "b"}, false},
		{Rule{Computed: "next_order_date", Op: "gt", Value: 1.0, Variant: "b"}, false},
		{Rule{Computed: "churn", Op: "gt", Value: 0.7, Variant: "b"}, false},
	}
	for _, tt := range tests {
		p := Placement{ID: "x", Name: "X", Default: "a", Variants: variants, Rules: []Rule{tt.rule}}
		err := p.Validate(nil)
		if (err == nil) != tt.ok {
			t.Errorf("%+v: Validate = %v, want ok %v", tt.rule, err, tt.ok)
		}
	}
}
