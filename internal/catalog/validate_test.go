package catalog

import (
	"math"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestValidate(t *testing.T) {
	good := func() Product {
		return Product{ID: "sku-1", Name: "Rain jacket", Price: 89.5, Currency: "EUR",
			Stock: ptr[int64](3), URL: "https://shop.example/p/sku-1", ImageURL: "http://img.example/1.jpg"}
	}
	tests := []struct {
		name   string
		edit   func(*Product)
		want   string // "" for valid, else the exact error text
		prefix bool   // want is only a prefix of the error
	}{
		{"valid", func(*Product) {}, "", false},
		{"zero price", func(p *Product) { p.Price = 0 }, "", false},
		{"no stock tracked", func(p *Product) { p.Stock = nil }, "", false},
		{"zero stock", func(p *Product) { p.Stock = ptr[int64](0) }, "", false},
		{"no urls", func(p *Product) { p.URL, p.ImageURL = "", "" }, "", false},
		{"max id", func(p *Product) { p.ID = strings.Repeat("x", MaxIDLen) }, "", false},
		{"unicode id", func(p *Product) { p.ID = "Größe/ü 1" }, "", false},
		{"missing id", func(p *Product) { p.ID = "" }, "id: required", false},
		{"long id", func(p *Product) { p.ID = strings.Repeat("x", MaxIDLen+1) }, "id: must be at most 256 bytes, got 257", false},
		{"control in id", func(p *Product) { p.ID = "a\nb" }, `id: must not contain control characters, got "a\nb"`, false},
		{"bad utf8 id", func(p *Product) { p.ID = "a\xffb" }, "id: must be valid UTF-8", false},
		{"missing name", func(p *Product) { p.Name = "" }, "name: required", false},
		{"blank name", func(p *Product) { p.Name = "  \t" }, "name: required", false},
		{"negative price", func(p *Product) { p.Price = -3 }, "price: must be >= 0, got -3", false},
		{"negative fraction", func(p *Product) { p.Price = -0.5 }, "price: must be >= 0, got -0.5", false},
		{"NaN price", func(p *Product) { p.Price = math.NaN() }, "price: must be a finite number, got NaN", false},
		{"Inf price", func(p *Product) { p.Price = math.Inf(1) }, "price: must be a finite number, got +Inf", false},
		{"lower currency", func(p *Product) { p.Currency = "eur" }, `currency: must be a 3-letter upper-case ISO 4217 code such as USD, got "eur"`, false},
		{"long currency", func(p *Product) { p.Currency = "EURO" }, "currency:", true},
		{"empty currency", func(p *Product) { p.Currency = "" }, "currency:", true},
		{"negative stock", func(p *Product) { p.Stock = ptr[int64](-1) }, "stock: must be >= 0 when present, got -1", false},
		{"relative url", func(p *Product) { p.URL = "/p/sku-1" }, `url: must be an absolute http(s) URL, got "/p/sku-1"`, false},
		{"ftp url", func(p *Product) { p.URL = "ftp://shop.example/x" }, "url: must be an absolute http(s) URL", true},
		{"no host", func(p *Product) { p.URL = "https:///x" }, "url: must be an absolute http(s) URL", true},
		{"unparsable url", func(p *Product) { p.URL = "http://[::1" }, "url: not a valid URL", true},
		{"bad image url", func(p *Product) { p.ImageURL = "javascript:alert(1)" }, "image_url: must be an absolute http(s) URL", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			tt.edit(&p)
			err := p.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want == "":
			case err == nil:
				t.Fatalf("Validate() = nil, want %q", tt.want)
			case tt.prefix && !strings.HasPrefix(err.Error(), tt.want):
				t.Fatalf("Validate() = %q, want prefix %q", err, tt.want)
			case !tt.prefix && err.Error() != tt.want:
				t.Fatalf("Validate() = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "USD"},
		{"  ", "USD"},
		{"eur", "EUR"},
		{" gbp ", "GBP"},
		{"JPY", "JPY"},
	}
	for _, tt := range tests {
		p := Product{ID: " id ", Currency: tt.in}
		p.Normalize()
		if p.Currency != tt.want {
			t.Errorf("Normalize(currency %q) = %q, want %q", tt.in, p.Currency, tt.want)
		}
		if p.ID != " id " {
			t.Errorf("Normalize changed the id to %q", p.ID)
		}
	}
}
