package decide

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Any body gets an answer: a decision or a 4xx, never a panic or a 5xx.
func FuzzDecideBody(f *testing.F) {
	for _, s := range []string{
		`{"writeKey":"wk","anonymousId":"a","placements":["exit","recs"],"context":{"country":"DE","lat":1,"lon":2}}`,
		`{"writeKey":"wk","userId":"whale","placement":"exit"}`,
		`{"writeKey":"wk","placements":[1]}`, `[]`, `{"writeKey":"wk","anonymousId":"a","placements":["exit"],"context":{"lat":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	e, _, _ := testEngine(&testing.T{})
	h := (&HTTP{Engine: e, WriteKey: func(k string) bool { return k == "wk" }}).Public()
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/decide", bytes.NewReader(body)))
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body.Bytes())
		}
	})
}

// Verify never panics, and whatever it accepts re-signs to the same token.
func FuzzVerifyToken(f *testing.F) {
	s, _ := NewSigner(bytes.Repeat([]byte{3}, 32))
	f.Add(s.Token(Token{Issued: time.Unix(1e9, 0), UserID: "u", Placement: "p", Variant: "v", Item: "i", Position: 2}))
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := s.Verify(tok)
		if err != nil {
			return
		}
		if again := s.Token(got); again != tok {
			t.Fatalf("accepted %q, which re-signs as %q", tok, again)
		}
	})
}
