package segment

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// setTraits gives profile pid the traits, as the profile store would.
func setTraits(t testing.TB, e *Engine, pid string, traits map[string]any) {
	t.Helper()
	e.ix.mu.Lock()
	defer e.ix.mu.Unlock()
	o, ok := e.ix.lookup(pid)
	if !ok {
		t.Fatalf("no profile %s in the index", pid)
	}
	e.ix.setTraits(o, func(yield func(string, string) bool) {
		for k, v := range traits {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !yield(k, string(b)) {
				return
			}
		}
	})
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// getBody fetches path and returns the answer and its body.
func getBody(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestAudienceNormalizeEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ann@example.com", "ann@example.com"},
		{"  Ann.Lee@Example.COM\t", "ann.lee@example.com"},
		{"ANN+promo@example.com", "ann+promo@example.com"},
		{"no-at-sign", ""},
		{"   ", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeEmail(tt.in); got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAudienceNormalizePhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+33612345678", "+33612345678"},
		{"+33 6 12 34 56 78", "+33612345678"},
		{"+33 (0)6 12 34 56 78", "+33612345678"},
		{"0033 6.12.34.56.78", "+33612345678"},
		{"+1 (201) 555-0123", "+12015550123"},
		{" 14155550123 ", "+14155550123"},
		{"+44 20 7946 0958", "+442079460958"},
		{"06 12 34 56 78", ""},          // national form: no country
		{"+33 612", ""},                 // fewer than 8 digits
		{"1234567", ""},                 // fewer than 8 digits
		{"+1234567890123456", ""},       // more than E.164's 15
		{"+33 6 12 34 56 78 ext 9", ""}, // letters
		{"+33+612345678", ""},           // a plus inside
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizePhone(tt.in); got != tt.want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAudienceRowHashesNormalizedValues(t *testing.T) {
	tests := []struct {
		name         string
		email, phone any
		wantE, wantP string
		ok           bool
	}{
		{"both", " Ann@Example.com ", "+33 6 12 34 56 78", sha("ann@example.com"), sha("+33612345678"), true},
		{"email only", "b@example.com", nil, sha("b@example.com"), "", true},
		{"phone only", nil, "0033612345678", "", sha("+33612345678"), true},
		{"phone as a number", nil, 33612345678.0, "", sha("+33612345678"), true},
		{"unusable phone", "c@example.com", "12 34", sha("c@example.com"), "", true},
		{"neither usable", "not an email", "06 12 34 56 78", "", "", false},
		{"neither", nil, nil, "", "", false},
		{"email not a string", 42.0, true, "", "", false},
	}
	for _, tt := range tests {
		e, p, ok := audienceRow(tt.email, tt.phone)
		if e != tt.wantE || p != tt.wantP || ok != tt.ok {
			t.Errorf("%s: audienceRow = %q, %q, %v; want %q, %q, %v", tt.name, e, p, ok, tt.wantE, tt.wantP, tt.ok)
		}
	}
	// A known vector, so that the hashing itself is pinned, not only
	// agreement with the test's own sha256.
	if got := hashHex("test@example.com"); got != "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b" {
		t.Errorf("hashHex(test@example.com) = %s", got)
	}
}

// exportEngine is the shop with traits and a segment "everyone".
func exportEngine(t *testing.T) *Engine {
	t.Helper()
	e := shopEngine(t, 5)
	setTraits(t, e, "p_1", map[string]any{"email": " Ann@Example.com ", "plan": "pro", "phone": "+33 6 12 34 56 78",
		"note": "says \"hi\", then\nleaves"})
	setTraits(t, e, "p_2", map[string]any{"email": "b@example.com", "tags": []any{"a", "b"}, "vip": true})
	setTraits(t, e, "p_3", map[string]any{"age": 42, "phone": "06 12"})
	setTraits(t, e, "p_5", map[string]any{"phone": "0044 20 7946 0958"})
	if _, err := e.Save(Definition{ID: "everyone", Rule: &Rule{Computed: "event_count", Op: Gte, Value: 1.0}}); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestHTTPExportFields(t *testing.T) {
	srv := newSegmentServer(t, exportEngine(t))
	day := 24 * time.Hour
	lastSeen1 := httpNow.Add(-day).Format(time.RFC3339)
	lastSeen2 := httpNow.Add(-2 * day).Format(time.RFC3339)

	res, body := getBody(t, srv.URL+"/api/segments/everyone/export?fields=id,email,plan,note,tags,age,orders,total_spend,last_seen,lifecycle")
	if res.StatusCode != 200 {
		t.Fatalf("csv: %d %s", res.StatusCode, body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("csv does not parse: %v\n%s", err, body)
	}
	want := [][]string{
		{"id", "email", "plan", "note", "tags", "age", "orders", "total_spend", "last_seen", "lifecycle"},
		{"p_1", " Ann@Example.com ", "pro", "says \"hi\", then\nleaves", "", "", "1", "300", lastSeen1, "new"},
		{"p_2", "b@example.com", "", "", `["a","b"]`, "", "0", "0", lastSeen2, "prospect"},
		{"p_3", "", "", "", "", "42", "1", "20", httpNow.Add(-365 * day).Format(time.RFC3339), "lapsed"},
	}
	if len(rows) != 6 || !reflect.DeepEqual(rows[:4], want) {
		t.Errorf("csv rows:\n%q\nwant the first four:\n%q", rows, want)
	}
	// RFC 4180: a field with a quote, comma or line break is quoted, its
	// quotes doubled.
	if !strings.Contains(body, `"says ""hi"", then`+"\n"+`leaves"`) {
		t.Errorf("csv does not quote the note:\n%s", body)
	}

	res, body = getBody(t, srv.URL+"/api/segments/everyone/export?format=ndjson&fields=id,%20vip,orders,tags,last_order")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("ndjson: %d %s", res.StatusCode, body)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("ndjson line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 5 {
		t.Fatalf("ndjson: %d lines, want 5", len(lines))
	}
	wantLines := []map[string]any{
		{"id": "p_1", "vip": nil, "orders": 1.0, "tags": nil, "last_order": httpNow.Add(-2 * day).Format(time.RFC3339)},
		{"id": "p_2", "vip": true, "orders": 0.0, "tags": []any{"a", "b"}, "last_order": nil},
	}
	if !reflect.DeepEqual(lines[:2], wantLines) {
		t.Errorf("ndjson:\n%v\nwant\n%v", lines[:2], wantLines)
	}
	// Keys keep the order of fields.
	if first, _, _ := strings.Cut(body, "\n"); !strings.HasPrefix(first, `{"id":"p_1","vip":null,"orders":1,`) {
		t.Errorf("ndjson key order: %s", first)
	}

	errs := []struct{ path, contains string }{
		{"?fields=id,colour", `unknown field "colour"`},
		{"?fields=id,,email", "an empty name"},
		{"?fields=email,email", `"email" is listed twice`},
		{"?format=ndjson&fields=id,nope", `unknown field "nope"`},
		{"?fields=" + strings.Repeat("id,", MaxExportFields) + "id", "at most"},
		{"?format=audience&fields=id", "not used with format=audience"},
	}
	for _, tt := range errs {
		status, _, got := call(t, srv, "GET", "/api/segments/everyone/export"+tt.path, "")
		if msg, _ := got["error"].(string); status != 400 || got["code"] != "bad_request" || !strings.Contains(msg, tt.contains) {
			t.Errorf("%s: %d %v, want 400 saying %q", tt.path, status, got, tt.contains)
		}
	}
}

func TestHTTPExportAudience(t *testing.T) {
	srv := newSegmentServer(t, exportEngine(t))
	res, body := getBody(t, srv.URL+"/api/segments/everyone/export?format=audience")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="everyone-audience.csv"` {
		t.Fatalf("audience: %d %v %s", res.StatusCode, res.Header, body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// p_3 (a phone too short) and p_4 (nothing) are left out.
	want := [][]string{
		{"email_sha256", "phone_sha256"},
		{sha("ann@example.com"), sha("+33612345678")},
		{sha("b@example.com"), ""},
		{"", sha("+442079460958")},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("audience rows:\n%q\nwant\n%q", rows, want)
	}

	// Without any email or phone trait in the index, the file is a header.
	bare := shopEngine(t, 3)
	if _, err := bare.Save(Definition{ID: "all", Rule: &Rule{Computed: "event_count", Op: Gte, Value: 1.0}}); err != nil {
		t.Fatal(err)
	}
	_, body = getBody(t, newSegmentServer(t, bare).URL+"/api/segments/all/export?format=audience")
	if body != "email_sha256,phone_sha256\n" {
		t.Errorf("audience without traits: %q", body)
	}
}
