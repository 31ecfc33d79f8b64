package admin

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/segment"
)

// searchServer returns the admin API over a store and a segment engine fed
// with the same identify events, as the server wires them.
func searchServer(t *testing.T, indexed bool) *API {
	t.Helper()
	st := profile.NewStore()
	eng := segment.NewEngine(segment.Options{Profiles: st})
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for i, plan := range []string{"Pro", "pro-trial", "basic", "PRO"} {
		ev := event.Event{Type: event.Identify, UserID: fmt.Sprintf("u%d", i+1), MessageID: fmt.Sprintf("m%d", i),
			Traits: map[string]any{"plan": plan}, Timestamp: at, ReceivedAt: at, Seq: uint64(i + 1)}
		res := st.Apply(&ev)
		eng.Apply(&ev, res)
	}
	a := &API{Token: "tok", Store: st}
	if indexed {
		a.Search = eng.SearchTrait
	}
	return a
}

// search answers GET /api/profiles?query and returns the status, the
// user ids of the profiles found (in order) and the error text.
func search(t *testing.T, a *API, query string) (int, []string, string) {
	t.Helper()
	r := httptest.NewRequest("GET", "/api/profiles?"+query, nil)
	r.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, r)
	var body struct {
		Profiles []profile.Snapshot `json:"profiles"`
		Error    string             `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: %v: %s", query, err, w.Body)
	}
	var users []string
	for _, p := range body.Profiles {
		for _, id := range p.Identities {
			if id.Kind == event.KindUserID {
				users = append(users, id.Value)
			}
		}
	}
	return w.Code, users, body.Error
}

func TestSearchProfilesThroughTheIndex(t *testing.T) {
	tests := []struct {
		name     string
		indexed  bool
		query    string
		status   int
		want     []string
		contains string
	}{
		{"eq by default, any case", true, "trait=plan&value=pro", 200, []string{"u1", "u4"}, ""},
		{"prefix", true, "trait=plan&value=PRO&op=prefix", 200, []string{"u1", "u2", "u4"}, ""},
		{"contains", true, "trait=plan&value=asi&op=contains", 200, []string{"u3"}, ""},
		{"limit", true, "trait=plan&value=pro&op=prefix&limit=2", 200, []string{"u1", "u2"}, ""},
		{"no match", true, "trait=plan&value=gold", 200, nil, ""},
		{"unknown op", true, "trait=plan&value=pro&op=like", 400, nil, `op: one of eq, prefix, contains, got "like"`},
		{"store scan without the index", false, "trait=plan&value=pro", 200, []string{"u1", "u4"}, ""},
		{"store scan knows eq only", false, "trait=plan&value=pro&op=prefix", 400, nil, "needs the segment index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, users, msg := search(t, searchServer(t, tt.indexed), tt.query)
			if status != tt.status || !slices.Equal(users, tt.want) || !strings.Contains(msg, tt.contains) {
				t.Errorf("%s: %d %q %q; want %d %q saying %q", tt.query, status, users, msg, tt.status, tt.want, tt.contains)
			}
		})
	}
}
