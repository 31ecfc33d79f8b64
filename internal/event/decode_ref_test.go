package event

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fastjson"

	"tailor/internal/demo"
)

// referenceToAny is the straightforward conversion toAny replaced: a new
// string for every key and for every number's digits, a new box for every
// value. toAny must give the same values and the same errors.
func referenceToAny(v *fastjson.Value) (any, error) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := make(map[string]any, o.Len())
		var err error
		o.Visit(func(k []byte, v *fastjson.Value) {
			if err != nil {
				return
			}
			var x any
			if x, err = referenceToAny(v); err == nil {
				m[strings.ToValidUTF8(string(k), "\uFFFD")] = x
			}
		})
		return m, err
	case fastjson.TypeArray:
		vs, _ := v.Array()
		a := make([]any, len(vs))
		for i, el := range vs {
			x, err := referenceToAny(el)
			if err != nil {
				return nil, err
			}
			a[i] = x
		}
		return a, nil
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	case fastjson.TypeNumber:
		n := v.String()
		f, err := strconv.ParseFloat(n, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("invalid number %s", truncate(n))
		}
		return f, nil
	case fastjson.TypeTrue:
		return true, nil
	case fastjson.TypeFalse:
		return false, nil
	}
	return nil, nil
}

// sameAsReference fails t unless toAny and referenceToAny agree on the
// JSON raw: the same value (negative zero included) or the same error.
func sameAsReference(t *testing.T, raw []byte) {
	t.Helper()
	var p1, p2 fastjson.Parser
	v1, err1 := p1.ParseBytes(raw)
	v2, err2 := p2.ParseBytes(raw)
	if err1 != nil || err2 != nil {
		return
	}
	var d valueDecoder
	got, gotErr := d.toAny(v1)
	want, wantErr := referenceToAny(v2)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%s: error %v, reference %v", raw, gotErr, wantErr)
	}
	if gotErr == nil && !sameValue(got, want) {
		t.Fatalf("%s:\n got %#v\nwant %#v", raw, got, want)
	}
	if v1.Type() == fastjson.TypeObject {
		sameContext(t, raw, want, wantErr)
	}
}

// sameContext fails t unless raw, decoded as a message's context, gives
// the map, the fields and the error the reference conversion gives.
func sameContext(t *testing.T, raw []byte, want any, wantErr error) {
	t.Helper()
	var p fastjson.Parser
	v, _ := p.ParseBytes(raw)
	var d valueDecoder
	c, err := d.context(v)
	if wantErr != nil {
		if err == nil || err.Error() != "context: "+wantErr.Error() {
			t.Fatalf("%s as context: error %v, reference %v", raw, err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s as context: %v", raw, err)
	}
	m := want.(map[string]any)
	wantTraits, _ := m["traits"].(map[string]any)
	if got := c.Map(); !sameValue(got, m) || !sameValue(c.traits, wantTraits) || (c.traits == nil) != (wantTraits == nil) {
		t.Fatalf("%s as context:\n got %#v, traits %#v\nwant %#v", raw, got, c.traits, m)
	}
	if ref := ContextFromMap(m); c.Timezone != ref.Timezone || c.Locale != ref.Locale {
		t.Fatalf("%s as context: timezone %q, locale %q; reference %q, %q", raw, c.Timezone, c.Locale, m["timezone"], m["locale"])
	}
}

// sameValue is reflect.DeepEqual that also tells 0 from -0, which
// encode differently.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, x := range a {
			y, ok := b[k]
			if !ok || !sameValue(x, y) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameValue(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// valueCases are the inputs where the cheaper conversion could differ: the
// pre-boxed whole numbers and their edges, numbers longer than the digit
// buffer, spellings fastjson accepts and ParseFloat refuses, and keys that
// are or look like the interned ones.
var valueCases = []string{
	`{"quantity":1,"position":0,"n":255,"m":256,"neg":-1,"nz":-0,"nz2":-0.0,"z":0.0,"z3":0e5,"h":1.5,"big":1e308}`,
	`{"price":129.99,"p":12.50,"e":1E2,"small":5e-324,"tiny":1e-400}`,
	`{"long":123456789012345678901234567890123456789,"longf":0.1234567890123456789012345678901234567890}`,
	`{"inf":1e400}`, `{"x":[1,2,-1e999]}`, `{"x":Infinity}`, `{"x":NaN}`, `{"x":-inf}`, `{"x":nan}`,
	`{"x":01}`, `{"x":1.}`, `{"x":.5}`, `{"x":+1}`, `{"x":1e}`, `{"x":--1}`,
	`{"name":"a","name":"b","product_id":null,"products":[{"sku":"s","price":1}]}`,
	`{"na\u006de":1,"nam":2,"names":3,"Name":4,"":5}`,
	"{\"k\xff\":\"v\xfe\",\"email\":\"a@b.c\"}",
	`{"context":{"traits":{"email":"a@b.c"},"library":{"name":"l","version":"1"}}}`,
	`{"timezone":"Europe/Paris","locale":"fr-FR","timezone":5,"traits":{"email":"a@b.c"},"traits":null}`,
	`{"locale":"a\"b\\c\u0001\n\u2028é","k\"\u0000":"","":[],"o":{},"deep":[[{"a":[null,true,false,-0,1e-7]}]]}`,
	"{\"traits\":{\"phone\":\"+1 555\xff\"},\"timezone\":\"\xc3\"}",
	`[true,false,null,"s",{}]`, `"s"`, `7`, `null`,
}

func TestToAnyMatchesReference(t *testing.T) {
	for _, c := range valueCases {
		sameAsReference(t, []byte(c))
	}
	stop := errors.New("enough")
	n := 0
	err := demo.New(demo.Config{Customers: 200, Seed: 1}).Messages(func(msg []byte) error {
		sameAsReference(t, msg)
		if n++; n == 2000 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("the demo made %d messages, want 2000 (err %v)", n, err)
	}
}

func FuzzToAny(f *testing.F) {
	for _, c := range valueCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameAsReference(t, raw)
	})
}
