package track

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokensRejectTampering(t *testing.T) {
	s, _ := NewSigner([]byte("0123456789abcdef0123"))
	tok := s.Sign(Claims{Kind: KindClick, Profile: "p_1", URL: "https://a.example"})
	if c, err := s.Verify(tok, KindClick); err != nil || c.URL != "https://a.example" {
		t.Fatalf("good token: %v", err)
	}
	other, _ := NewSigner([]byte("fedcba9876543210fedc"))
	bad := []struct{ name, tok, kind string }{
		{"wrong kind", tok, KindOpen},
		{"other secret", other.Sign(Claims{Kind: KindClick, Profile: "p_1", URL: "https://evil"}), KindClick},
		{"payload changed", "x" + tok[1:], KindClick},
		{"no signature", strings.Split(tok, ".")[0], KindClick},
		{"empty", "", KindClick},
	}
	for _, b := range bad {
		if _, err := s.Verify(b.tok, b.kind); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: want ErrBadToken, got %v", b.name, err)
		}
	}
}

// Tokens expire after their kind's lifetime, counted from signing; an
// expired one still says what it was; one signed before expiries existed
// (no "e") never expires; the expiry cannot be changed without breaking the
// signature.
func TestTokensExpireByKind(t *testing.T) {
	s, _ := NewSigner([]byte("0123456789abcdef0123"))
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	if Lifetimes[KindUnsubscribe] < 5*365*24*time.Hour || Lifetimes[KindConfirm] > 30*24*time.Hour {
		t.Fatalf("lifetimes %v: unsubscribe must last years, confirmation days", Lifetimes)
	}
	for kind, life := range Lifetimes {
		tok := s.Sign(Claims{Kind: kind, Profile: "p_1", URL: "https://a.example"})
		now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Add(life - time.Second)
		if _, err := s.Verify(tok, kind); err != nil {
			t.Errorf("%s a second before expiry: %v", kind, err)
		}
		now = now.Add(time.Second)
		c, err := s.Verify(tok, kind)
		if !errors.Is(err, ErrExpired) || c.Profile != "p_1" {
			t.Errorf("%s at expiry: %+v %v", kind, c, err)
		}
		now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	}
	// A token as an older server signed it: no expiry.
	body, _ := json.Marshal(map[string]string{"k": KindUnsubscribe, "p": "p_1"})
	p := base64.RawURLEncoding.EncodeToString(body)
	old := p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p))
	now = now.Add(100 * 365 * 24 * time.Hour)
	if _, err := s.Verify(old, KindUnsubscribe); err != nil {
		t.Errorf("token without expiry: %v", err)
	}
	// Stretching the expiry breaks the signature.
	tok := s.Sign(Claims{Kind: KindOpen, Profile: "p_1"})
	payload, sig, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	var c map[string]any
	_ = json.Unmarshal(raw, &c)
	c["e"] = float64(now.Add(time.Hour).Unix())
	raw, _ = json.Marshal(c)
	if _, err := s.Verify(base64.RawURLEncoding.EncodeToString(raw)+"."+sig, KindOpen); !errors.Is(err, ErrBadToken) {
		t.Errorf("stretched expiry: %v", err)
	}
}
