package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

func TestDecodeProducts(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		ndjson bool
		want   []string // per item "index@line:id" or "index@line:id!reason"
		err    string
	}{
		{"object", ` {"id":"a","name":"A"} `, false, []string{"0@1:a"}, ""},
		{"array over lines", "[\n {\"id\":\"a\",\"name\":\"A\"},\n\n {\"id\":\"b\"}\n]\n", false,
			[]string{"0@2:a", "1@4:b!name: required"}, ""},
		{"ndjson with blank and CRLF lines", "{\"id\":\"a\",\"name\":\"A\"}\r\n\r\n{\"id\":\"b\",\"name\":\"B\"}\r\n", true,
			[]string{"0@1:a", "1@3:b"}, ""},
		{"ndjson array line is one bad item", "[{\"id\":\"a\",\"name\":\"A\"}]\n{\"id\":\"b\",\"name\":\"B\"}", true,
			[]string{"0@1:!not a JSON object", "1@2:b"}, ""},
		{"scalars", "1 \"x\" null true", false,
			[]string{"0@1:!not a JSON object", "1@1:!not a JSON object", "2@1:!not a JSON object", "3@1:!not a JSON object"}, ""},
		{"attribute of any type", `{"id":"a","name":"A","attributes":{"n":1,"l":[1,{"x":null}]}}`, false, []string{"0@1:a"}, ""},
		{"attributes not an object", `{"id":"a","name":"A","attributes":[1]}`, false,
			[]string{"0@1:a!attributes: expected an object, got array"}, ""},
		{"empty", " \n\t", false, nil, "empty body: send a product object, a JSON array of products, or NDJSON (one product per line)"},
		{"unclosed array", `[{"id":"a","name":"A"}`, false, nil, "invalid JSON at line 1, column 23 (byte offset 22): unexpected end of input"},
		{"missing comma", "[{\"id\":\"a\"}\n {\"id\":\"b\"}]", false, nil,
			"invalid JSON at line 2, column 2 (byte offset 13): expected comma after array element"},
		{"bad literal on line 3", "{}\n{}\n{\"id\": tru}\n", true, nil,
			"invalid JSON at line 3, column 11 (byte offset 16): invalid character '}' in literal true (expecting 'e')"},
		{"stray closer", `{"id":"a"}}`, false, nil, "invalid JSON at line 1, column 11 (byte offset 10): invalid character '}' looking for beginning of value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := decodeProducts([]byte(tt.body), tt.ndjson)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v\nwant %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				s := fmt.Sprintf("%d@%d:%s", it.Index, it.Line, it.Product.ID)
				if it.Reason != "" {
					s += "!" + it.Reason
				}
				got = append(got, s)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("items = %q\nwant    %q", got, tt.want)
			}
		})
	}
}

// FuzzDecodeProducts checks the body decoder never panics, accepts every
// well-formed JSON value, numbers items densely, locates errors inside the
// body, and lets through only valid products.
func FuzzDecodeProducts(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","name":"A","price":1}`,
		`[{"id":"a","name":"A"},{"id":"b","name":"B","stock":-1}]`,
		"{\"id\":\"a\",\"name\":\"A\"}\n{\"id\":\"b\"}\n",
		`[{"id":"a","name":"A","attributes":{"x":[1,2,{"y":null}]},"url":"https://x.example/a"}] `,
		`[1,2,]`,
		`{"id":"a\u0000","name":"A","price":-0}`,
		`[{"id":"a"} {"id":"b"}]`,
		"\ufeff{}",
		`{"price":1e999}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		items, err := decodeProducts(body, ndjson)
		if err != nil {
			if json.Valid(body) {
				t.Fatalf("valid JSON %q rejected: %v", body, err)
			}
			var se *SyntaxError
			if errors.As(err, &se) && (se.Offset < 0 || se.Offset > int64(len(body)) || se.Line < 1 || se.Column < 1) {
				t.Fatalf("error %v outside the body of %d bytes", err, len(body))
			}
			return
		}
		lines := lineOf(body, len(body))
		for i, it := range items {
			if it.Index != i || it.Line < 1 || it.Line > lines {
				t.Fatalf("item %d: index %d line %d of %d lines", i, it.Index, it.Line, lines)
			}
			if i > 0 && it.Line < items[i-1].Line {
				t.Fatalf("item %d on line %d before item %d on line %d", i, it.Line, i-1, items[i-1].Line)
			}
			if it.Reason == "" {
				if !it.Parsed {
					t.Fatalf("item %d accepted without being parsed", i)
				}
				if err := it.Product.Validate(); err != nil {
					t.Fatalf("item %d accepted but invalid: %v", i, err)
				}
				if _, err := json.Marshal(it.Product); err != nil {
					t.Fatalf("item %d accepted but cannot be stored: %v", i, err)
				}
			}
		}
	})
}

// TestDecodeProductsScalesLinearly checks that ten times the products cost
// about ten times the time, not a hundred (the line of each product used to
// be counted from the start of the body). The best of two runs absorbs
// noise from other processes; the bound leaves room for it.
func TestDecodeProductsScalesLinearly(t *testing.T) {
	best := func(n int) time.Duration {
		body := bulkBody(n)
		d := time.Duration(math.MaxInt64)
		for range 2 {
			start := time.Now()
			if _, err := decodeProducts(body, false); err != nil {
				t.Fatal(err)
			}
			d = min(d, time.Since(start))
		}
		return d
	}
	small, large := best(2000), best(20000)
	if ratio := float64(large) / float64(small); ratio > 25 {
		t.Errorf("20,000 products took %s, %.0f times 2,000 products (%s): decoding is not linear", large, ratio, small)
	}
}
