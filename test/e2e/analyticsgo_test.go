package e2e

import (
	"sync"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

// goCallback records which messages analytics-go delivered.
type goCallback struct {
	mu        sync.Mutex
	succeeded []string
	failed    map[string]error
}

func (c *goCallback) Success(m analytics.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.succeeded = append(c.succeeded, messageID(m))
}

func (c *goCallback) Failure(m analytics.Message, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		c.failed = map[string]error{}
	}
	c.failed[messageID(m)] = err
}

func messageID(m analytics.Message) string {
	switch m := m.(type) {
	case analytics.Track:
		return m.MessageId
	case analytics.Identify:
		return m.MessageId
	case analytics.Page:
		return m.MessageId
	case analytics.Alias:
		return m.MessageId
	case analytics.Group:
		return m.MessageId
	case analytics.Screen:
		return m.MessageId
	}
	return ""
}

// testLogger sends analytics-go's log lines to the test log.
type testLogger struct{ t *testing.T }

func (l testLogger) Logf(format string, args ...any) { l.t.Logf("analytics-go: "+format, args...) }
func (l testLogger) Errorf(format string, args ...any) {
	l.t.Logf("analytics-go ERROR: "+format, args...)
}

// TestAnalyticsGo sends the SDK story with Segment's analytics-go v3 client,
// changing only its endpoint, and checks the unified profile.
func TestAnalyticsGo(t *testing.T) {
	s := startServer(t, t.TempDir())
	st := newStory("go")

	cb := &goCallback{}
	client, err := analytics.NewWithConfig(s.WriteKey, analytics.Config{
		Endpoint:  s.URL,
		BatchSize: 3, // several /v1/batch requests, possibly concurrent
		Interval:  100 * time.Millisecond,
		Callback:  cb,
		Logger:    testLogger{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			client.Close()
		}
	}()

	mid := func(n string) string {
		id := "go-msg-" + n
		st.MessageIDs = append(st.MessageIDs, id)
		return id
	}
	// analytics-go's SetProductId writes the v1 e-commerce spec's "id", not
	// v2's "product_id": the first view is sent the way the SDK's helpers
	// write it, the second with the v2 field.
	product := func(sku string, v2 bool) analytics.Properties {
		p := analytics.NewProperties().SetSKU(sku).SetName("Runner " + sku).
			SetCategory(st.Category).SetPrice(49.75).SetCurrency("USD")
		if v2 {
			return p.Set("product_id", sku)
		}
		return p.SetProductId(sku)
	}
	msgs := []analytics.Message{
		analytics.Track{MessageId: mid("1"), AnonymousId: st.AnonymousID, Event: "Product Viewed", Properties: product(st.ViewedAnon, false)},
		analytics.Page{MessageId: mid("2"), AnonymousId: st.AnonymousID, Name: "Home",
			Properties: analytics.NewProperties().SetURL("https://shop.example.com/").SetPath("/")},
		analytics.Identify{MessageId: mid("3"), UserId: st.UserID, AnonymousId: st.AnonymousID,
			Traits: analytics.NewTraits().SetEmail(st.Email).SetName(st.Name).Set("plan", "pro")},
		analytics.Track{MessageId: mid("4"), UserId: st.UserID, AnonymousId: st.AnonymousID, Event: "Product Viewed", Properties: product(st.Purchased, true)},
		analytics.Track{MessageId: mid("5"), UserId: st.UserID, Event: "Order Completed",
			Properties: analytics.NewProperties().SetOrderId("go-order-1").SetRevenue(st.Revenue).SetTotal(st.Revenue+5.5).SetCurrency("USD").
				// analytics.Product has no category or quantity: send the spec's product objects as maps.
				Set("products", []map[string]any{{
					"product_id": st.Purchased, "sku": st.Purchased, "name": "Runner",
					"category": st.Category, "price": 49.75, "quantity": 2,
				}})},
		analytics.Page{MessageId: mid("6"), UserId: st.UserID, Name: "Checkout",
			Properties: analytics.NewProperties().SetURL("https://shop.example.com/checkout").SetPath("/checkout")},
		analytics.Alias{MessageId: mid("7"), PreviousId: st.OldUserID, UserId: st.UserID},
	}
	for _, m := range msgs {
		if err := client.Enqueue(m); err != nil {
			t.Fatalf("Enqueue %T: %v", m, err)
		}
		// Keep the story's timestamps in order (analytics-go stamps at enqueue).
		time.Sleep(2 * time.Millisecond)
	}
	if err := client.Close(); err != nil { // flushes
		t.Fatalf("Close: %v", err)
	}
	closed = true

	cb.mu.Lock()
	if len(cb.failed) > 0 {
		t.Fatalf("analytics-go reported failed deliveries: %v", cb.failed)
	}
	if len(cb.succeeded) != len(msgs) {
		t.Fatalf("analytics-go confirmed %d of %d messages: %v", len(cb.succeeded), len(msgs), cb.succeeded)
	}
	cb.mu.Unlock()

	checkStoryProfile(t, s, st)
}
