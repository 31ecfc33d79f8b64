package auth

import (
	"strings"
	"testing"
)

func TestHashPasswordVerifiesOnlyTheSamePassword(t *testing.T) {
	h, err := HashPassword("correct horse battery", fastParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{
		{"correct horse battery", true},
		{"correct horse batterY", false},
		{"correct horse battery ", false},
		{"", false},
	} {
		ok, err := VerifyPassword(tt.pw, h)
		if err != nil || ok != tt.want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
}

func TestHashPasswordSaltsEachHashAndStoresItsParameters(t *testing.T) {
	p := Params{Time: 3, MemoryKiB: 128, Threads: 2, KeyLen: 24}
	a, _ := HashPassword("same password", p)
	b, _ := HashPassword("same password", p)
	if a == b {
		t.Fatalf("two hashes of one password are equal (%s): no per-hash salt", a)
	}
	if !strings.HasPrefix(a, "$argon2id$v=19$m=128,t=3,p=2$") {
		t.Errorf("hash %q does not carry its parameters", a)
	}
	got, _, key, err := decodeHash(a)
	if err != nil {
		t.Fatal(err)
	}
	if got != p || len(key) != int(p.KeyLen) {
		t.Errorf("decoded parameters %+v (key %d bytes), want %+v", got, len(key), p)
	}
	// A hash made with other parameters still verifies: they come from it.
	if ok, err := VerifyPassword("same password", a); !ok || err != nil {
		t.Errorf("verify with stored parameters = %v, %v", ok, err)
	}
	if DefaultParams.MemoryKiB < 19*1024 || DefaultParams.Time < 2 {
		t.Errorf("DefaultParams %+v below OWASP's argon2id minimum (19 MiB, t=2)", DefaultParams)
	}
}

func TestVerifyPasswordRejectsBadHashes(t *testing.T) {
	good, _ := HashPassword("password123", fastParams)
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":          "",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuv",
		"argon2i":        strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":    strings.Replace(good, "v=19", "v=16", 1),
		"bad params":     strings.Replace(good, parts[3], "m=x,t=1,p=1", 1),
		"huge memory":    strings.Replace(good, parts[3], "m=4194304,t=1,p=1", 1),
		"zero time":      strings.Replace(good, parts[3], "m=64,t=0,p=1", 1),
		"salt not b64":   strings.Replace(good, parts[4], "!!!!", 1),
		"key too short":  strings.Replace(good, parts[5], "AAAA", 1),
		"missing fields": "$argon2id$v=19$m=64,t=1,p=1$" + parts[4],
	} {
		if ok, err := VerifyPassword("password123", h); ok || err == nil {
			t.Errorf("%s: VerifyPassword(%q) = %v, %v; want false and an error", name, h, ok, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tt := range []struct {
		pw string
		ok bool
	}{
		{"123456789", false},
		{"1234567890", true},
		{"ééééééééé", false}, // 9 characters, 18 bytes
		{"éééééééééé", true},
		{strings.Repeat("x", MaxPasswordLen), true},
		{strings.Repeat("x", MaxPasswordLen+1), false},
	} {
		if err := CheckPassword(tt.pw); (err == nil) != tt.ok {
			t.Errorf("CheckPassword(%d bytes) = %v, want ok=%v", len(tt.pw), err, tt.ok)
		}
	}
}

// BenchmarkHashPassword is the cost of one login's hash with the shipped
// parameters; the test parameters are the baseline.
func BenchmarkHashPassword(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    Params
	}{{"default", DefaultParams}, {"test", fastParams}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := HashPassword("correct horse battery", bc.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
