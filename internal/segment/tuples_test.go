package segment

import (
	"math/rand/v2"
	"testing"
	"time"

	"tailor/internal/event"
)

// The tuple table's way out (a stream with too many combinations goes back
// to a column per value, live and while loading persisted pages) keeps
// every answer: the property tests again with tiny bounds, so that most
// streams untuple part-way.
func TestUntupledStreamsEvaluateAlike(t *testing.T) {
	defer func(m, s int) { tupleMin, tupleShare = m, s }(tupleMin, tupleShare)
	tupleMin, tupleShare = 8, 2
	// The bounds do make streams give up their tables on such data.
	e := buildIndex(t, rand.New(rand.NewPCG(5, 7)), randomProfiles(rand.New(rand.NewPCG(5, 7)), 300, genNow))
	untupled := 0
	for _, s := range e.ix.streams {
		if s.tup == nil {
			untupled++
		}
	}
	if untupled == 0 {
		t.Fatal("no stream untupled: the subtests would not test the way out")
	}
	t.Run("fast=reference", TestFastPathEqualsReference)
	t.Run("persisted=live", TestPersistedIndexEvaluatesLikeTheLiveOne)
	t.Run("windows", TestWindowsOverFullChunks)
}

// Tuples are what they replace: per row, each column reads the value it
// was given, before and after a column joins late, is dropped, and the
// stream untuples.
func TestTuplesKeepEachColumnsValue(t *testing.T) {
	defer func(m, s, l int) { tupleMin, tupleShare, idLikeMin = m, s, l }(tupleMin, tupleShare, idLikeMin)
	tupleMin, tupleShare, idLikeMin = 64, 4, 32
	ix := NewIndex()
	type row = map[string]any
	var rows []row
	for i := range 400 {
		r := row{"category": []string{"hats", "bags", "shoes"}[i%3], "price": float64(10 * (i % 5))}
		if i >= 50 {
			r["brand"] = []string{"acme", "zeta"}[i%2] // joins late
		}
		if i < 120 {
			r["order_id"] = "o-" + string(rune('a'+i%26)) + string(rune('a'+i/26)) // an identifier, dropped
		}
		if i >= 300 {
			r["session"] = float64(i) // a new value every row: the stream untuples
		}
		rows = append(rows, r)
		ix.add(uint32(i%7), &event.Event{Type: event.Track, Event: "Product Viewed", Timestamp: time.Unix(1e9+int64(i), 0), Properties: r}, "Product Viewed")
	}
	s := ix.streams["Product Viewed"]
	if s.tup != nil {
		t.Fatal("the stream still has its tuple table after 100 new combinations in 100 rows")
	}
	if !s.cols["order_id"].dropped {
		t.Fatal("order_id was not dropped")
	}
	for i, r := range rows {
		for _, k := range []string{"category", "price", "brand", "session"} {
			c := s.cols[k]
			got := c.dict.value(c.get(i))
			if want := r[k]; got != want {
				t.Fatalf("row %d %s = %v, want %v", i, k, got, want)
			}
		}
	}
}
