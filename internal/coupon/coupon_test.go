package coupon

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"tailor/internal/store"
)

func TestClaimIsIdempotentPerSendKeyAndUniqueAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	p := New(db)
	if n, err := p.Add("spring", []string{"A1", "A2", "A3", "A2"}); err != nil || n != 3 {
		t.Fatalf("add: %d %v", n, err)
	}
	given := map[string]string{}
	c1, _ := p.Claim("spring", "send-1")
	given["send-1"] = c1
	if again, _ := p.Claim("spring", "send-1"); again != c1 {
		t.Fatalf("same key got %q then %q", c1, again)
	}
	// A crash after the first claim: copy the store's files as they are on
	// disk while it is still open (nothing flushed or closed), and go on
	// with the copy.
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db, err = store.Open(crashed, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p = New(db)
	if again, _ := p.Claim("spring", "send-1"); again != c1 {
		t.Fatalf("after reopen, same key got %q, first %q", again, c1)
	}
	if n, _ := p.Add("spring", []string{c1, "A1"}); n != 0 {
		t.Fatalf("re-uploading given codes added %d", n)
	}
	for _, k := range []string{"send-2", "send-3"} {
		c, err := p.Claim("spring", k)
		if err != nil {
			t.Fatal(err)
		}
		given[k] = c
	}
	seen := map[string]bool{}
	for k, c := range given {
		if seen[c] {
			t.Fatalf("code %s given twice (%v)", c, given)
		}
		seen[c] = true
		_ = k
	}
	if _, err := p.Claim("spring", "send-4"); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty pool: %v", err)
	}
	c, _ := p.Counts("spring")
	if c.Available != 0 || c.Claimed != 3 || c.Uploaded != 3 {
		t.Errorf("counts %+v", c)
	}
}

func TestUploadHandler(t *testing.T) {
	db, err := store.Open(t.TempDir(), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := New(db).Handler()
	cases := []struct {
		name, pool, ctype, body string
		status                  int
		want                    string
	}{
		{"text lines", "p1", "text/plain", "X1\n\nX2\r\nX3\n", 200, `"available":3`},
		{"json list", "p2", "application/json", `["J1","J2"]`, 200, `"available":2`},
		{"json object", "p3", "application/json", `{"codes":["O1"]}`, 200, `"added":1`},
		{"bad json", "p4", "application/json", `["J1"`, 400, "invalid_json"},
		{"empty", "p5", "text/plain", "\n\n", 400, "no codes"},
		{"code with space", "p6", "text/plain", "a b", 400, "code 1"},
		{"bad pool", "bad%20pool", "text/plain", "a", 400, "pool"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rr := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/api/coupons/"+c.pool, strings.NewReader(c.body))
			r.Header.Set("Content-Type", c.ctype)
			h.ServeHTTP(rr, r)
			if rr.Code != c.status || !strings.Contains(rr.Body.String(), c.want) {
				t.Errorf("got %d %s, want %d containing %s", rr.Code, rr.Body, c.status, c.want)
			}
		})
	}
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/api/coupons/p1", nil))
	if rr.Code != http.StatusOK || !strings.Contains(rr.Body.String(), fmt.Sprintf(`"uploaded":%d`, 3)) {
		t.Errorf("counts: %d %s", rr.Code, rr.Body)
	}
}
