package message

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"tailor/internal/catalog"
	"tailor/internal/store"
	"tailor/internal/track"
)

type fakeProfiles map[string]track.Profile

func (f fakeProfiles) Profile(k string) (track.Profile, bool) { p, ok := f[k]; return p, ok }

type fakeProducts map[string]catalog.Product

func (f fakeProducts) Get(_ context.Context, id string) (catalog.Product, bool, error) {
	p, ok := f[id]
	return p, ok, nil
}

type fakeCoupons struct{ codes map[string]string }

func (f *fakeCoupons) Claim(pool, key string) (string, error) {
	if pool == "empty" {
		return "", errors.New("pool is empty")
	}
	c := pool + "-" + key
	f.codes[key] = c
	return c, nil
}
func (f *fakeCoupons) Available(pool string) (int, error) {
	if pool == "empty" {
		return 0, nil
	}
	return 5, nil
}

func newTestEngine(t testing.TB) *Engine {
	t.Helper()
	db, err := store.Open(t.TempDir(), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sec, err := Secret(db)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := track.NewSigner(sec)
	products := fakeProducts{"sku-1": {ID: "sku-1", Name: "Rain Jacket", Price: 89.5}}
	coupons := &fakeCoupons{codes: map[string]string{}}
	liq := NewLiquid(products, coupons)
	profiles := fakeProfiles{
		"p_ann": {ID: "p_ann", UserID: "ann", Traits: map[string]any{"email": "ann@example.com", "first_name": "Ann", "locale": "fr-CA", "phone": "+15550001"}, Computed: map[string]any{"orders": 3}},
		"p_bob": {ID: "p_bob", UserID: "bob", Traits: map[string]any{"email": "bob@example.com", "locale": "de"}},
		"p_eve": {ID: "p_eve", AnonymousID: "a-eve", Traits: map[string]any{"locale": "pt_BR"}},
	}
	return NewEngine(liq, NewStore(db, liq), profiles, products, coupons, signer)
}

func TestValidateReportsFieldLineAndColumn(t *testing.T) {
	e := newTestEngine(t)
	cases := []struct {
		name      string
		tpl       Template
		field     string
		line, col int
	}{
		{"unclosed tag in html", Template{ID: "a", Channel: "email", Parts: Parts{Subject: "hi", HTML: "<p>\n  {% if x %}yes"}}, "html", 2, 3},
		{"bad filter syntax in subject", Template{ID: "a", Channel: "email", Parts: Parts{Subject: "Hi {{ name | | }}", Text: "x"}}, "subject", 1, 4},
		{"unknown tag in locale variant", Template{ID: "a", Channel: "sms", Parts: Parts{Body: "ok"}, Locales: map[string]Parts{"fr": {Body: "a\nb\n  {% frobnicate %}"}}}, "locales.fr.body", 3, 3},
		{"endfor without for", Template{ID: "a", Channel: "push", Parts: Parts{Body: "x {% endfor %}"}}, "body", 1, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.tpl.Validate(e.liq)
			var pe *PositionError
			if !errors.As(err, &pe) {
				t.Fatalf("want a PositionError, got %v", err)
			}
			if pe.Field != c.field || pe.Line != c.line || pe.Column != c.col {
				t.Errorf("got %s line %d col %d (%s), want %s line %d col %d", pe.Field, pe.Line, pe.Column, pe.Msg, c.field, c.line, c.col)
			}
		})
	}
}

func TestValidateRejectsWrongShapes(t *testing.T) {
	e := newTestEngine(t)
	cases := []struct {
		name string
		tpl  Template
		want string
	}{
		{"bad id", Template{ID: "Bad Id", Channel: "sms", Parts: Parts{Body: "x"}}, "id"},
		{"unknown channel", Template{ID: "a", Channel: "fax", Parts: Parts{Body: "x"}}, "channel"},
		{"email without subject", Template{ID: "a", Channel: "email", Parts: Parts{HTML: "x"}}, "subject"},
		{"email without body parts", Template{ID: "a", Channel: "email", Parts: Parts{Subject: "x"}}, "html, text"},
		{"webhook without url", Template{ID: "a", Channel: "webhook", Parts: Parts{JSON: "{}"}}, "url"},
		{"bad locale", Template{ID: "a", Channel: "sms", Parts: Parts{Body: "x"}, Locales: map[string]Parts{"??": {Body: "y"}}}, "locales"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.tpl.Validate(e.liq)
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.HasPrefix(ve.Msg, c.want) {
				t.Fatalf("want a ValidationError starting %q, got %v", c.want, err)
			}
		})
	}
}

func TestRenderPicksLocaleAndDefaults(t *testing.T) {
	e := newTestEngine(t)
	tpl := Template{ID: "hello", Channel: "sms", Parts: Parts{Body: "Hello {{ profile.traits.first_name }}"},
		Locales:  map[string]Parts{"fr": {Body: "Bonjour {{ profile.traits.first_name }}"}, "pt-BR": {Body: "Olá {{ profile.traits.first_name }}"}},
		Defaults: map[string]any{"first_name": "friend"}}
	if _, err := e.Templates.Save(tpl, true); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ profile, want, locale string }{
		{"p_ann", "Bonjour Ann", "fr"},   // fr-CA falls back to fr
		{"p_bob", "Hello friend", ""},    // de has no variant; default fills the name
		{"p_eve", "Olá friend", "pt-BR"}, // pt_BR matches pt-BR
	}
	for _, c := range cases {
		out, err := e.Render(context.Background(), RenderRequest{Template: "hello", Profile: c.profile, SendKey: "k"})
		if err != nil {
			t.Fatal(err)
		}
		if out.Body != c.want || out.Locale != c.locale {
			t.Errorf("%s: got %q (%q), want %q (%q)", c.profile, out.Body, out.Locale, c.want, c.locale)
		}
	}
}

func TestRenderBindings(t *testing.T) {
	e := newTestEngine(t)
	cases := []struct {
		name, src, want string
		data            map[string]any
		wantErr         bool
	}{
		{"missing variable is empty", "[{{ profile.traits.nope }}]", "[]", nil, false},
		{"default filter", `{{ profile.traits.nope | default: "x" }}`, "x", nil, false},
		{"event data", "{{ event.total }} {{ data.total }}", "12 12", map[string]any{"total": 12}, false},
		{"computed", "{{ profile.computed.orders }}", "3", nil, false},
		{"catalog index", `{{ catalog["sku-1"].name }}`, "Rain Jacket", nil, false},
		{"product filter", `{% assign p = event.sku | product %}{{ p.name }}`, "Rain Jacket", map[string]any{"sku": "sku-1"}, false},
		{"missing product is empty", `[{{ catalog["nope"].name }}]`, "[]", nil, false},
		{"coupon per send key", "{% coupon spring %}", "spring-key1", nil, false},
		{"empty coupon pool fails", "{% coupon empty %}", "", nil, true},
		{"confirm link", `{{ confirm_url | slice: 0, 6 }}`, "/t/d/e", nil, false},
		{"runtime error fails", "{{ 1 | divided_by: 0 }}", "", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tpl := Template{ID: "b", Channel: "sms", Parts: Parts{Body: c.src}}
			if err := tpl.Validate(e.liq); err != nil {
				t.Fatal(err)
			}
			out, err := e.render(context.Background(), &tpl, RenderRequest{Profile: "p_ann", Data: c.data, SendKey: "key1"}, false)
			if c.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %q", out.Body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Body != c.want {
				t.Errorf("got %q, want %q", out.Body, c.want)
			}
		})
	}
}

func TestRenderEmailRewritesLinksAddsPixelAndHeaders(t *testing.T) {
	e := newTestEngine(t)
	tpl := Template{ID: "mail", Channel: "email", Parts: Parts{Subject: "Hi\n{{ profile.traits.first_name }}",
		HTML: `<html><body><a href="https://shop.example/p?a=1&amp;b=2">shop</a> <a href='mailto:x@y'>m</a> <a href="{{ unsubscribe_url }}">unsub</a></body></html>`,
		Text: "Visit https://shop.example"}}
	if _, err := e.Templates.Save(tpl, true); err != nil {
		t.Fatal(err)
	}
	out, err := e.Render(context.Background(), RenderRequest{Template: "mail", Profile: "p_ann", SendKey: "j:1:2", BaseURL: "https://t.example/", Journey: "welcome", Step: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if out.To != "ann@example.com" || out.Subject != "Hi Ann" {
		t.Errorf("to %q subject %q", out.To, out.Subject)
	}
	if strings.Contains(out.HTML, `href="https://shop.example`) {
		t.Errorf("link not rewritten: %s", out.HTML)
	}
	if !strings.Contains(out.HTML, "mailto:x@y") {
		t.Errorf("mailto link changed: %s", out.HTML)
	}
	i := strings.Index(out.HTML, `href="https://t.example/t/c/`)
	if i < 0 {
		t.Fatalf("no click link: %s", out.HTML)
	}
	href := out.HTML[i+6:]
	href = href[:strings.IndexByte(href, '"')]
	tok := strings.TrimPrefix(href, "https://t.example/t/c/")
	c, err := e.Signer.Verify(tok, track.KindClick)
	if err != nil || c.URL != "https://shop.example/p?a=1&b=2" || c.Profile != "p_ann" || c.Key != "j:1:2" || c.Journey != "welcome" {
		t.Errorf("click token %+v, %v", c, err)
	}
	if !strings.Contains(out.HTML, `<img src="https://t.example/t/o/`) || !strings.Contains(out.HTML, `</body>`) || strings.Index(out.HTML, "<img") > strings.Index(out.HTML, "</body>") {
		t.Errorf("pixel missing or after </body>: %s", out.HTML)
	}
	lu := out.Headers["List-Unsubscribe"]
	if !strings.HasPrefix(lu, "<https://t.example/u/") || out.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
		t.Errorf("headers %v", out.Headers)
	}
	if !strings.Contains(out.HTML, `href="`+strings.Trim(lu, "<>")+`"`) {
		t.Errorf("unsubscribe link in the body should be the header's, unwrapped: %s", out.HTML)
	}
	if _, err := url.Parse(strings.Trim(lu, "<>")); err != nil {
		t.Error(err)
	}
}

func TestVersionsAreKeptAndDeleteHidesHead(t *testing.T) {
	e := newTestEngine(t)
	if _, err := e.Templates.Save(Template{ID: "v", Channel: "sms", Parts: Parts{Body: "one"}}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Templates.Save(Template{ID: "v", Channel: "sms", Parts: Parts{Body: "two"}}, true); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	t2, err := e.Templates.Save(Template{ID: "v", Channel: "sms", Parts: Parts{Body: "two"}}, false)
	if err != nil || t2.Version != 2 {
		t.Fatalf("replace: %v %d", err, t2.Version)
	}
	for v, want := range map[int]string{0: "two", 1: "one", 2: "two"} {
		out, err := e.Render(context.Background(), RenderRequest{Template: "v", Version: v, Profile: "p_bob"})
		if err != nil || out.Body != want {
			t.Errorf("version %d: %q %v, want %q", v, out.Body, err, want)
		}
	}
	if err := e.Templates.Delete("v"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Templates.Get("v", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted head: %v", err)
	}
	if out, err := e.Render(context.Background(), RenderRequest{Template: "v", Version: 1, Profile: "p_bob"}); err != nil || out.Body != "one" {
		t.Errorf("in-flight version after delete: %q %v", out.Body, err)
	}
	if l, _ := e.Templates.List(); len(l) != 0 {
		t.Errorf("list after delete: %v", l)
	}
	if _, err := e.Templates.Save(Template{ID: "v", Channel: "sms", Parts: Parts{Body: "three"}}, true); err != nil {
		t.Errorf("re-create after delete: %v", err)
	}
}

func TestRenderChannelsAddresses(t *testing.T) {
	e := newTestEngine(t)
	cases := []struct {
		tpl  Template
		want string
	}{
		{Template{ID: "s", Channel: "sms", Parts: Parts{Body: "x"}}, "+15550001"},
		{Template{ID: "i", Channel: "inapp", Parts: Parts{Body: "x", Title: "t"}}, "p_ann"},
		{Template{ID: "w", Channel: "webhook", Parts: Parts{URL: "https://hook.example/{{ profile.id }}", JSON: `{"n":{{ profile.traits.first_name | json }}}`}}, "https://hook.example/p_ann"},
	}
	for _, c := range cases {
		out, err := e.render(context.Background(), &c.tpl, RenderRequest{Profile: "p_ann"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if out.To != c.want {
			t.Errorf("%s: to %q, want %q", c.tpl.Channel, out.To, c.want)
		}
	}
	bad := Template{ID: "w", Channel: "webhook", Parts: Parts{URL: "https://h", JSON: `{"n":{{ profile.traits.first_name }}}`}}
	if _, err := e.render(context.Background(), &bad, RenderRequest{Profile: "p_ann"}, false); err == nil {
		t.Error("webhook body that is not JSON should fail")
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"hi {{ x }}", "{% if a %}b{% endif %}", "{% for i in x %}", "{{ a | b: 'c' }}", "{% coupon p %}", "{{"} {
		f.Add(s)
	}
	eng := NewLiquid(nil, nil)
	f.Fuzz(func(t *testing.T, src string) {
		tpl := Template{ID: "f", Channel: "sms", Parts: Parts{Body: src}}
		err := tpl.Validate(eng)
		var pe *PositionError
		if errors.As(err, &pe) {
			if pe.Line < 1 || pe.Column < 1 || pe.Line > strings.Count(src, "\n")+1 {
				t.Fatalf("position %d:%d outside the source %q", pe.Line, pe.Column, src)
			}
		}
	})
}
