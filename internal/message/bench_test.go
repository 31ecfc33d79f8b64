package message

import (
	"context"
	"testing"
)

const benchHTML = `<html><body><p>Hi {{ profile.traits.first_name | default: "there" }},</p>
{% for p in event.products %}<p><a href="https://shop.example/p/{{ p.id }}">{{ p.name }}</a> {{ p.price }}</p>{% endfor %}
<p><a href="{{ preferences_url }}">Preferences</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>`

var benchData = map[string]any{"products": []any{
	map[string]any{"id": "a", "name": "Rain Jacket", "price": 89.5},
	map[string]any{"id": "b", "name": "Boots", "price": 120},
	map[string]any{"id": "c", "name": "Scarf", "price": 25},
}}

// BenchmarkRenderEmail is a send's render: template from the cache, the
// profile, Liquid, link rewriting, pixel and headers.
func BenchmarkRenderEmail(b *testing.B) {
	e := newTestEngine(b)
	if _, err := e.Templates.Save(Template{ID: "bench", Channel: "email", Parts: Parts{Subject: "Hi {{ profile.traits.first_name }}", HTML: benchHTML, Text: "x"}}, true); err != nil {
		b.Fatal(err)
	}
	req := RenderRequest{Template: "bench", Version: 1, Profile: "p_ann", Data: benchData, SendKey: "k", BaseURL: "https://t.example"}
	for b.Loop() {
		if _, err := e.Render(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLiquidOnly is the baseline: the same HTML part rendered by
// Liquid alone with the same bindings (no links, tokens or lookups).
func BenchmarkLiquidOnly(b *testing.B) {
	liq := NewLiquid(nil, nil)
	t, err := liq.ParseString(benchHTML)
	if err != nil {
		b.Fatal(err)
	}
	bind := map[string]any{"profile": map[string]any{"traits": map[string]any{"first_name": "Ann"}}, "event": benchData,
		"preferences_url": "https://t.example/p/x", "unsubscribe_url": "https://t.example/u/x"}
	for b.Loop() {
		if _, err := t.RenderString(bind); err != nil {
			b.Fatal(err)
		}
	}
}
