//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts mean something only without it.

package decide

import (
	"bytes"
	"context"
	"testing"
)

func TestDecideAllocations(t *testing.T) {
	e, _, _ := testEngine(t)
	e.Recommender = staticRecs(make([]RecItem, 10))
	req := Request{UserID: "rich", Placements: []string{"recs", "exit"}}
	var out bytes.Buffer
	allocs := testing.AllocsPerRun(200, func() {
		out.Reset()
		if err := e.Decide(context.Background(), &req, &out); err != nil {
			t.Fatal(err)
		}
	})
	// The identifier key and the profile reader's closure; tokens and
	// JSON go into reused buffers.
	if allocs > 3 {
		t.Errorf("%v allocations per decision, want at most 3", allocs)
	}
}
