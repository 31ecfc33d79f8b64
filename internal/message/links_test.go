package message

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tailor/internal/track"
)

func TestRewriteTextLinks(t *testing.T) {
	wrap := func(u string) string { return "<" + u + ">" }
	cases := []struct{ in, want string }{
		{"Visit https://shop.example/cart", "Visit <https://shop.example/cart>"},
		{"See https://shop.example/new.", "See <https://shop.example/new>."},
		{"(at https://shop.example/a?b=1&c=2)", "(at <https://shop.example/a?b=1&c=2>)"},
		{"https://en.example/wiki/Foo_(bar) and more", "<https://en.example/wiki/Foo_(bar)> and more"},
		{"two: http://a.example/x, HTTPS://B.example/y!", "two: <http://a.example/x>, <HTTPS://B.example/y>!"},
		{"no link: mailto:x@y.example, ftp://z.example, https://", "no link: mailto:x@y.example, ftp://z.example, https://"},
		{"quoted \"https://q.example/p\"", "quoted \"<https://q.example/p>\""},
		{"line end https://e.example/p\nnext", "line end <https://e.example/p>\nnext"},
	}
	for _, c := range cases {
		if got := rewriteTextLinks(c.in, wrap); got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// The text part's links become signed click links like the HTML's; the
// message's own links (unsubscribe, preferences, confirmation) stay.
func TestRenderTracksTextPartLinks(t *testing.T) {
	e := newTestEngine(t)
	tpl := Template{ID: "txt", Channel: "email", Parts: Parts{Subject: "s", HTML: "<p>x</p>",
		Text: "New in: https://shop.example/new.\nUnsubscribe: {{ unsubscribe_url }}\nPreferences: {{ preferences_url }}"}}
	if _, err := e.Templates.Save(tpl, true); err != nil {
		t.Fatal(err)
	}
	out, err := e.Render(context.Background(), RenderRequest{Template: "txt", Profile: "p_ann", SendKey: "k9", BaseURL: "https://t.example"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.Text, "\n")
	click, ok := strings.CutPrefix(lines[0], "New in: https://t.example/t/c/")
	if !ok || !strings.HasSuffix(click, ".") {
		t.Fatalf("text link not tracked: %q", lines[0])
	}
	c, err := e.Signer.Verify(strings.TrimSuffix(click, "."), track.KindClick)
	if err != nil || c.URL != "https://shop.example/new" || c.Key != "k9" {
		t.Fatalf("text click token %+v %v", c, err)
	}
	if !strings.HasPrefix(lines[1], "Unsubscribe: https://t.example/u/") || !strings.HasPrefix(lines[2], "Preferences: https://t.example/p/") {
		t.Errorf("own links rewritten: %q", out.Text)
	}
	if strings.Count(out.Text, "/t/c/") != 1 {
		t.Errorf("want one click link: %q", out.Text)
	}
}

// Links expire by kind; an expired click shows where it led without
// recording or redirecting, and an expired pixel records nothing.
func TestExpiredTrackingLinks(t *testing.T) {
	e := newTestEngine(t)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e.Signer.Now = func() time.Time { return now }
	var got []string
	h := (&HTTP{Engine: e, Record: func(_ context.Context, msgs [][]byte) error {
		for _, m := range msgs {
			var v map[string]any
			_ = json.Unmarshal(m, &v)
			got = append(got, v["event"].(string))
		}
		return nil
	}}).Tracking()
	click := e.Signer.Sign(track.Claims{Kind: track.KindClick, Profile: "p_ann", Key: "k1", URL: "https://shop.example/x?a=1&b=2"})
	open := e.Signer.Sign(track.Claims{Kind: track.KindOpen, Profile: "p_ann", Key: "k1"})
	get := func(path string) *httptest.ResponseRecorder {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("GET", path, nil))
		return rr
	}
	now = now.Add(track.Lifetimes[track.KindClick] - time.Second)
	if rr := get("/t/c/" + click); rr.Code != http.StatusFound {
		t.Fatalf("a click just before expiry: %d", rr.Code)
	}
	now = now.Add(time.Second)
	rr := get("/t/c/" + click)
	if rr.Code != http.StatusGone || rr.Header().Get("Location") != "" || !strings.Contains(rr.Body.String(), "expired") ||
		!strings.Contains(rr.Body.String(), `href="https://shop.example/x?a=1&amp;b=2"`) {
		t.Fatalf("expired click: %d %s", rr.Code, rr.Body)
	}
	if rr := get("/t/o/" + open); rr.Code != 200 || rr.Header().Get("Content-Type") != "image/gif" {
		t.Fatalf("expired pixel: %d", rr.Code)
	}
	if len(got) != 1 {
		t.Fatalf("recorded %v, want the one click before expiry", got)
	}
	if rr := get("/t/c/x" + click[1:]); rr.Code != http.StatusBadRequest || !strings.Contains(rr.Body.String(), "not valid") {
		t.Fatalf("tampered: %d %s", rr.Code, rr.Body)
	}
}
