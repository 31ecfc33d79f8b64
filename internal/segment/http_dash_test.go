package segment

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestHTTPPreviewAnswersTheRuleBothWays(t *testing.T) {
	srv := newSegmentServer(t, shopEngine(t, 5))
	tests := []struct {
		name, body string
		want       string
	}{
		{"text parsed to a tree", `{"text":"did \"Product Added\" at least 2 times in last 90d"}`,
			`{"count":0,"rule":{"event":"Product Added","within":{"last":"90d"},"op":"gte","value":2},"text":"did \"Product Added\" at least 2 times in last 90d"}`},
		{"tree written as text", `{"rule":{"and":[` + anyOrder + `,{"not":{"event":"$page"}}]}}`,
			`{"count":1,"rule":{"and":[` + anyOrder + `,{"not":{"event":"$page"}}]},"text":"orders >= 1 and not did $page"}`},
		{"text in its canonical form", `{"text":"orders>=1"}`, `{"count":2,"text":"orders >= 1"}`},
	}
	for _, tt := range tests {
		status, _, got := call(t, srv, "POST", "/api/segments/preview", tt.body)
		if status != 200 {
			t.Errorf("%s: status %d: %v", tt.name, status, got)
			continue
		}
		checkFields(t, got, tt.want)
	}
	// A text that does not parse says where, and answers no tree.
	status, _, got := call(t, srv, "POST", "/api/segments/preview", `{"text":"orders >="}`)
	if status != 400 || got["path"] != "/text" || got["rule"] != nil {
		t.Errorf("bad text: status %d, answer %v; want 400 at /text", status, got)
	}
}

func TestHTTPVocabularyListsWhatTheIndexHolds(t *testing.T) {
	e := shopEngine(t, 5)
	srv := newSegmentServer(t, e)
	status, _, got := call(t, srv, "GET", "/api/segments/vocabulary", "")
	if status != 200 {
		t.Fatalf("status %d: %v", status, got)
	}
	b, _ := json.Marshal(got)
	var v Vocabulary
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	events := map[string]EventWords{}
	for _, ev := range v.Events {
		events[ev.Name] = ev
	}
	tests := []struct {
		name  string
		count int
		props []string
	}{
		{"$page", 3, []string{}},
		{"Order Completed", 2, []string{"products[].category", "revenue"}},
		{"Product Added", 1, []string{"product_id"}},
	}
	for _, tt := range tests {
		ev, ok := events[tt.name]
		if !ok {
			t.Errorf("event %q missing from %v", tt.name, v.Events)
			continue
		}
		if ev.Count != tt.count || !reflect.DeepEqual(ev.Properties, tt.props) {
			t.Errorf("%s: count %d, properties %q; want %d, %q", tt.name, ev.Count, ev.Properties, tt.count, tt.props)
		}
	}
	if len(v.Events) != len(tests) {
		t.Errorf("events %v, want only %d", v.Events, len(tests))
	}
	types := map[string]string{}
	for _, f := range v.Computed {
		types[f.Name] = f.Type
	}
	for name, typ := range map[string]string{"orders": "number", "last_order": "time", "spend_tier": "string", "lifecycle": "string", "rfm": "number"} {
		if types[name] != typ {
			t.Errorf("computed %s: type %q, want %q", name, types[name], typ)
		}
	}
	if len(v.Computed) != len(ComputedFields()) {
		t.Errorf("%d computed fields, want %d", len(v.Computed), len(ComputedFields()))
	}
}

func TestHTTPListWithHistory(t *testing.T) {
	e := shopEngine(t, 3)
	if _, err := e.Save(Definition{ID: "buyers", Rule: &Rule{Computed: "orders", Op: Gte, Value: 1.0}}); err != nil {
		t.Fatal(err)
	}
	srv := newSegmentServer(t, e)
	tests := []struct {
		query       string
		status      int
		wantHistory bool
	}{
		{"", 200, false},
		{"?history=30", 200, true},
		{"?history=1", 200, true},
		{"?history=0", 400, false},
		{"?history=401", 400, false},
		{"?history=a", 400, false},
	}
	for _, tt := range tests {
		status, _, got := call(t, srv, "GET", "/api/segments"+tt.query, "")
		if status != tt.status {
			t.Errorf("%s: status %d, want %d: %v", tt.query, status, tt.status, got)
			continue
		}
		if status != 200 {
			if got["code"] != "bad_request" {
				t.Errorf("%s: code %v, want bad_request", tt.query, got["code"])
			}
			continue
		}
		segs := got["segments"].([]any)
		if len(segs) != 1 {
			t.Fatalf("%s: %d segments, want 1", tt.query, len(segs))
		}
		seg := segs[0].(map[string]any)
		if seg["id"] != "buyers" || seg["size"] != 2.0 {
			t.Errorf("%s: segment %v, want buyers of size 2", tt.query, seg)
		}
		hist, has := seg["history"].([]any)
		if has != tt.wantHistory {
			t.Errorf("%s: history %v, want present=%v", tt.query, seg["history"], tt.wantHistory)
			continue
		}
		if has {
			// The segment was created today: one day, its size now.
			day := hist[len(hist)-1].(map[string]any)
			if len(hist) != 1 || day["day"] != "2026-06-01" || day["size"] != 2.0 {
				t.Errorf("%s: history %v, want one day 2026-06-01 of size 2", tt.query, hist)
			}
		}
	}
}

func TestHTTPRefusesTheVocabularyRouteAsAnID(t *testing.T) {
	srv := newSegmentServer(t, shopEngine(t, 3))
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/api/segments", `{"id":"vocabulary","rule":` + anyOrder + `}`},
		{"PUT", "/api/segments/vocabulary", `{"rule":` + anyOrder + `}`},
	} {
		status, _, got := call(t, srv, tt.method, tt.path, tt.body)
		if status != 400 || got["path"] != "/id" {
			t.Errorf("%s %s: status %d, answer %v; want 400 at /id", tt.method, tt.path, status, got)
		}
	}
	if status, _, got := call(t, srv, "PUT", "/api/segments/vocab", `{"rule":`+anyOrder+`}`); status != 200 {
		t.Errorf("PUT vocab: status %d, answer %v; want 200", status, got)
	}
}
