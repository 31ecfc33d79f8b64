package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

// TestAnalyticsNode sends the SDK story with Segment's @segment/analytics-node
// (test/sdk/node-client.mjs), changing only its host, and checks the profile.
func TestAnalyticsNode(t *testing.T) {
	node := requireNode(t, "@segment/analytics-node")
	s := startServer(t, t.TempDir())
	st := newStory("node")

	cfg, err := json.Marshal(map[string]any{
		"host": s.URL, "writeKey": s.WriteKey,
		"userId": st.UserID, "anonymousId": st.AnonymousID, "email": st.Email, "name": st.Name,
		"oldUserId": st.OldUserID, "viewedAnon": st.ViewedAnon, "purchased": st.Purchased,
		"category": st.Category, "revenue": st.Revenue,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, runErr := runNode(t, node, 90*time.Second, "node-client.mjs", string(cfg))
	var summary struct {
		MessageIDs []string `json:"messageIds"`
		Delivered  []string `json:"delivered"`
		Errors     []string `json:"errors"`
		Requests   []struct {
			Method, URL string
		} `json:"requests"`
	}
	if err := json.Unmarshal(out, &summary); err != nil {
		t.Fatalf("node-client.mjs (%v) printed no JSON summary: %v\n%s", runErr, err, out)
	}
	if len(summary.Errors) > 0 || runErr != nil {
		t.Fatalf("analytics-node (%v) errors: %q", runErr, summary.Errors)
	}
	if len(summary.MessageIDs) != 8 || len(summary.Delivered) != 8 {
		t.Fatalf("analytics-node sent %d and delivered %d messages, want 8", len(summary.MessageIDs), len(summary.Delivered))
	}
	t.Logf("analytics-node made %d HTTP requests", len(summary.Requests))
	st.MessageIDs = summary.MessageIDs

	p := checkStoryProfile(t, s, st)
	if n := p.Computed.TypeCounts["group"]; n != 1 {
		t.Errorf("type_counts[group] = %d, want 1", n)
	}
}
