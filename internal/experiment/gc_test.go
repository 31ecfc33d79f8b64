package experiment

import (
	"strconv"
	"testing"

	"tailor/internal/arena/arenatest"
)

// BenchmarkGCWithUnits measures what an experiment's units cost one full
// collection: 300,000 profiles exposed, as a big store's running
// experiment holds them after a checkpoint.
//
//	go test -run '^$' -bench GCWithUnits -benchtime 20x ./internal/experiment/
func BenchmarkGCWithUnits(b *testing.B) {
	const n = 300_000
	e := New(Options{})
	running(b, e, def("x", 7, Metric{ID: "rev", Kind: MetricRevenue}))
	for i := range n {
		expose(e, "x", "p_"+strconv.Itoa(i), "a", t0)
	}
	clear(e.exps["x"].dirty) // as a checkpoint does
	arenatest.Collect(b, e, n, "unit")
}
