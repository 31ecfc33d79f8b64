package message

import (
	"context"
	"errors"
	"fmt"
	"html"
	"maps"
	"regexp"
	"strings"
	"sync"

	"github.com/osteele/liquid"
	"github.com/osteele/liquid/render"
	"github.com/osteele/liquid/values"

	"tailor/internal/catalog"
	"tailor/internal/track"
)

// RenderRequest asks for one message rendered for one profile.
type RenderRequest struct {
	Template string
	Version  int // 0: the current version
	Profile  string
	Data     map[string]any
	SendKey  string // the outbox key: coupon claims and tracking tokens derive from it
	BaseURL  string // public URL of this server for links
	// Journey and Step go into the tracking tokens (and so into the
	// Message Opened / Clicked events).
	Journey, Step string
}

// Rendered is a message ready for its channel's adapter.
type Rendered struct {
	Channel, To         string
	Subject, HTML, Text string
	Title, Body, URL    string
	Headers             map[string]string
	JSON                []byte
	// Template and Version say what was rendered (Version resolved from 0).
	Template string `json:"template"`
	Version  int    `json:"version"`
	Locale   string `json:"locale,omitempty"`
}

// Renderer is what deliver renders with.
type Renderer interface {
	Render(ctx context.Context, req RenderRequest) (Rendered, error)
}

// Products looks products up for templates (internal/catalog's Store).
type Products interface {
	Get(ctx context.Context, id string) (catalog.Product, bool, error)
}

// Coupons hands out coupon codes (internal/coupon's Pools).
type Coupons interface {
	// Claim returns pool's code for sendKey, the same one every time.
	Claim(pool, sendKey string) (string, error)
	// Available is how many codes pool has left.
	Available(pool string) (int, error)
}

// ErrNoProfile is a render for a profile that does not exist.
var ErrNoProfile = errors.New("no such profile")

// Engine renders templates; it implements Renderer.
type Engine struct {
	Templates *Store
	Profiles  track.Profiles
	Products  Products
	Coupons   Coupons
	Signer    *track.Signer
	// Recommender answers {% recommend %} blocks (recommend.go); may be nil.
	Recommender Recommender

	liq   *liquid.Engine
	mu    sync.RWMutex
	cache map[string]*compiled
}

type compiled struct {
	parts  map[string]*liquid.Template // by field name
	locale string
}

// stateKey holds the per-render state in the bindings; a NUL cannot appear
// in a Liquid identifier, so no template can read or shadow it.
const stateKey = "\x00render"

type renderState struct {
	ctx         context.Context
	sendKey     string
	preview     bool
	recommender Recommender // may be nil: {% recommend %} then fails to render
}

// NewLiquid returns the Liquid engine with Tailor's tags and filters:
// {% coupon pool %} and {{ id | product }}. products and coupons may be
// nil (a template using them then fails to render, never to parse).
func NewLiquid(products Products, coupons Coupons) *liquid.Engine {
	eng := liquid.NewEngine()
	eng.RegisterTag("coupon", func(c render.Context) (string, error) {
		pool := strings.Trim(strings.TrimSpace(c.TagArgs()), `"'`)
		if pool == "" {
			return "", errors.New("coupon: name the pool, {% coupon spring_sale %}")
		}
		st, _ := c.Get(stateKey).(*renderState)
		if coupons == nil || st == nil {
			return "", errors.New("coupon: coupon pools are not available here")
		}
		if st.preview {
			n, err := coupons.Available(pool)
			if err != nil {
				return "", fmt.Errorf("coupon %s: %w", pool, err)
			}
			if n == 0 {
				return "", fmt.Errorf("coupon pool %q is empty", pool)
			}
			return "PREVIEW-" + strings.ToUpper(pool), nil
		}
		if st.sendKey == "" {
			return "", errors.New("coupon: a coupon needs a send key")
		}
		code, err := coupons.Claim(pool, st.sendKey)
		if err != nil {
			return "", fmt.Errorf("coupon %s: %w", pool, err)
		}
		return code, nil
	})
	eng.RegisterBlock("recommend", recommendBlock)
	eng.RegisterFilter("product", func(id any) (any, error) {
		if products == nil || id == nil {
			return nil, nil
		}
		p, ok, err := products.Get(context.Background(), fmt.Sprint(id))
		if err != nil {
			return nil, fmt.Errorf("product %v: %w", id, err)
		}
		if !ok {
			return nil, nil // a missing product renders as empty, like a missing variable
		}
		return productMap(p), nil
	})
	return eng
}

// NewEngine returns a renderer; the store must have been made with liq.
func NewEngine(liq *liquid.Engine, templates *Store, profiles track.Profiles, products Products, coupons Coupons, signer *track.Signer) *Engine {
	return &Engine{Templates: templates, Profiles: profiles, Products: products, Coupons: coupons, Signer: signer, liq: liq, cache: map[string]*compiled{}}
}

func productMap(p catalog.Product) map[string]any {
	m := map[string]any{"id": p.ID, "sku": p.ID, "name": p.Name, "category": p.Category, "price": p.Price,
		"currency": p.Currency, "url": p.URL, "image_url": p.ImageURL, "attributes": p.Attrs}
	if p.Stock != nil {
		m["stock"] = *p.Stock
	}
	return m
}

// catalogValue is the `catalog` binding: catalog["sku-1"].name or
// catalog.product_id looks the product up on use.
type catalogValue struct {
	products Products
	ctx      context.Context
}

func (c catalogValue) lookup(k values.Value) values.Value {
	if c.products == nil {
		return values.ValueOf(nil)
	}
	p, ok, err := c.products.Get(c.ctx, fmt.Sprint(k.Interface()))
	if err != nil || !ok {
		return values.ValueOf(nil)
	}
	return values.ValueOf(productMap(p))
}

func (c catalogValue) Interface() any                            { return nil }
func (c catalogValue) Int() int                                  { return 0 }
func (c catalogValue) Equal(values.Value) bool                   { return false }
func (c catalogValue) Less(values.Value) bool                    { return false }
func (c catalogValue) Contains(values.Value) bool                { return false }
func (c catalogValue) IndexValue(k values.Value) values.Value    { return c.lookup(k) }
func (c catalogValue) PropertyValue(k values.Value) values.Value { return c.lookup(k) }
func (c catalogValue) Test() bool                                { return true }

func (e *Engine) compile(t *Template, locale string) (*compiled, error) {
	key := fmt.Sprintf("%s@%d@%s", t.ID, t.Version, locale)
	e.mu.RLock()
	c := e.cache[key]
	e.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	parts, loc := t.pick(locale)
	c = &compiled{parts: map[string]*liquid.Template{}, locale: loc}
	for _, f := range parts.fields() {
		if *f.src == "" {
			continue
		}
		lt, err := e.liq.ParseString(*f.src)
		if err != nil {
			return nil, positionOf(f.name, *f.src, err)
		}
		c.parts[f.name] = lt
	}
	if t.Version == 0 {
		return c, nil // an unsaved template (preview) has no stable identity to cache under
	}
	e.mu.Lock()
	if len(e.cache) > 4096 {
		clear(e.cache) // old versions are rarely rendered again; keep the cache bounded
	}
	e.cache[key] = c
	e.mu.Unlock()
	return c, nil
}

// Render renders req (see RenderRequest).
func (e *Engine) Render(ctx context.Context, req RenderRequest) (Rendered, error) {
	t, err := e.Templates.Get(req.Template, req.Version)
	if err != nil {
		return Rendered{}, err
	}
	return e.render(ctx, &t, req, false)
}

// PreviewKey is the send key of previews: their tracking links record
// nothing.
const PreviewKey = "preview"

// Preview renders t (saved or not) for a profile without claiming coupons.
func (e *Engine) Preview(ctx context.Context, t *Template, req RenderRequest) (Rendered, error) {
	req.SendKey = PreviewKey
	return e.render(ctx, t, req, true)
}

func (e *Engine) render(ctx context.Context, t *Template, req RenderRequest, preview bool) (Rendered, error) {
	p, ok := e.Profiles.Profile(req.Profile)
	if !ok {
		return Rendered{}, fmt.Errorf("%w: %q", ErrNoProfile, req.Profile)
	}
	traits := maps.Clone(p.Traits)
	if traits == nil {
		traits = map[string]any{}
	}
	for k, v := range t.Defaults {
		if cur, ok := traits[k]; !ok || cur == nil || cur == "" {
			traits[k] = v
		}
	}
	locale, _ := traits["locale"].(string)
	if locale == "" {
		locale, _ = p.Computed["locale"].(string)
	}
	c, err := e.compile(t, locale)
	if err != nil {
		return Rendered{}, err
	}
	base := strings.TrimRight(req.BaseURL, "/")
	claims := track.Claims{Profile: p.ID, Key: req.SendKey, Channel: t.Channel, Template: t.ID, Journey: req.Journey, Step: req.Step}
	link := func(kind, url string) string {
		if e.Signer == nil {
			return ""
		}
		cl := claims
		cl.Kind, cl.URL = kind, url
		return e.Signer.URL(base, cl)
	}
	unsub, prefs := link(track.KindUnsubscribe, ""), link(track.KindPreferences, "")
	data := req.Data
	if data == nil {
		data = map[string]any{}
	}
	b := map[string]any{
		"profile":         map[string]any{"id": p.ID, "traits": traits, "computed": p.Computed},
		"event":           data,
		"data":            data,
		"catalog":         catalogValue{products: e.Products, ctx: ctx},
		"unsubscribe_url": unsub,
		"preferences_url": prefs,
		// confirm_url is the double opt-in confirmation link, for the
		// (transactional) template that asks for it.
		"confirm_url": link(track.KindConfirm, ""),
		stateKey:      &renderState{ctx: ctx, sendKey: req.SendKey, preview: preview, recommender: e.Recommender},
	}
	out := Rendered{Channel: t.Channel, Template: t.ID, Version: t.Version, Locale: c.locale}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"subject", &out.Subject}, {"html", &out.HTML}, {"text", &out.Text}, {"title", &out.Title}, {"body", &out.Body}, {"url", &out.URL}, {"json", nil}} {
		lt := c.parts[f.name]
		if lt == nil {
			continue
		}
		s, err := lt.RenderString(b)
		if err != nil {
			return Rendered{}, fmt.Errorf("render %s of template %s@%d: %w", f.name, t.ID, t.Version, err)
		}
		if f.dst == nil {
			out.JSON = []byte(s)
			continue
		}
		*f.dst = s
	}
	switch t.Channel {
	case "email":
		out.To = str(traits["email"])
		wrap := func(u string) string {
			for _, k := range []string{track.KindUnsubscribe, track.KindPreferences, track.KindConfirm, track.KindClick} {
				if strings.HasPrefix(u, base+track.Path(k)) {
					return u // our own signed links stay as they are
				}
			}
			return link(track.KindClick, u)
		}
		if out.HTML != "" && e.Signer != nil {
			out.HTML = rewriteLinks(out.HTML, wrap)
			out.HTML = addPixel(out.HTML, link(track.KindOpen, ""))
		}
		if out.Text != "" && e.Signer != nil {
			// Readers of the text part click too: its links are tracked
			// like the HTML's.
			out.Text = rewriteTextLinks(out.Text, wrap)
		}
		if unsub != "" {
			out.Headers = map[string]string{
				"List-Unsubscribe":      "<" + unsub + ">",
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			}
		}
		out.Subject = strings.Join(strings.Fields(out.Subject), " ") // a header is one line
	case "sms":
		out.To = str(traits["phone"])
	case "push":
		out.To = firstStr(traits["push_token"], traits["device_token"])
	case "webpush":
		out.To = firstStr(traits["webpush_subscription"])
	case "inapp":
		out.To = p.ID
	case "webhook":
		out.To = strings.TrimSpace(out.URL)
		if len(out.JSON) > 0 && !jsonValid(out.JSON) {
			return Rendered{}, fmt.Errorf("render json of template %s@%d: the result is not valid JSON (quote strings with | json)", t.ID, t.Version)
		}
	case "mail":
		out.To = firstStr(traits["address"], traits["postal_address"])
	}
	return out, nil
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s)
	}
	return ""
}

func firstStr(vs ...any) string {
	for _, v := range vs {
		switch x := v.(type) {
		case string:
			if x != "" {
				return x
			}
		case nil:
		default:
			if b, err := jsonMarshal(x); err == nil {
				return string(b)
			}
		}
	}
	return ""
}

var hrefRe = regexp.MustCompile(`(?i)(<a\b[^>]*?\bhref\s*=\s*)("([^"]*)"|'([^']*)')`)

// rewriteLinks replaces the http(s) href of every <a> with wrap(url).
func rewriteLinks(s string, wrap func(string) string) string {
	return hrefRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := hrefRe.FindStringSubmatch(m)
		raw := sub[3]
		if sub[4] != "" {
			raw = sub[4]
		}
		u := html.UnescapeString(raw)
		lu := strings.ToLower(u)
		if !strings.HasPrefix(lu, "http://") && !strings.HasPrefix(lu, "https://") {
			return m // mailto:, tel:, anchors stay
		}
		return sub[1] + `"` + html.EscapeString(wrap(u)) + `"`
	})
}

// textURL is a bare http(s) URL in plain text: up to white space or a
// character that cannot end one in running text (<, >, quotes).
var textURL = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"']+`)

// rewriteTextLinks replaces every http(s) URL of plain text with wrap(url).
// Punctuation that ends a sentence after a URL ("see https://x.example.")
// is not part of it, nor is a closing parenthesis or bracket the URL did
// not open.
func rewriteTextLinks(s string, wrap func(string) string) string {
	return textURL.ReplaceAllStringFunc(s, func(u string) string {
		tail := ""
		for len(u) > 0 {
			c := u[len(u)-1]
			if strings.IndexByte(".,;:!?", c) >= 0 ||
				c == ')' && strings.Count(u, "(") < strings.Count(u, ")") ||
				c == ']' && strings.Count(u, "[") < strings.Count(u, "]") {
				u, tail = u[:len(u)-1], string(c)+tail
				continue
			}
			break
		}
		if strings.Index(u, "://")+3 >= len(u) {
			return u + tail // a scheme and nothing else
		}
		return wrap(u) + tail
	})
}

var bodyEnd = regexp.MustCompile(`(?i)</body\s*>`)

func addPixel(s, src string) string {
	if src == "" {
		return s
	}
	img := `<img src="` + html.EscapeString(src) + `" width="1" height="1" alt="" style="display:none">`
	if loc := bodyEnd.FindStringIndex(s); loc != nil {
		return s[:loc[0]] + img + s[loc[0]:]
	}
	return s + img
}
