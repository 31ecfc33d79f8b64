package catalog

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxIDLen is the longest product id accepted, in bytes.
const MaxIDLen = 256

// DefaultCurrency is the currency of a product that names none.
const DefaultCurrency = "USD"

// FieldError is a validation failure of one field of a product. Its text names
// the field first ("price: must be >= 0, got -3") so that it reads well in a
// rejected-row report.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Normalize fills defaults that Validate would otherwise reject: an empty
// currency becomes DefaultCurrency, and a currency code is upper-cased and
// trimmed ("usd " → "USD"). It changes nothing else, in particular never the id.
func (p *Product) Normalize() {
	c := strings.TrimSpace(p.Currency)
	if c == "" {
		c = DefaultCurrency
	}
	p.Currency = strings.ToUpper(c)
}

// Validate reports the first field of p that breaks the catalog's rules, or
// nil. It does not apply defaults: call Normalize first.
func (p *Product) Validate() error {
	switch {
	case p.ID == "":
		return fieldErr("id", "required")
	case len(p.ID) > MaxIDLen:
		return fieldErr("id", "must be at most %d bytes, got %d", MaxIDLen, len(p.ID))
	case !utf8.ValidString(p.ID):
		return fieldErr("id", "must be valid UTF-8")
	case strings.IndexFunc(p.ID, unicode.IsControl) >= 0:
		return fieldErr("id", "must not contain control characters, got %q", p.ID)
	}
	if strings.TrimSpace(p.Name) == "" {
		return fieldErr("name", "required")
	}
	if math.IsNaN(p.Price) || math.IsInf(p.Price, 0) {
		return fieldErr("price", "must be a finite number, got %v", p.Price)
	}
	if p.Price < 0 {
		return fieldErr("price", "must be >= 0, got %s", strconv.FormatFloat(p.Price, 'f', -1, 64))
	}
	if !isCurrencyCode(p.Currency) {
		return fieldErr("currency", "must be a 3-letter upper-case ISO 4217 code such as USD, got %q", p.Currency)
	}
	if p.Stock != nil && *p.Stock < 0 {
		return fieldErr("stock", "must be >= 0 when present, got %d", *p.Stock)
	}
	if err := checkURL("url", p.URL); err != nil {
		return err
	}
	return checkURL("image_url", p.ImageURL)
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// checkURL accepts an empty s (the field is optional) or an absolute http(s)
// URL with a host.
func checkURL(field, s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return fieldErr(field, "not a valid URL: %q", s)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldErr(field, "must be an absolute http(s) URL, got %q", s)
	}
	return nil
}
