package segment

import (
	"math"
	"time"
)

// This file holds the one-profile reads of model outputs that other hot
// paths make without a rule: the decision API's prediction rules and the
// journey send step's best time.

// IsPredictionField reports whether field is a numeric prediction field
// that Prediction answers.
func IsPredictionField(field string) bool {
	t, ok := predictionFields[field]
	return ok && t == typeNumber
}

// Prediction returns a numeric prediction field (predicted_clv,
// clv_percentile, predicted_orders, p_alive, churn_risk,
// expected_order_value, next_order_in_days) of profile profileID as
// segment rules see it now. ok is false for an unknown profile or field,
// without a fitted model, or for a profile without orders. It reads the
// per-profile cache that order events keep current (predicted_clv,
// predicted_orders) and evaluates the closed forms of the others: no
// evaluation of the index, under a microsecond (BenchmarkPrediction).
func (e *Engine) Prediction(field, profileID string) (v float64, ok bool) {
	if !IsPredictionField(field) {
		return 0, false
	}
	ix := e.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	o, found := ix.lookup(profileID)
	if !found || !ix.alive.Contains(o) {
		return 0, false
	}
	cv, _ := predictionField(field, &aggregates{live: ix}, int(o), ix.models)
	if !cv.present || cv.isTime || math.IsNaN(cv.num) {
		return 0, false
	}
	return cv.num, true
}

// BestSendHour is profile profileID's best_send_hour (0–23, in the time
// zone of its timezone trait) from its engagement events at or before at,
// with the population's hour as fallback; ok is false for an unknown
// profile or when neither hour exists.
func (e *Engine) BestSendHour(profileID string, at time.Time) (hour int, ok bool) {
	ix := e.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	o, found := ix.lookup(profileID)
	if !found || !ix.alive.Contains(o) {
		return 0, false
	}
	f, isNum := newSingle(ix, o, at, e.resolve, false).figure(FieldBestSendHour).(float64)
	if !isNum {
		return 0, false
	}
	return int(f), true
}
