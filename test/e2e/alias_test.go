package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

// aliasStory is one customer known under two userIds, each with its own
// history (an identify and orders with revenue), who is then aliased:
// alias({previousId: UserA, userId: UserB}). Alias is the explicit link that
// merges even two userIds (docs/ARCHITECTURE.md, Identity), so afterwards ONE
// profile holds both userIds, both histories' orders and revenue, and every
// message in its timeline.
type aliasStory struct {
	UserA, UserB string // not UUID-shaped: a UUID previousId names an anonymousId
	AnonA, AnonB string // the anonymousId of each history (server-side SDKs)
	Steps        []aliasStep
	// Orders and Revenue are those of UserA's history, then UserB's.
	OrdersA, OrdersB   int
	RevenueA, RevenueB float64
}

// aliasStep is one SDK call of the story. Method "reset" is a sign-out on
// the browser (a new anonymousId, no userId); server-side clients, which set
// the ids of every call themselves, skip it.
type aliasStep struct {
	Method      string         `json:"method"`
	UserID      string         `json:"userId,omitempty"`
	AnonymousID string         `json:"anonymousId,omitempty"`
	PreviousID  string         `json:"previousId,omitempty"`
	Event       string         `json:"event,omitempty"`
	Traits      map[string]any `json:"traits,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
}

func newAliasStory(prefix string) aliasStory {
	st := aliasStory{
		UserA: prefix + "-alias-a", UserB: prefix + "-alias-b",
		AnonA: prefix + "-alias-anon-a", AnonB: prefix + "-alias-anon-b",
	}
	order := func(user, anon, id string, revenue float64) aliasStep {
		return aliasStep{Method: "track", UserID: user, AnonymousID: anon, Event: "Order Completed",
			Properties: map[string]any{"order_id": prefix + "-" + id, "revenue": revenue, "currency": "USD",
				"products": []map[string]any{{"product_id": prefix + "-sku-" + id, "price": revenue, "quantity": 1}}}}
	}
	st.Steps = []aliasStep{
		{Method: "identify", UserID: st.UserA, AnonymousID: st.AnonA,
			Traits: map[string]any{"email": prefix + ".alias.a@example.com", "name": "Alias A"}},
		order(st.UserA, st.AnonA, "order-a1", 30),
		order(st.UserA, st.AnonA, "order-a2", 12.25),
		{Method: "reset"},
		{Method: "identify", UserID: st.UserB, AnonymousID: st.AnonB,
			Traits: map[string]any{"email": prefix + ".alias.b@example.com", "name": "Alias B"}},
		order(st.UserB, st.AnonB, "order-b1", 20.5),
		{Method: "alias", UserID: st.UserB, AnonymousID: st.AnonB, PreviousID: st.UserA},
	}
	st.OrdersA, st.RevenueA = 2, 30+12.25
	st.OrdersB, st.RevenueB = 1, 20.5
	return st
}

// checkAliasProfile waits until each history is applied and the alias with
// it, then checks the alias merged them: one profile with both userIds, all
// orders and revenue, and every message id in messageIDs in its timeline.
func checkAliasProfile(t *testing.T, s *server, st aliasStory, messageIDs []string) {
	t.Helper()
	// Both histories and the alias itself are applied: these hold whether or
	// not the alias merged (after a merge the orders only add up).
	for _, h := range []struct {
		user   string
		orders int
	}{{st.UserA, st.OrdersA}, {st.UserB, st.OrdersB}} {
		s.waitProfile(t, h.user, 15*time.Second, func(p *Profile) error {
			if !p.hasIdentity("user_id", h.user) || p.Computed.Orders < h.orders {
				return fmt.Errorf("want user_id %s with at least %d orders", h.user, h.orders)
			}
			return nil
		})
	}
	s.waitProfile(t, st.UserB, 15*time.Second, func(p *Profile) error {
		if p.Computed.TypeCounts["alias"] != 1 {
			return fmt.Errorf("type_counts[alias] = %d, want the alias applied (1)", p.Computed.TypeCounts["alias"])
		}
		return nil
	})

	// The alias merged the two userIds into one profile.
	p, _ := s.getProfile(t, st.UserB)
	a, _ := s.getProfile(t, st.UserA)
	wantOrders, wantRevenue := st.OrdersA+st.OrdersB, st.RevenueA+st.RevenueB
	c := p.Computed
	if a.ID != p.ID || !p.hasIdentity("user_id", st.UserA) || !p.hasIdentity("user_id", st.UserB) ||
		c.Orders != wantOrders || !approx(c.TotalRevenue, wantRevenue) {
		pj, _ := json.MarshalIndent(p, "", "  ")
		t.Fatalf("alias({previousId: %q, userId: %q}) did not merge the two userIds: %s is profile %s, %s is profile %s "+
			"with identities %v, %d orders and revenue %v; want one profile with both userIds, %d orders and revenue %v\nprofile of %s: %s",
			st.UserA, st.UserB, st.UserA, a.ID, st.UserB, p.ID, p.Identities, c.Orders, c.TotalRevenue,
			wantOrders, wantRevenue, st.UserB, pj)
	}
	if !approx(c.AverageOrderValue, wantRevenue/float64(wantOrders)) {
		t.Errorf("average_order_value = %v, want %v", c.AverageOrderValue, wantRevenue/float64(wantOrders))
	}
	if n := c.EventCounts["Order Completed"]; n != wantOrders {
		t.Errorf("event_counts[Order Completed] = %d, want %d", n, wantOrders)
	}
	for _, id := range []string{st.UserA, "user_id:" + st.UserA, p.ID} {
		if q, ok := s.getProfile(t, id); !ok || q.ID != p.ID {
			t.Errorf("GET /api/profiles/%s: found=%v %q, want the merged profile %s", url.PathEscape(id), ok, q.ID, p.ID)
		}
	}
	for _, user := range []string{st.UserA, st.UserB} {
		tl := s.waitTimeline(t, user, messageIDs, 10*time.Second)
		if len(tl) != c.EventCount {
			t.Errorf("timeline of %s has %d events, computed.event_count is %d", user, len(tl), c.EventCount)
		}
	}
}

// TestAliasNode sends the alias story with @segment/analytics-node.
func TestAliasNode(t *testing.T) {
	node := requireNode(t, "@segment/analytics-node")
	s := startServer(t, t.TempDir())
	st := newAliasStory("node")

	var calls [][2]any
	for _, step := range st.Steps {
		if step.Method == "reset" {
			continue
		}
		params := map[string]any{}
		for k, v := range map[string]any{"userId": step.UserID, "anonymousId": step.AnonymousID,
			"previousId": step.PreviousID, "event": step.Event} {
			if v != "" {
				params[k] = v
			}
		}
		if step.Traits != nil {
			params["traits"] = step.Traits
		}
		if step.Properties != nil {
			params["properties"] = step.Properties
		}
		calls = append(calls, [2]any{step.Method, params})
	}
	cfg, err := json.Marshal(map[string]any{"host": s.URL, "writeKey": s.WriteKey, "calls": calls})
	if err != nil {
		t.Fatal(err)
	}
	out, runErr := runNode(t, node, 90*time.Second, "node-client.mjs", string(cfg))
	var summary struct {
		MessageIDs []string `json:"messageIds"`
		Delivered  []string `json:"delivered"`
		Errors     []string `json:"errors"`
	}
	if err := json.Unmarshal(out, &summary); err != nil {
		t.Fatalf("node-client.mjs (%v) printed no JSON summary: %v\n%s", runErr, err, out)
	}
	if len(summary.Errors) > 0 || runErr != nil {
		t.Fatalf("analytics-node (%v) errors: %q", runErr, summary.Errors)
	}
	if len(summary.MessageIDs) != len(calls) || len(summary.Delivered) != len(calls) {
		t.Fatalf("analytics-node sent %d and delivered %d messages, want %d", len(summary.MessageIDs), len(summary.Delivered), len(calls))
	}
	checkAliasProfile(t, s, st, summary.MessageIDs)
}

// TestAliasGo sends the alias story with analytics-go.
func TestAliasGo(t *testing.T) {
	s := startServer(t, t.TempDir())
	st := newAliasStory("go")

	cb := &goCallback{}
	client, err := analytics.NewWithConfig(s.WriteKey, analytics.Config{
		Endpoint:  s.URL,
		BatchSize: 2,
		Interval:  100 * time.Millisecond,
		Callback:  cb,
		Logger:    testLogger{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	n := 0
	for _, step := range st.Steps {
		n++
		id := fmt.Sprintf("go-alias-msg-%d", n)
		var m analytics.Message
		switch step.Method {
		case "reset":
			continue
		case "identify":
			m = analytics.Identify{MessageId: id, UserId: step.UserID, AnonymousId: step.AnonymousID, Traits: step.Traits}
		case "track":
			m = analytics.Track{MessageId: id, UserId: step.UserID, AnonymousId: step.AnonymousID, Event: step.Event, Properties: step.Properties}
		case "alias":
			m = analytics.Alias{MessageId: id, UserId: step.UserID, PreviousId: step.PreviousID}
		default:
			t.Fatalf("unknown step %q", step.Method)
		}
		ids = append(ids, id)
		if err := client.Enqueue(m); err != nil {
			client.Close()
			t.Fatalf("Enqueue %T: %v", m, err)
		}
		// Keep the story's timestamps in order (analytics-go stamps at enqueue).
		time.Sleep(2 * time.Millisecond)
	}
	if err := client.Close(); err != nil { // flushes
		t.Fatalf("Close: %v", err)
	}
	cb.mu.Lock()
	failed, succeeded := len(cb.failed), len(cb.succeeded)
	cb.mu.Unlock()
	if failed > 0 || succeeded != len(ids) {
		t.Fatalf("analytics-go delivered %d of %d messages, %d failed: %v", succeeded, len(ids), failed, cb.failed)
	}
	checkAliasProfile(t, s, st, ids)
}

// TestAliasBrowser plays the alias story in analytics.js: the customer signs
// in as UserA and orders, signs out (reset: a new anonymousId), signs in as
// UserB and orders, and the page aliases UserA to UserB.
func TestAliasBrowser(t *testing.T) {
	s := startServer(t, t.TempDir())
	st := newAliasStory("browser")
	steps, err := json.Marshal(st.Steps)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := runBrowser(t, s, url.Values{"steps": {string(steps)}})
	res := sum.Result
	if want := len(st.Steps) - 1; len(res.MessageIDs) != want { // every step but reset sends one message
		t.Fatalf("analytics.js reported %d message ids, want %d", len(res.MessageIDs), want)
	}
	anonA, anonB := res.IdentifiedAs[st.UserA], res.IdentifiedAs[st.UserB]
	if anonA == "" || anonB == "" || anonA == anonB {
		t.Fatalf("identify anonymous ids %q (%s) and %q (%s): want two, reset must start a new one", anonA, st.UserA, anonB, st.UserB)
	}
	if res.UserID != st.UserB {
		t.Errorf("analytics.user().id() = %q, want %q", res.UserID, st.UserB)
	}
	checkAliasProfile(t, s, st, res.MessageIDs)
	p, _ := s.getProfile(t, st.UserB)
	for _, anon := range []string{anonA, anonB} {
		if !p.hasIdentity("anonymous_id", anon) {
			t.Errorf("merged profile lacks the browser anonymous_id %q", anon)
		}
	}
}
