package outbox

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkDrain claims and finishes a queue of b.N messages, 100 per
// claim, as delivery workers do: the cost per message must not grow with
// how many were finished before (the claim head skips their tombstones).
func BenchmarkDrain(b *testing.B) {
	dir := b.TempDir()
	db := openDB(b, dir)
	defer db.Close()
	s, err := Open(db)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i += 1000 {
		msgs := make([]Message, 0, 1000)
		for j := i; j < min(i+1000, b.N); j++ {
			msgs = append(msgs, Message{Key: fmt.Sprint("k", j), Profile: "p", Channel: "email", Template: "t"})
		}
		if err := s.Enqueue(context.Background(), msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for done := 0; done < b.N; {
		recs, _, err := s.Claim(time.Now(), 100)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if err := s.Finish(r, Sent, "", false); err != nil {
				b.Fatal(err)
			}
		}
		done += len(recs)
	}
}
