package deliver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// BasicRenderer is a stand-in for package message's Liquid engine until
// both are wired together: a few built-in templates whose
// {{ profile.traits.X }}, {{ data.X }} and {{ event.X }} are replaced by
// the profile's traits and the send's data (HTML-escaped in HTML), HTML
// links rewritten to signed click redirects under /t/fc/, and
// List-Unsubscribe headers pointing at /t/fu/. It renders nothing else of
// Liquid; it is what `tailor serve` uses when no Renderer is set.
type BasicRenderer struct {
	// Traits returns a profile's traits and identifiers (email, phone).
	Traits    func(profile string) (map[string]any, bool)
	Secret    []byte
	Templates map[string]BasicTemplate
	// Record records Message Clicked and Unsubscribed from the links.
	Record func(ctx context.Context, evs []Event) error
}

// BasicTemplate is one built-in template of BasicRenderer.
type BasicTemplate struct {
	Channel                          string
	Subject, HTML, Text, Title, Body string
	URL, JSON                        string
}

// BasicTemplates are BasicRenderer's built-in templates.
var BasicTemplates = map[string]BasicTemplate{
	"order_confirmation": {Channel: "email",
		Subject: "Thank you for your order, {{ profile.traits.first_name }}",
		HTML:    `<p>Hi {{ profile.traits.first_name }},</p><p>your order {{ data.order_id }} is confirmed.</p><p><a href="https://shop.example/orders/{{ data.order_id }}">Track your order</a></p>`,
		Text:    "Hi {{ profile.traits.first_name }},\nyour order {{ data.order_id }} is confirmed.\nTrack it: https://shop.example/orders/{{ data.order_id }}"},
	"broadcast": {Channel: "email",
		Subject: "News for {{ profile.traits.first_name }}",
		HTML:    `<p>Hi {{ profile.traits.first_name }}, see <a href="https://shop.example/new">what is new</a>.</p>`,
		Text:    "Hi {{ profile.traits.first_name }}, see what is new: https://shop.example/new"},
	"notice":       {Channel: "inapp", Title: "Hi {{ profile.traits.first_name }}", Body: "{{ data.text }}", URL: "{{ data.url }}"},
	"sms_code":     {Channel: "sms", Body: "Hi {{ profile.traits.first_name }}, your code is {{ data.code }}"},
	"push_return":  {Channel: "push", Title: "We miss you, {{ profile.traits.first_name }}", Body: "{{ data.text }}", URL: "{{ data.url }}"},
	"order_hook":   {Channel: "webhook", JSON: `{"order_id":"{{ data.order_id }}","email":"{{ profile.traits.email }}"}`},
	"webpush_sale": {Channel: "webpush", Title: "{{ data.title }}", Body: "Hi {{ profile.traits.first_name }}, {{ data.text }}", URL: "{{ data.url }}"},
	"letter":       {Channel: "mail", Title: "Dear {{ profile.traits.first_name }}", Body: "{{ data.text }}"},
}

var placeholder = regexp.MustCompile(`\{\{\s*(profile\.traits|data|event)\.([A-Za-z0-9_]+)\s*\}\}`)
var hrefPattern = regexp.MustCompile(`href="(https?://[^"]+)"`)

// Has reports whether the built-in template id exists for channel.
func (b *BasicRenderer) Has(id, channel string) bool {
	t, ok := b.Templates[id]
	return ok && t.Channel == channel
}

// Render implements Renderer.
func (b *BasicRenderer) Render(_ context.Context, req RenderRequest) (Rendered, error) {
	t, ok := b.Templates[req.Template]
	if !ok {
		return Rendered{}, fmt.Errorf("no template %q (the built-in renderer knows %d)", req.Template, len(b.Templates))
	}
	traits, ok := b.Traits(req.Profile)
	if !ok {
		return Rendered{}, fmt.Errorf("no profile %q", req.Profile)
	}
	fill := func(s string, escape bool) string {
		return placeholder.ReplaceAllStringFunc(s, func(m string) string {
			g := placeholder.FindStringSubmatch(m)
			src := req.Data
			if g[1] == "profile.traits" {
				src = traits
			}
			v, ok := src[g[2]]
			if !ok || v == nil {
				return ""
			}
			out := fmt.Sprint(v)
			if escape {
				out = html.EscapeString(out)
			}
			return out
		})
	}
	claims := linkClaims{Profile: req.Profile, Key: req.SendKey, Channel: t.Channel, Template: req.Template}
	r := Rendered{Channel: t.Channel, Subject: fill(t.Subject, false), Text: fill(t.Text, false), Title: fill(t.Title, false), Body: fill(t.Body, false), URL: fill(t.URL, false)}
	r.HTML = hrefPattern.ReplaceAllStringFunc(fill(t.HTML, true), func(m string) string {
		c := claims
		c.URL = html.UnescapeString(hrefPattern.FindStringSubmatch(m)[1])
		return `href="` + req.BaseURL + "/t/fc/" + b.sign(c) + `"`
	})
	if t.JSON != "" {
		r.JSON = []byte(placeholder.ReplaceAllStringFunc(t.JSON, func(m string) string {
			s, _ := json.Marshal(fill(m, false))
			return string(s[1 : len(s)-1]) // the placeholder sits inside a JSON string
		}))
	}
	switch t.Channel {
	case "email":
		r.To, _ = traits["email"].(string)
		u := req.BaseURL + "/t/fu/" + b.sign(claims)
		r.Headers = map[string]string{"List-Unsubscribe": "<" + u + ">", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
	case "sms":
		r.To, _ = traits["phone"].(string)
	case "push":
		r.To, _ = traits["push_token"].(string)
	case "webpush":
		switch sub := traits["webpush_subscription"].(type) {
		case string:
			r.To = sub
		case map[string]any:
			b, _ := json.Marshal(sub)
			r.To = string(b)
		}
	case "mail":
		r.To, _ = traits["address"].(string)
	}
	return r, nil
}

type linkClaims struct {
	Profile  string `json:"p"`
	Key      string `json:"m"`
	Channel  string `json:"c"`
	Template string `json:"t"`
	URL      string `json:"u,omitempty"`
}

func (b *BasicRenderer) sign(c linkClaims) string {
	j, _ := json.Marshal(c)
	m := hmac.New(sha256.New, b.Secret)
	m.Write(j)
	return base64.RawURLEncoding.EncodeToString(j) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

func (b *BasicRenderer) verify(tok string) (linkClaims, error) {
	p, s, ok := strings.Cut(tok, ".")
	j, err1 := base64.RawURLEncoding.DecodeString(p)
	sig, err2 := base64.RawURLEncoding.DecodeString(s)
	if !ok || err1 != nil || err2 != nil {
		return linkClaims{}, errors.New("malformed link")
	}
	m := hmac.New(sha256.New, b.Secret)
	m.Write(j)
	if !hmac.Equal(sig, m.Sum(nil)[:16]) {
		return linkClaims{}, errors.New("link signature does not match")
	}
	var c linkClaims
	return c, json.Unmarshal(j, &c)
}

// Handler serves the links: GET /t/fc/{token} records Message Clicked and
// redirects to the signed URL; GET or POST /t/fu/{token} (RFC 8058
// one-click) records Unsubscribed.
func (b *BasicRenderer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /t/fc/{token}", func(w http.ResponseWriter, r *http.Request) {
		c, err := b.verify(r.PathValue("token"))
		if err != nil || c.URL == "" {
			http.Error(w, "this link is not valid", http.StatusBadRequest)
			return
		}
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			http.Error(w, "this link is not valid", http.StatusBadRequest)
			return
		}
		b.record(r.Context(), "Message Clicked", c, map[string]any{"url": c.URL})
		http.Redirect(w, r, c.URL, http.StatusFound)
	})
	unsub := func(w http.ResponseWriter, r *http.Request) {
		c, err := b.verify(r.PathValue("token"))
		if err != nil {
			http.Error(w, "this link is not valid", http.StatusBadRequest)
			return
		}
		b.record(r.Context(), "Unsubscribed", c, nil)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "You are unsubscribed.")
	}
	mux.HandleFunc("GET /t/fu/{token}", unsub)
	mux.HandleFunc("POST /t/fu/{token}", unsub)
	return mux
}

func (b *BasicRenderer) record(ctx context.Context, name string, c linkClaims, props map[string]any) {
	if b.Record == nil {
		return
	}
	if props == nil {
		props = map[string]any{}
	}
	props["message_key"], props["channel"], props["template"] = c.Key, c.Channel, c.Template
	now := time.Now().UTC()
	h := sha256.Sum256([]byte(name + "\x00" + c.Key + "\x00" + c.URL + "\x00" + now.Format(time.RFC3339Nano)))
	ev := Event{Name: name, Profile: c.Profile, MessageID: "tailor-link-" + base64.RawURLEncoding.EncodeToString(h[:12]), At: now, Properties: props}
	_ = b.Record(context.WithoutCancel(ctx), []Event{ev})
}
