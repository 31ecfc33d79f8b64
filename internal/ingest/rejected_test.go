package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

func TestRejectedKeepsNewest(t *testing.T) {
	db, err := pebble.Open(t.TempDir(), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := NewRejected(db)
	at := time.Unix(1700000000, 0)
	for i := 0; i < MaxRejected+2500; i += 100 {
		evs := make([]RejectedEvent, 100)
		for j := range evs {
			evs[j] = RejectedEvent{At: at.Add(time.Duration(i+j) * time.Millisecond), Reason: fmt.Sprint(i + j)}
		}
		r.add(evs)
	}
	all, err := r.List(2 * MaxRejected)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < MaxRejected || len(all) > MaxRejected+1000 {
		t.Fatalf("kept %d rejected events, want about %d", len(all), MaxRejected)
	}
	if all[0].Reason != fmt.Sprint(MaxRejected+2499) {
		t.Fatalf("newest = %q", all[0].Reason)
	}
}
