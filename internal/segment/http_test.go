package segment

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
)

// httpNow is the engine's clock in these tests.
var httpNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// shopEngine returns an engine fed with a small shop:
//
//	p_1  spent 300 two days ago, visited yesterday     (high spender)
//	p_2  added a product two days ago, never bought    (cart abandoner)
//	p_3  spent 20 a year ago                           (lapsed)
//	p_4… visited once, an hour ago each, up to visitors profiles in all
func shopEngine(t testing.TB, visitors int) *Engine {
	t.Helper()
	e := NewEngine(Options{Now: func() time.Time { return httpNow }})
	apply := func(pid string, ev event.Event) {
		e.Apply(&ev, profile.Resolution{Profile: pid})
	}
	day := 24 * time.Hour
	apply("p_1", event.Event{Type: event.Track, Event: event.OrderCompleted, Timestamp: httpNow.Add(-2 * day),
		Properties: map[string]any{"revenue": 300.0, "products": []any{map[string]any{"category": "Accessories"}}}})
	apply("p_1", event.Event{Type: event.Page, Timestamp: httpNow.Add(-day)})
	apply("p_2", event.Event{Type: event.Track, Event: "Product Added", Timestamp: httpNow.Add(-2 * day),
		Properties: map[string]any{"product_id": "sku-1"}})
	apply("p_3", event.Event{Type: event.Track, Event: event.OrderCompleted, Timestamp: httpNow.Add(-365 * day),
		Properties: map[string]any{"revenue": 20.0}})
	for i := 4; i <= visitors; i++ {
		apply(fmt.Sprintf("p_%d", i), event.Event{Type: event.Page, Timestamp: httpNow.Add(-time.Hour)})
	}
	return e
}

// lookupTable resolves identifiers as the admin API's store would.
func lookupTable(ident string) (string, bool) {
	pid, ok := map[string]string{"user_id:u1": "p_1", "email:b@example.com": "p_2", "p_1": "p_1", "p_2": "p_2", "p_999": "p_999"}[ident]
	return pid, ok
}

func newSegmentServer(t testing.TB, e *Engine) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer((&HTTP{Engine: e, Lookup: lookupTable}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

// call sends a request and returns the status, the headers and the
// answer decoded as a JSON object, failing the test unless it is one.
func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, b)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, b)
	}
	return res.StatusCode, res.Header, v
}

// checkFields fails unless every key of want (a JSON object) has the same
// value in got.
func checkFields(t *testing.T, got map[string]any, want string) {
	t.Helper()
	if want == "" {
		return
	}
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	for k, wv := range w {
		if !reflect.DeepEqual(got[k], wv) {
			gb, _ := json.Marshal(got[k])
			wb, _ := json.Marshal(wv)
			t.Errorf("%s = %s, want %s (answer %v)", k, gb, wb, got)
		}
	}
}

const (
	highSpenders = `{"computed":"total_spend","op":"gte","value":100}`
	anyOrder     = `{"computed":"orders","op":"gte","value":1}`
)

func TestHTTPSegmentRoutes(t *testing.T) {
	srv := newSegmentServer(t, shopEngine(t, 3))
	created := httpNow.Format(time.RFC3339)
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // fields of the answer
		contains                 string // a substring of "error"
	}{
		{"list when empty", "GET", "/api/segments", "", 200, `{"segments":[]}`, ""},
		{"get missing", "GET", "/api/segments/high", "", 404, `{"code":"segment_not_found","error":"no segment \"high\""}`, ""},
		{"create", "POST", "/api/segments", `{"id":"high","name":"High spenders","rule":` + highSpenders + `}`, 201,
			`{"id":"high","name":"High spenders","size":1,"created_at":"` + created + `","rule":` + highSpenders + `}`, ""},
		{"create taken id", "POST", "/api/segments", `{"id":"high","rule":` + anyOrder + `}`, 409, `{"code":"segment_exists"}`, "PUT /api/segments/high"},
		{"get", "GET", "/api/segments/high", "", 200, `{"id":"high","size":1,"entered":0}`, ""},
		{"name defaults to id", "POST", "/api/segments", `{"id":"buyers","rule":` + anyOrder + `}`, 201, `{"name":"buyers","size":2}`, ""},
		{"malformed JSON", "POST", "/api/segments", "{\"id\":\"x\",\n \"rule\":}", 400, `{"code":"invalid_json"}`, "line 2, column 9"},
		{"truncated JSON", "POST", "/api/segments", `{"id":"x","rule":{`, 400, `{"code":"invalid_json"}`, "ends in the middle"},
		{"empty body", "POST", "/api/segments", "  ", 400, `{"code":"invalid_json"}`, "empty body"},
		{"data after the object", "POST", "/api/segments", `{"id":"x","rule":` + anyOrder + `} {}`, 400, `{"code":"invalid_json"}`, "data after"},
		{"body not an object", "POST", "/api/segments", `[1]`, 400, `{"code":"invalid_rule","path":""}`, "must be a JSON object, got a list"},
		{"unknown op with its path", "POST", "/api/segments",
			`{"id":"x","rule":{"and":[` + anyOrder + `,{"event":"Product Added","where":[{"property":"price","op":"bigger","value":3}]}]}}`,
			400, `{"code":"invalid_rule","path":"/rule/and/1/where/0/op"}`, `unknown op "bigger"`},
		{"unknown field with its path", "POST", "/api/segments", `{"id":"x","rule":{"or":[` + anyOrder + `,{"evnt":"Page"}]}}`,
			400, `{"code":"invalid_rule","path":"/rule/or/1/evnt"}`, `unknown field "evnt"`},
		{"unknown top-level field", "POST", "/api/segments", `{"id":"x","colour":"red","rule":` + anyOrder + `}`,
			400, `{"code":"invalid_rule","path":"/colour"}`, `unknown field "colour"`},
		{"wrong type with its path", "POST", "/api/segments", `{"id":"x","rule":{"not":{"event":"Page","within":{"last":7}}}}`,
			400, `{"code":"invalid_rule","path":"/rule/not/within/last"}`, "want a string, got a number"},
		{"bad window", "POST", "/api/segments", `{"id":"x","rule":{"event":"Page","within":{"last":"7 days"}}}`,
			400, `{"code":"invalid_rule","path":"/rule/within/last"}`, "want a number and a unit"},
		{"bad id", "POST", "/api/segments", `{"id":"High Spenders","rule":` + anyOrder + `}`, 400, `{"code":"invalid_rule","path":"/id"}`, "not a segment id"},
		{"no rule", "POST", "/api/segments", `{"id":"x"}`, 400, `{"code":"invalid_rule","path":"/rule"}`, "needs a rule"},
		{"text form that does not parse", "POST", "/api/segments", `{"id":"x","text":"orders >="}`, 400, `{"code":"invalid_rule","path":"/text"}`, "expected"},
		{"text and tree disagree", "POST", "/api/segments", `{"id":"x","text":"orders >= 1","rule":{"computed":"orders","op":"gte","value":2}}`, 400, `{"code":"invalid_rule","path":"/text"}`, "different things"},
		{"refers to a missing segment", "POST", "/api/segments", `{"id":"x","rule":{"segment":"nope"}}`, 400, `{"code":"invalid_rule","path":"/rule"}`, `no segment "nope"`},
		{"put creates", "PUT", "/api/segments/vip", `{"name":"VIP","rule":{"and":[{"segment":"high"},{"event":"$page","within":{"last":"7d"}}]}}`,
			200, `{"id":"vip","size":1}`, ""},
		{"put with another id", "PUT", "/api/segments/vip", `{"id":"other","rule":` + anyOrder + `}`, 400, `{"code":"invalid_rule","path":"/id"}`, `"other" but the path has "vip"`},
		{"cycle", "PUT", "/api/segments/high", `{"rule":{"or":[` + highSpenders + `,{"segment":"vip"}]}}`, 400,
			`{"code":"invalid_rule","path":"/rule"}`, "cycle: high → vip → high"},
		{"self reference", "PUT", "/api/segments/buyers", `{"rule":{"segment":"buyers"}}`, 400, `{"code":"invalid_rule"}`, "cycle"},
		{"delete in use", "DELETE", "/api/segments/high", "", 409, `{"code":"segment_in_use"}`, `is used by "vip": change their rules`},
		{"delete missing", "DELETE", "/api/segments/nope", "", 404, `{"code":"segment_not_found"}`, ""},
		{"put replaces, keeps created_at", "PUT", "/api/segments/buyers",
			`{"id":"buyers","name":"Buyers","created_at":"2000-01-01T00:00:00Z","updated_at":"x","size":9,"entered":1,"exited":2,"rule":` + highSpenders + `}`,
			200, `{"name":"Buyers","size":1,"exited":1,"created_at":"` + created + `"}`, ""},
		{"list", "GET", "/api/segments", "", 200, "", ""},
		{"delete", "DELETE", "/api/segments/vip", "", 200, `{"deleted":true,"id":"vip"}`, ""},
		{"deleted is gone", "GET", "/api/segments/vip", "", 404, `{"code":"segment_not_found"}`, ""},
		{"delete once free", "DELETE", "/api/segments/high", "", 200, `{"deleted":true}`, ""},
		{"wrong method", "PATCH", "/api/segments/high", "", 405, `{"code":"method_not_allowed"}`, "use GET, HEAD, PUT, DELETE"},
		{"wrong method on the collection", "DELETE", "/api/segments", "", 405, `{"code":"method_not_allowed"}`, ""},
		{"unknown path", "GET", "/api/segments/high/nothing", "", 404, `{"code":"not_found"}`, ""},
		{"body too large", "POST", "/api/segments", `{"id":"x","description":"` + strings.Repeat("a", MaxBody) + `"}`, 413, `{"code":"too_large"}`, ""},
	}
	for _, tt := range tests {
		status, hdr, got := call(t, srv, tt.method, tt.path, tt.body)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d: %v", tt.name, status, tt.status, got)
			continue
		}
		checkFields(t, got, tt.want)
		if msg, _ := got["error"].(string); !strings.Contains(msg, tt.contains) {
			t.Errorf("%s: error %q does not say %q", tt.name, msg, tt.contains)
		}
		switch tt.name {
		case "create":
			if loc := hdr.Get("Location"); loc != "/api/segments/high" {
				t.Errorf("create: Location %q", loc)
			}
		case "wrong method":
			if a := hdr.Get("Allow"); a != "GET, HEAD, PUT, DELETE" {
				t.Errorf("wrong method: Allow %q", a)
			}
		case "list":
			var ids []string
			for _, s := range got["segments"].([]any) {
				ids = append(ids, s.(map[string]any)["id"].(string))
			}
			if want := []string{"buyers", "high", "vip"}; !reflect.DeepEqual(ids, want) {
				t.Errorf("list: ids %v, want %v", ids, want)
			}
		}
	}
}

func TestHTTPMembersPagination(t *testing.T) {
	const profiles = 25
	e := shopEngine(t, profiles)
	if _, err := e.Save(Definition{ID: "visitors", Rule: &Rule{Event: "$page"}}); err != nil {
		t.Fatal(err)
	}
	srv := newSegmentServer(t, e)
	want := []string{"p_1"}
	for i := 4; i <= profiles; i++ {
		want = append(want, fmt.Sprintf("p_%d", i))
	}
	for _, limit := range []int{1, 7, 10, len(want), 1000} {
		var got []string
		cursor, pages := "", 0
		for {
			status, _, page := call(t, srv, "GET", fmt.Sprintf("/api/segments/visitors/members?limit=%d&cursor=%s", limit, cursor), "")
			if status != 200 {
				t.Fatalf("limit %d: status %d: %v", limit, status, page)
			}
			pages++
			members := page["members"].([]any)
			if len(members) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(members))
			}
			for _, m := range members {
				got = append(got, m.(string))
			}
			cursor = page["next_cursor"].(string)
			if cursor == "" || pages > len(want)+1 {
				break
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("limit %d: members %v, want %v", limit, got, want)
		}
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}
	status, _, page := call(t, srv, "GET", "/api/segments/visitors/members", "")
	if status != 200 || len(page["members"].([]any)) != len(want) || page["next_cursor"] != "" {
		t.Errorf("default limit: %d %v", status, page)
	}
	errs := []getError{
		{"/api/segments/visitors/members?limit=0", 400, "bad_request"},
		{"/api/segments/visitors/members?limit=1001", 400, "bad_request"},
		{"/api/segments/visitors/members?limit=ten", 400, "bad_request"},
		{"/api/segments/visitors/members?cursor=p_4", 400, "bad_request"},
		{"/api/segments/visitors/members?cursor=-1", 400, "bad_request"},
		{"/api/segments/nope/members", 404, "segment_not_found"},
	}
	checkGetErrors(t, srv, errs)
}

func TestHTTPPreview(t *testing.T) {
	e := shopEngine(t, 15)
	for _, d := range []Definition{
		{ID: "buyers", Rule: &Rule{Computed: "orders", Op: Gte, Value: 1.0}},
		{ID: "carters", Rule: &Rule{Event: "Product Added"}},
	} {
		if _, err := e.Save(d); err != nil {
			t.Fatal(err)
		}
	}
	srv := newSegmentServer(t, e)
	tests := []struct {
		name, body string
		status     int
		want       string
		contains   string
	}{
		{"count and sample", `{"rule":` + highSpenders + `}`, 200, `{"count":1,"sample":["p_1"],"at":"2026-06-01T12:00:00Z"}`, ""},
		{"no comparison without against", `{"rule":` + highSpenders + `}`, 200, `{"entering":null,"leaving":null}`, ""},
		{"against: who leaves", `{"rule":` + highSpenders + `,"against":"buyers"}`, 200,
			`{"count":1,"entering":{"count":0,"sample":[]},"leaving":{"count":1,"sample":["p_3"]}}`, ""},
		{"against: who enters", `{"rule":{"or":[` + anyOrder + `,{"event":"Product Added"}]},"against":"buyers"}`, 200,
			`{"count":3,"entering":{"count":1,"sample":["p_2"]},"leaving":{"count":0,"sample":[]}}`, ""},
		{"against itself moves nobody", `{"rule":{"event":"Product Added"},"against":"carters"}`, 200,
			`{"entering":{"count":0,"sample":[]},"leaving":{"count":0,"sample":[]}}`, ""},
		{"at a date before the orders", `{"rule":` + anyOrder + `,"at":"2025-01-01"}`, 200, `{"count":0,"sample":[],"at":"2025-01-01T00:00:00Z"}`, ""},
		{"at between the orders", `{"rule":` + anyOrder + `,"at":"2025-12-01T00:00:00Z"}`, 200, `{"count":1,"sample":["p_3"]}`, ""},
		{"sample zero", `{"rule":` + anyOrder + `,"sample":0}`, 200, `{"count":2,"sample":[]}`, ""},
		{"sample one", `{"rule":` + anyOrder + `,"sample":1}`, 200, `{"count":2,"sample":["p_1"]}`, ""},
		{"segment reference", `{"rule":{"not":{"segment":"buyers"}}}`, 200, `{"count":13}`, ""},
		{"default sample of 10", `{"rule":{"event":"$page"}}`, 200,
			`{"count":13,"sample":["p_1","p_4","p_5","p_6","p_7","p_8","p_9","p_10","p_11","p_12"]}`, ""},
		{"sample too big", `{"rule":` + anyOrder + `,"sample":101}`, 400, `{"code":"invalid_rule","path":"/sample"}`, "from 0 to 100"},
		{"sample not whole", `{"rule":` + anyOrder + `,"sample":1.5}`, 400, `{"code":"invalid_rule","path":"/sample"}`, "whole number"},
		{"bad at", `{"rule":` + anyOrder + `,"at":"yesterday"}`, 400, `{"code":"invalid_rule","path":"/at"}`, "not a date"},
		{"against missing", `{"rule":` + anyOrder + `,"against":"nope"}`, 400, `{"code":"invalid_rule","path":"/against"}`, `no segment "nope"`},
		{"nested bad op", `{"rule":{"or":[` + anyOrder + `,{"computed":"orders","op":"around","value":1}]}}`, 400,
			`{"code":"invalid_rule","path":"/rule/or/1/op"}`, `unknown op "around"`},
		{"op that does not fit the field", `{"rule":{"computed":"last_order","op":"gt","value":3}}`, 400, `{"code":"invalid_rule","path":"/rule/op"}`, "does not apply to a time"},
		{"missing segment reference", `{"rule":{"segment":"nope"}}`, 400, `{"code":"invalid_rule","path":"/rule/segment"}`, `no segment "nope"`},
		{"no rule", `{"sample":3}`, 400, `{"code":"invalid_rule","path":"/rule"}`, "needs a rule"},
		{"unknown field", `{"rule":` + anyOrder + `,"limit":3}`, 400, `{"code":"invalid_rule","path":"/limit"}`, "known: rule, at, sample, against, text"},
	}
	for _, tt := range tests {
		status, _, got := call(t, srv, "POST", "/api/segments/preview", tt.body)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d: %v", tt.name, status, tt.status, got)
			continue
		}
		checkFields(t, got, tt.want)
		if msg, _ := got["error"].(string); !strings.Contains(msg, tt.contains) {
			t.Errorf("%s: error %q does not say %q", tt.name, msg, tt.contains)
		}
	}
}

func TestHTTPExplain(t *testing.T) {
	e := shopEngine(t, 3)
	if _, err := e.Save(Definition{ID: "high", Rule: &Rule{And: []*Rule{
		{Computed: "total_spend", Op: Gte, Value: 100.0},
		{Not: &Rule{Event: "Product Added"}},
	}}}); err != nil {
		t.Fatal(err)
	}
	srv := newSegmentServer(t, e)
	tests := []struct {
		name, path string
		status     int
		want       string
		// figure is the explanation's first leaf's value (total_spend).
		figure any
	}{
		{"member by identifier", "/api/segments/high/explain/user_id:u1", 200,
			`{"segment":"high","profile":"p_1","member":true,"result":true}`, 300.0},
		{"member by profile id", "/api/segments/high/explain/p_1", 200, `{"profile":"p_1","member":true,"result":true}`, 300.0},
		{"non-member", "/api/segments/high/explain/email:b@example.com", 200,
			`{"segment":"high","profile":"p_2","member":false,"result":false}`, 0.0},
		{"unknown identifier", "/api/segments/high/explain/user_id:nobody", 404, `{"code":"not_found"}`, nil},
		{"profile not indexed", "/api/segments/high/explain/p_999", 404, `{"code":"not_found"}`, nil},
		{"missing segment", "/api/segments/nope/explain/p_1", 404, `{"code":"segment_not_found"}`, nil},
	}
	for _, tt := range tests {
		status, _, got := call(t, srv, "GET", tt.path, "")
		if status != tt.status {
			t.Errorf("%s: status %d, want %d: %v", tt.name, status, tt.status, got)
			continue
		}
		checkFields(t, got, tt.want)
		if status != 200 {
			continue
		}
		ex := got["explanation"].(map[string]any)
		if ex["group"] != "and" || ex["result"] != got["result"] {
			t.Errorf("%s: explanation root %v", tt.name, ex)
		}
		kids := ex["children"].([]any)
		if len(kids) != 2 {
			t.Fatalf("%s: %d children", tt.name, len(kids))
		}
		leaf := kids[0].(map[string]any)
		if leaf["path"] != "/and/0" || leaf["value"] != tt.figure {
			t.Errorf("%s: first leaf %v, want value %v", tt.name, leaf, tt.figure)
		}
	}
}

func TestHTTPExport(t *testing.T) {
	// More members than one page of the export, so paging is exercised.
	const profiles = exportPage + 200
	e := shopEngine(t, profiles)
	if _, err := e.Save(Definition{ID: "visitors", Rule: &Rule{Event: "$page"}}); err != nil {
		t.Fatal(err)
	}
	want, _, err := e.Members("visitors", "", profiles)
	if err != nil || len(want) != profiles-2 {
		t.Fatalf("members: %d, %v", len(want), err)
	}
	srv := newSegmentServer(t, e)
	get := func(path string) (*http.Response, []byte) {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return res, b
	}

	for _, path := range []string{"/api/segments/visitors/export", "/api/segments/visitors/export?format=csv&fields=id"} {
		res, b := get(path)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			res.Header.Get("Content-Disposition") != `attachment; filename="visitors.csv"` {
			t.Fatalf("%s: %d %v", path, res.StatusCode, res.Header)
		}
		rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(want)+1 || rows[0][0] != "id" {
			t.Fatalf("%s: %d rows, header %v", path, len(rows), rows[0])
		}
		for i, id := range want {
			if rows[i+1][0] != id {
				t.Fatalf("%s: row %d is %v, want %s", path, i+1, rows[i+1], id)
			}
		}
	}

	res, b := get("/api/segments/visitors/export?format=ndjson")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("ndjson: %d %v", res.StatusCode, res.Header)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var line map[string]string
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || len(line) != 1 {
			t.Fatalf("ndjson line %q: %v", sc.Text(), err)
		}
		got = append(got, line["id"])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ndjson: %d ids, want %d", len(got), len(want))
	}

	errs := []getError{
		{"/api/segments/visitors/export?format=xlsx", 400, "bad_request"},
		{"/api/segments/visitors/export?fields=id,email", 400, "bad_request"},
		{"/api/segments/nope/export", 404, "segment_not_found"},
	}
	checkGetErrors(t, srv, errs)
}

// TestHTTPDocExamples keeps the rule examples of docs/API.md valid: each
// previews without error on the shop, the segments the last one refers to
// saved from the first and the fourth (high spenders, lapsed customers).
func TestHTTPDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "#### Examples\n")
	if !ok {
		t.Fatal("docs/API.md has no segment examples")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rules []string
	for _, block := range strings.Split(section, "```json\n")[1:] {
		rule, _, _ := strings.Cut(block, "```")
		rules = append(rules, rule)
	}
	if len(rules) < 5 {
		t.Fatalf("%d examples, want at least 5", len(rules))
	}
	srv := newSegmentServer(t, shopEngine(t, 5))
	for id, i := range map[string]int{"high_spenders": 0, "lapsed": 3} {
		if status, _, got := call(t, srv, "PUT", "/api/segments/"+id, `{"rule":`+rules[i]+`}`); status != 200 {
			t.Fatalf("example %d as %s: %d %v", i+1, id, status, got)
		}
	}
	for i, rule := range rules {
		if status, _, got := call(t, srv, "POST", "/api/segments/preview", `{"rule":`+rule+`}`); status != 200 {
			t.Errorf("example %d: %d %v\n%s", i+1, status, got, rule)
		}
	}
	// The cart abandoner is the one who added and did not buy.
	_, _, got := call(t, srv, "POST", "/api/segments/preview", `{"rule":`+rules[1]+`}`)
	checkFields(t, got, `{"count":1,"sample":["p_2"]}`)
}

func TestHTTPExplainWithoutLookupTakesProfileIDs(t *testing.T) {
	e := shopEngine(t, 3)
	if _, err := e.Save(Definition{ID: "buyers", Rule: &Rule{Computed: "orders", Op: Gte, Value: 1.0}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&HTTP{Engine: e}).Handler())
	t.Cleanup(srv.Close)
	for path, want := range map[string]string{
		"/api/segments/buyers/explain/p_3":        `{"profile":"p_3","member":true,"result":true}`,
		"/api/segments/buyers/explain/p_2":        `{"profile":"p_2","member":false,"result":false}`,
		"/api/segments/buyers/explain/user_id:u1": `{"code":"not_found"}`,
	} {
		_, _, got := call(t, srv, "GET", path, "")
		checkFields(t, got, want)
	}
}

// FuzzHTTPBody: whatever the body, a definition or a preview is answered
// with JSON and a 2xx or 4xx, never a 500 or a panic.
func FuzzHTTPBody(f *testing.F) {
	for _, s := range []string{
		`{"id":"x","rule":` + highSpenders + `}`,
		`{"id":"x","rule":{"and":[{"event":"Page","where":[{"property":"a.b","op":"in","value":[1,"x"]}],"within":{"from":"2026-01-01","to":"2026-02-01"}}]}}`,
		`{"rule":{"or":[{"not":{"segment":"x"}}]},"sample":-1,"at":"2026"}`,
		`{"rule":{"trait":"t","op":"between","value":[2,1]}}`, `[]`, `{"rule":[]}`, `{"rule":{"and":{}}}`, `{"sample":1e400}`, `nul`,
	} {
		f.Add(s)
	}
	e := shopEngine(f, 3)
	h := (&HTTP{Engine: e, Lookup: lookupTable}).Handler()
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/api/segments/preview", "/api/segments/fuzz"} {
			method := "POST"
			if path != "/api/segments/preview" {
				method = "PUT"
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
			if rec.Code >= 500 || rec.Header().Get("Content-Type") != "application/json" || !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
			}
		}
	})
}

// getError is a GET that must fail with status and code.
type getError struct {
	path   string
	status int
	code   string
}

func checkGetErrors(t *testing.T, srv *httptest.Server, errs []getError) {
	t.Helper()
	for _, tt := range errs {
		status, _, got := call(t, srv, "GET", tt.path, "")
		if status != tt.status || got["code"] != tt.code {
			t.Errorf("%s: %d %v, want %d %s", tt.path, status, got, tt.status, tt.code)
		}
	}
}
