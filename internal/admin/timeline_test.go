package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/eventlog"
	"tailor/internal/identity"
	"tailor/internal/processor"
	"tailor/internal/profile"
	"tailor/internal/store/storetest"
)

// timelineAPI is the admin API over a real log and store, with the events
// appended the way ingest does and applied by the processor.
func timelineAPI(t *testing.T, msgs []string) *API {
	t.Helper()
	db := storetest.DiskDB(t)
	l, err := eventlog.Open(db, eventlog.Options{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	store := profile.NewStore()
	// Profiles as large as the identity rules allowed before they had
	// limits (old data directories hold them): the timeline must stay
	// bounded whatever the rules are now.
	rules := identity.Defaults()
	rules.MaxIdentities, rules.Limits[event.KindAnonymousID] = 1<<20, 1<<20
	store.SetIdentityRules(rules)
	proc := processor.New(store, 16)
	if err := l.Start(proc.Sink); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { proc.Run(); close(done) }()
	t.Cleanup(func() { l.Close(); proc.CloseInput(); <-done })

	recv := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	var recs []eventlog.Record
	for i, raw := range msgs {
		m := event.Meta{SourceID: "s", ReceivedAt: recv}
		e, err := event.Decode([]byte(raw), m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		recs = append(recs, eventlog.Record{Value: event.AppendStored(nil, []byte(raw), m),
			Index: [][]byte{eventlog.IndexKey(e.PrimaryID().Key(), e.Timestamp)}, Payload: &e})
	}
	for len(recs) > 0 {
		n := min(len(recs), 500)
		if _, err := l.Append(context.Background(), recs[:n]); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
	}
	deadline := time.Now().Add(10 * time.Second)
	for proc.AppliedEvents() < uint64(len(msgs)) {
		if time.Now().After(deadline) {
			t.Fatalf("processor applied %d of %d events", proc.AppliedEvents(), len(msgs))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &API{Token: "tok", Store: store, Events: l, Merges: profile.MergeLog{DB: db}}
}

type timelinePage struct {
	ProfileID           string          `json:"profile_id"`
	Events              []TimelineEvent `json:"events"`
	NextCursor          string          `json:"next_cursor"`
	Partial             bool            `json:"partial"`
	IdentifiersSearched int             `json:"identifiers_searched"`
	IdentifiersTotal    int             `json:"identifiers_total"`
	Error               string          `json:"error"`
}

func getPage(t *testing.T, a *API, path string) (int, timelinePage) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, req)
	var p timelinePage
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("GET %s: %d %q: %v", path, w.Code, w.Body, err)
	}
	return w.Code, p
}

// allPages follows next_cursor to the end.
func allPages(t *testing.T, a *API, ident string, limit int) ([]TimelineEvent, timelinePage) {
	t.Helper()
	var evs []TimelineEvent
	var first timelinePage
	cursor := ""
	for page := 0; ; page++ {
		code, p := getPage(t, a, fmt.Sprintf("/api/profiles/%s/timeline?limit=%d&cursor=%s", ident, limit, url.QueryEscape(cursor)))
		if code != http.StatusOK {
			t.Fatalf("page %d: %d %s", page, code, p.Error)
		}
		if page == 0 {
			first = p
		}
		evs = append(evs, p.Events...)
		if p.NextCursor == "" {
			return evs, first
		}
		if p.NextCursor == cursor || page > 10000 {
			t.Fatalf("next_cursor %q does not advance", p.NextCursor)
		}
		cursor = p.NextCursor
	}
}

func TestTimelineOfAProfileWithTooManyIdentities(t *testing.T) {
	const devices = eventlog.MaxTimelineIdentifiers + 2
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return base.Add(d).Format(time.RFC3339Nano) }
	var msgs []string
	for i := range devices {
		// A visit on each device, filed under its anonymousId, the newest
		// on the device that sorts last...
		msgs = append(msgs, fmt.Sprintf(`{"type":"page","anonymousId":"a%05d","messageId":"p%d","timestamp":%q}`, i, i, at(time.Duration(i)*time.Minute)))
		// ...and a login linking it, filed under the userId.
		msgs = append(msgs, fmt.Sprintf(`{"type":"identify","userId":"u","anonymousId":"a%05d","messageId":"i%d","timestamp":%q,"traits":{"email":"u@x.org"}}`, i, i, at(-time.Duration(i)*time.Second)))
	}
	msgs = append(msgs, `{"type":"track","userId":"solo","event":"e","messageId":"s1","timestamp":"2026-01-01T00:00:00Z"}`)
	a := timelineAPI(t, msgs)

	evs, first := allPages(t, a, "u@x.org", 300)
	// user_id:u and the first 999 anonymousIds in value order are consulted;
	// the email files no events and is not counted.
	if !first.Partial || first.IdentifiersSearched != eventlog.MaxTimelineIdentifiers || first.IdentifiersTotal != devices+1 {
		t.Fatalf("first page: partial %v, searched %d, total %d; want true, %d, %d",
			first.Partial, first.IdentifiersSearched, first.IdentifiersTotal, eventlog.MaxTimelineIdentifiers, devices+1)
	}
	consulted := eventlog.MaxTimelineIdentifiers - 1
	if want := fmt.Sprintf("p%d", consulted-1); first.Events[0].MessageID != want {
		t.Fatalf("newest event %s, want %s (the newest of the consulted devices)", first.Events[0].MessageID, want)
	}
	if len(evs) != devices+consulted {
		t.Fatalf("%d events over all pages, want %d logins and %d visits", len(evs), devices, consulted)
	}
	seen := map[string]bool{}
	for i, e := range evs {
		if seen[e.MessageID] {
			t.Fatalf("event %s twice", e.MessageID)
		}
		seen[e.MessageID] = true
		if i > 0 && e.Timestamp.After(evs[i-1].Timestamp) {
			t.Fatalf("event %d (%s) is newer than the one before it", i, e.MessageID)
		}
	}

	solo, p := allPages(t, a, "solo", 10)
	if p.Partial || p.IdentifiersSearched != 1 || p.IdentifiersTotal != 1 || len(solo) != 1 {
		t.Fatalf("small profile: %+v", p)
	}
}

func TestTimelineRequestErrors(t *testing.T) {
	a := timelineAPI(t, []string{`{"type":"track","userId":"u","event":"e","messageId":"m"}`})
	tests := []struct {
		path string
		code int
	}{
		{"/api/profiles/u/timeline?cursor=-5-3", http.StatusBadRequest},
		{"/api/profiles/u/timeline?cursor=5-0", http.StatusBadRequest},
		{"/api/profiles/u/timeline?cursor=abc", http.StatusBadRequest},
		{"/api/profiles/u/timeline?limit=0", http.StatusBadRequest},
		{"/api/profiles/nobody/timeline", http.StatusNotFound},
		{"/api/profiles/u/timeline?cursor=18446744073709551615-18446744073709551615", http.StatusOK},
	}
	for _, tt := range tests {
		if code, p := getPage(t, a, tt.path); code != tt.code || (code != http.StatusOK) != (p.Error != "") {
			t.Errorf("GET %s = %d %q, want %d", tt.path, code, p.Error, tt.code)
		}
	}
}
