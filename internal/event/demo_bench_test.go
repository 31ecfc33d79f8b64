package event_test

import (
	"errors"
	"testing"
	"time"

	"tailor/internal/demo"
	"tailor/internal/event"
)

// demoMessages are the first n messages of the demo store, the realistic
// mix ingest sees: product views with their properties, orders with a
// products array, identifies with traits, and a browser context on each.
func demoMessages(tb testing.TB, n int) [][]byte {
	tb.Helper()
	stop := errors.New("enough")
	var msgs [][]byte
	err := demo.New(demo.Config{Customers: 1000, Seed: 1}).Messages(func(msg []byte) error {
		msgs = append(msgs, append([]byte(nil), msg...))
		if len(msgs) == n {
			return stop
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		tb.Fatal(err)
	}
	if len(msgs) < n {
		tb.Fatalf("the demo made %d messages, want %d", len(msgs), n)
	}
	return msgs
}

// BenchmarkDecodeDemo decodes the first 2,000 demo messages; one op is one
// message, so ns/op, B/op and allocs/op are per message.
func BenchmarkDecodeDemo(b *testing.B) {
	msgs := demoMessages(b, 2000)
	var size int
	for _, m := range msgs {
		size += len(m)
	}
	m := event.Meta{ReceivedAt: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), SourceID: "bench"}
	b.SetBytes(int64(size / len(msgs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := event.Decode(msgs[i], m); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(msgs) {
			i = 0
		}
	}
}
