package predict

import "testing"

func BenchmarkPredictOne(b *testing.B) {
	md := Model{BG: cdnowBG, GG: cdnowGG}
	c := Customer{X: 2, Tx: 30.43, T: 38.86, M: 22.35}
	b.Run("Predict", func(b *testing.B) {
		for b.Loop() {
			md.Predict(c, 90.0/7, CLVOptions{})
		}
	})
	b.Run("ExpectedRepeat", func(b *testing.B) {
		for b.Loop() {
			md.BG.ExpectedRepeat(c, 13)
		}
	})
	b.Run("PAlive", func(b *testing.B) {
		for b.Loop() {
			md.BG.PAlive(c)
		}
	})
}
