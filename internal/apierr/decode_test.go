package apierr

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSONNamesWhatIsWrongWithTheBody(t *testing.T) {
	type target struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	shaped := errors.New("shaped")
	for _, tc := range []struct {
		name, body string
		shape      bool
		code       Code // "" for the shape's error or success
		want       error
	}{
		{"ok", `{"name":"a","count":2}`, false, "", nil},
		{"trailing space is fine", "{\"name\":\"a\"}\n ", false, "", nil},
		{"too large", `{"name":"` + strings.Repeat("x", 100) + `"}`, false, TooLarge, nil},
		{"empty", "  ", false, InvalidJSON, nil},
		{"syntax", `{"name":}`, false, InvalidJSON, nil},
		{"cut short", `{"name":"a"`, false, InvalidJSON, nil},
		{"two values", `{"name":"a"} {}`, false, InvalidJSON, nil},
		{"unknown field", `{"nmae":"a"}`, false, InvalidJSON, nil},
		{"wrong type", `{"count":"two"}`, false, InvalidJSON, nil},
		{"unknown field, shaped", `{"nmae":"a"}`, true, "", shaped},
		{"wrong type, shaped", `{"count":"two"}`, true, "", shaped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var shape func(error) error
			if tc.shape {
				shape = func(error) error { return shaped }
			}
			var v target
			err := DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(tc.body)), 64, &v, shape)
			var ae *Error
			switch {
			case tc.code != "":
				if !errors.As(err, &ae) || ae.Code != tc.code {
					t.Fatalf("err %v, want code %s", err, tc.code)
				}
			case err != tc.want:
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}
