package deliver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newHTTP(t *testing.T) (*HTTP, *harness) {
	h := newHarness(t, nil, nil)
	ids := map[string]string{"email:ann@example.com": "p-ann", "user_id:42": "p-ann", "p-ann": "p-ann"}
	return &HTTP{Engine: h.e, Outbox: h.q, Inbox: &Inbox{DB: h.db},
		Lookup:   func(k string) (string, bool) { id, ok := ids[k]; return id, ok },
		WriteKey: func(k string) bool { return k == "wk" },
		Template: func(id, ch string) bool { return id == "welcome" && ch == "email" }}, h
}

func do(t *testing.T, hd http.Handler, method, target, body string, edit func(*http.Request)) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if edit != nil {
		edit(r)
	}
	w := httptest.NewRecorder()
	hd.ServeHTTP(w, r)
	var m map[string]any
	json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m
}

func TestSendAPIValidates(t *testing.T) {
	api, h := newHTTP(t)
	for _, tc := range []struct {
		body    string
		code    int
		mention string
	}{
		{`{"template":"welcome","profile":"email:ann@example.com"}`, 202, ""},
		{`{"profile":"user_id:42"}`, 400, "template is required"},
		{`{"template":"welcome"}`, 400, "profile is required"},
		{`{"template":"welcome","profile":"user_id:42","channel":"fax"}`, 400, `channel "fax"`},
		{`{"template":"welcome","profile":"user_id:7"}`, 404, "user_id:7"},
		{`{"template":"welcome","profile":"user_id:42","version":-1}`, 400, "version"},
		{`{"template":"welcome","profile":"user_id:42","colour":"red"}`, 400, "colour"},
		{`{"template":"nope","profile":"user_id:42"}`, 404, `email template "nope"`},
		{`{"template":"welcome","profile":"user_id:42","channel":"sms"}`, 404, `sms template "welcome"`},
		{`{"template":`, 400, "body"},
		{`{"template":"welcome","profile":"user_id:42","data":"` + strings.Repeat("x", MaxSendBody) + `"}`, 413, "over"},
	} {
		code, m := do(t, api.Admin(), "POST", "/api/send", tc.body, nil)
		msg, _ := m["error"].(string)
		if code != tc.code || !strings.Contains(msg, tc.mention) {
			t.Errorf("%.60s: %d %v, want %d naming %q", tc.body, code, m, tc.code, tc.mention)
		}
	}
	if h.q.Depth() != 1 {
		t.Fatalf("depth %d: refused sends were enqueued", h.q.Depth())
	}
}

func TestSendAPIIdempotencyKey(t *testing.T) {
	api, h := newHTTP(t)
	for range 2 {
		code, m := do(t, api.Admin(), "POST", "/api/send", `{"template":"welcome","profile":"user_id:42"}`, func(r *http.Request) { r.Header.Set("Idempotency-Key", "abc") })
		if code != 202 || m["key"] != "t:abc" || m["profile"] != "p-ann" || m["state"] != "queued" {
			t.Fatalf("%d %v", code, m)
		}
	}
	if h.q.Depth() != 1 {
		t.Fatalf("depth %d after the same key twice", h.q.Depth())
	}
	h.drain(t)
	code, m := do(t, api.Admin(), "GET", "/api/messages?profile=email:ann@example.com", "", nil)
	msgs, _ := m["messages"].([]any)
	if code != 200 || len(msgs) != 1 || msgs[0].(map[string]any)["state"] != "sent" || msgs[0].(map[string]any)["purpose"] != "transactional" {
		t.Fatalf("history %d %v", code, m)
	}
	for target, want := range map[string]int{"/api/messages": 400, "/api/messages?profile=user_id:7": 404, "/api/messages?profile=p-ann&limit=0": 400, "/api/messages/t:abc": 200, "/api/messages/t:nope": 404} {
		if code, _ := do(t, api.Admin(), "GET", target, "", nil); code != want {
			t.Errorf("GET %s: %d, want %d", target, code, want)
		}
	}
}

func TestInboxAPI(t *testing.T) {
	api, _ := newHTTP(t)
	if _, err := api.Inbox.Send(context.Background(), Envelope{Key: "k1", Profile: "p-ann", Rendered: Rendered{Title: "Hi", Body: "b"}}); err != nil {
		t.Fatal(err)
	}
	withKey := func(k string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(k, "") } }
	for _, tc := range []struct {
		target string
		auth   func(*http.Request)
		code   int
	}{
		{"/v1/inbox?userId=42", withKey("wk"), 200},
		{"/v1/inbox?userId=42", nil, 401},
		{"/v1/inbox?userId=42", withKey("bad"), 401},
		{"/v1/inbox", withKey("wk"), 400},
		{"/v1/inbox?userId=7", withKey("wk"), 404},
		{"/v1/inbox?userId=42&limit=1000", withKey("wk"), 400},
	} {
		if code, m := do(t, api.Public(), "GET", tc.target, "", tc.auth); code != tc.code {
			t.Errorf("GET %s: %d %v, want %d", tc.target, code, m, tc.code)
		}
	}
	_, m := do(t, api.Public(), "GET", "/v1/inbox?userId=42", "", withKey("wk"))
	items := m["messages"].([]any)
	id := items[0].(map[string]any)["id"].(string)
	if m["unread"] != float64(1) {
		t.Fatalf("unread %v", m["unread"])
	}
	if code, _ := do(t, api.Public(), "POST", "/v1/inbox/nope/read?userId=42", "", withKey("wk")); code != 404 {
		t.Errorf("reading an unknown item: %d", code)
	}
	if code, m := do(t, api.Public(), "POST", "/v1/inbox/"+id+"/read?userId=42", "", withKey("wk")); code != 200 || m["read"] == nil {
		t.Fatalf("mark read: %d %v", code, m)
	}
	if _, m := do(t, api.Admin(), "GET", "/api/profiles/email:ann@example.com/inbox", "", nil); m["unread"] != float64(0) {
		t.Fatalf("admin inbox after read: %v", m)
	}
}

func TestBasicRendererLinks(t *testing.T) {
	var got []Event
	b := &BasicRenderer{Traits: func(p string) (map[string]any, bool) {
		return map[string]any{"first_name": "<Ann>", "email": "ann@example.com"}, p == "p1"
	}, Secret: []byte("s"), Templates: BasicTemplates, Record: func(_ context.Context, evs []Event) error { got = append(got, evs...); return nil }}
	r, err := b.Render(context.Background(), RenderRequest{Template: "order_confirmation", Profile: "p1", Data: map[string]any{"order_id": "o&1"}, SendKey: "k", BaseURL: "http://t"})
	if err != nil {
		t.Fatal(err)
	}
	if r.To != "ann@example.com" || r.Subject != "Thank you for your order, <Ann>" || !strings.Contains(r.HTML, "Hi &lt;Ann&gt;") || r.Headers["List-Unsubscribe-Post"] == "" {
		t.Fatalf("rendered %+v", r)
	}
	i := strings.Index(r.HTML, `href="http://t/t/fc/`)
	if i < 0 || strings.Contains(r.HTML, `href="https://shop`) {
		t.Fatalf("links not rewritten: %s", r.HTML)
	}
	link := r.HTML[i+len(`href="http://t`):]
	link = link[:strings.IndexByte(link, '"')]
	w := httptest.NewRecorder()
	b.Handler().ServeHTTP(w, httptest.NewRequest("GET", link, nil))
	if w.Code != 302 || w.Header().Get("Location") != "https://shop.example/orders/o&1" {
		t.Fatalf("click: %d %q", w.Code, w.Header().Get("Location"))
	}
	if len(got) != 1 || got[0].Name != "Message Clicked" || got[0].Properties["message_key"] != "k" {
		t.Fatalf("events %+v", got)
	}
	w = httptest.NewRecorder()
	b.Handler().ServeHTTP(w, httptest.NewRequest("GET", link[:len(link)-2]+"AA", nil))
	if w.Code != 400 {
		t.Fatalf("a forged link answered %d", w.Code)
	}
	if _, err := b.Render(context.Background(), RenderRequest{Template: "nope", Profile: "p1"}); err == nil {
		t.Fatal("unknown template rendered")
	}
}
