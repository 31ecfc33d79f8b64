package track

import (
	"errors"
	"strings"
	"testing"
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
