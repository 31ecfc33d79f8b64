package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// This file speaks the HTTP API of a test server: the tracking API with the
// write key, the admin API with the bearer token, and the JSON shapes of
// docs/API.md.

// do sends one request to the server. body may be nil; hdr adds headers.
func (s *server) do(method, path string, body []byte, hdr http.Header) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// postEvents posts a JSON body to a tracking path with the write key as the
// HTTP Basic user name.
func (s *server) postEvents(t *testing.T, path string, body any) (int, []byte) {
	t.Helper()
	b, ok := body.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	code, resp, err := s.do(http.MethodPost, path, b, http.Header{
		"Content-Type":  {"application/json"},
		"Authorization": {basicAuth(s.WriteKey)},
	})
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return code, resp
}

// mustPostEvents is postEvents that requires 200 {"success":true}.
func (s *server) mustPostEvents(t *testing.T, path string, body any) {
	t.Helper()
	code, resp := s.postEvents(t, path, body)
	if code != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, code, resp)
	}
	var ack ackBody
	if err := json.Unmarshal(resp, &ack); err != nil || !ack.Success {
		t.Fatalf("POST %s: 200 with body %s, want {\"success\":true}", path, resp)
	}
}

func basicAuth(user string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	req.SetBasicAuth(user, "")
	return req.Header.Get("Authorization")
}

// adminGet GETs an admin API path with the bearer token and decodes a 200
// answer into v. It returns the status code and the raw body.
func (s *server) adminGet(t *testing.T, path string, v any) (int, []byte) {
	t.Helper()
	code, body, err := s.do(http.MethodGet, path, nil, http.Header{"Authorization": {"Bearer " + s.AdminToken}})
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if code == http.StatusOK && v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: decode %T: %v\n%s", path, v, err, body)
		}
	}
	return code, body
}

// ackBody is the tracking API's answer.
type ackBody struct {
	Success  bool   `json:"success"`
	Accepted *int   `json:"accepted"`
	Error    string `json:"error"`
	Code     string `json:"code"`
	Rejected []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

// Profile is the admin API's profile JSON (docs/API.md).
type Profile struct {
	ID         string         `json:"id"`
	Identities []Identity     `json:"identities"`
	Traits     map[string]any `json:"traits"`
	Computed   Computed       `json:"computed"`
}

// Identity is one identifier of a profile.
type Identity struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Computed holds a profile's computed fields.
type Computed struct {
	FirstSeen         string         `json:"first_seen"`
	LastSeen          string         `json:"last_seen"`
	EventCount        int            `json:"event_count"`
	TypeCounts        map[string]int `json:"type_counts"`
	EventCounts       map[string]int `json:"event_counts"`
	Orders            int            `json:"orders"`
	TotalRevenue      float64        `json:"total_revenue"`
	AverageOrderValue float64        `json:"average_order_value"`
	LastOrderAt       string         `json:"last_order_at"`
	RecentlyViewed    []ProductVisit `json:"recently_viewed"`
	RecentlyCarted    []ProductVisit `json:"recently_carted"`
	RecentlyPurchased []ProductVisit `json:"recently_purchased"`
	FavouriteCategory string         `json:"favourite_category"`
	Timezone          string         `json:"timezone"`
	Locale            string         `json:"locale"`
}

// ProductVisit is one entry of recently_viewed/carted/purchased.
type ProductVisit struct {
	ProductID string `json:"product_id"`
	At        string `json:"at"`
}

// TimelineEvent is one event of a profile's timeline.
type TimelineEvent struct {
	MessageID   string         `json:"message_id"`
	Type        string         `json:"type"`
	Event       string         `json:"event"`
	Name        string         `json:"name"`
	UserID      string         `json:"user_id"`
	AnonymousID string         `json:"anonymous_id"`
	Timestamp   string         `json:"timestamp"`
	ReceivedAt  string         `json:"received_at"`
	Properties  map[string]any `json:"properties"`
	Traits      map[string]any `json:"traits"`
	Context     map[string]any `json:"context"`
}

func (p *Profile) hasIdentity(typ, value string) bool {
	for _, id := range p.Identities {
		if id.Type == typ && id.Value == value {
			return true
		}
	}
	return false
}

func (c *Computed) viewed(productID string) bool { return hasProduct(c.RecentlyViewed, productID) }
func (c *Computed) purchased(productID string) bool {
	return hasProduct(c.RecentlyPurchased, productID)
}

func hasProduct(list []ProductVisit, id string) bool {
	for _, v := range list {
		if v.ProductID == id {
			return true
		}
	}
	return false
}

// getProfile fetches a profile by any identifier. ok is false on 404.
func (s *server) getProfile(t *testing.T, identifier string) (p Profile, ok bool) {
	t.Helper()
	code, body := s.adminGet(t, "/api/profiles/"+url.PathEscape(identifier), &p)
	switch code {
	case http.StatusOK:
		return p, true
	case http.StatusNotFound:
		return p, false
	}
	t.Fatalf("GET /api/profiles/%s: %d %s", identifier, code, body)
	return p, false
}

// waitProfile polls the profile of identifier until check returns nil.
// Events are applied asynchronously after the ack, so a profile may lag.
// It fails the test with check's last complaint after timeout (10 s when 0).
func (s *server) waitProfile(t *testing.T, identifier string, timeout time.Duration, check func(p *Profile) error) Profile {
	t.Helper()
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		p, ok := s.getProfile(t, identifier)
		if !ok {
			if time.Now().After(deadline) {
				t.Fatalf("profile %q after %v: 404, no such profile", identifier, timeout)
			}
		} else if err := check(&p); err == nil {
			return p
		} else if time.Now().After(deadline) {
			pj, _ := json.MarshalIndent(p, "", "  ")
			t.Fatalf("profile %q after %v: %v\nprofile: %s", identifier, timeout, err, pj)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// timeline fetches a profile's whole timeline, following next_cursor.
func (s *server) timeline(t *testing.T, identifier string) []TimelineEvent {
	t.Helper()
	tl, err := s.timelineErr(t, identifier)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// errNotFound is a 404 answer of the admin API.
var errNotFound = errors.New("404 not found")

// timelineErr is timeline that returns errNotFound for an unknown profile.
func (s *server) timelineErr(t *testing.T, identifier string) ([]TimelineEvent, error) {
	t.Helper()
	var all []TimelineEvent
	cursor := ""
	for page := 0; ; page++ {
		if page > 10000 {
			t.Fatalf("timeline of %q: next_cursor never ends", identifier)
		}
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var resp struct {
			Events     []TimelineEvent `json:"events"`
			NextCursor string          `json:"next_cursor"`
		}
		path := "/api/profiles/" + url.PathEscape(identifier) + "/timeline?" + q.Encode()
		code, body := s.adminGet(t, path, &resp)
		if code == http.StatusNotFound && page == 0 {
			return nil, fmt.Errorf("GET %s: %w", path, errNotFound)
		}
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		if len(resp.Events) > 100 {
			t.Fatalf("GET %s: %d events, more than limit=100", path, len(resp.Events))
		}
		all = append(all, resp.Events...)
		if resp.NextCursor == "" {
			return all, nil
		}
		if resp.NextCursor == cursor {
			t.Fatalf("GET %s: next_cursor %q repeats the cursor", path, cursor)
		}
		cursor = resp.NextCursor
	}
}

// waitTimeline polls a profile's timeline until it holds every message id
// in want; it returns the timeline. Missing ids fail the test after timeout
// (10 s when 0).
func (s *server) waitTimeline(t *testing.T, identifier string, want []string, timeout time.Duration) []TimelineEvent {
	t.Helper()
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		tl, err := s.timelineErr(t, identifier)
		var missing []string
		if err == nil {
			have := make(map[string]bool, len(tl))
			for _, e := range tl {
				have[e.MessageID] = true
			}
			for _, id := range want {
				if !have[id] {
					missing = append(missing, id)
				}
			}
			if len(missing) == 0 {
				return tl
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("timeline of %q after %v: %v", identifier, timeout, err)
			}
			t.Fatalf("timeline of %q after %v: %d of %d message ids missing, e.g. %q (timeline has %d events)",
				identifier, timeout, len(missing), len(want), missing[:min(5, len(missing))], len(tl))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
