package event

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/valyala/fastjson"
)

// Context is a message's context object (or the batch's, when the message
// has none).
//
// A context is half of a typical message (ip, user agent, library, page,
// campaign, device) but the hot path reads only three of its fields: the
// timezone and locale (profile state) and traits (identifiers). Building it
// as nested Go maps for every message was about half of the allocations
// and bytes of decoding (BenchmarkDecodeDemo), so Decode keeps those three
// decoded and the whole object as compact JSON, which Map decodes on demand
// into exactly the map Decode used to build (TestToAnyMatchesReference).
//
// The zero Context is an absent one. A Context is read-only and safe to
// share, like the rest of an Event.
type Context struct {
	// Timezone and Locale are context.timezone and context.locale when
	// they are strings, else "".
	Timezone, Locale string

	traits map[string]any // context.traits when an object, else nil
	// The whole context: enc is the JSON written by appendJSON for a
	// decoded message, m the map for a context built from one
	// (ContextFromMap); at most one is set.
	enc string
	m   map[string]any
}

// ContextFromMap makes a Context of decoded JSON (map[string]any, []any,
// string, float64, bool, nil), such as a batch context; m must not be
// changed afterwards. A nil m is an absent context.
func ContextFromMap(m map[string]any) Context {
	if m == nil {
		return Context{}
	}
	c := Context{m: m}
	c.Timezone, _ = m["timezone"].(string)
	c.Locale, _ = m["locale"].(string)
	c.traits, _ = m["traits"].(map[string]any)
	return c
}

// IsZero reports whether the context is absent (null or no context at all);
// an empty object is not absent.
func (c Context) IsZero() bool { return c.enc == "" && c.m == nil }

// Map returns the whole context as decoded JSON, nil when absent. A context
// from a message is decoded anew on every call, so callers that read it
// more than once should keep the result; they must not change it.
func (c Context) Map() map[string]any {
	if c.enc == "" {
		return c.m
	}
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.Parse(c.enc)
	if err != nil {
		return nil // unreachable: enc is JSON appendJSON wrote and Decode validated
	}
	var d valueDecoder
	x, err := d.toAny(v)
	if err != nil {
		return nil // unreachable, as above
	}
	m, _ := x.(map[string]any)
	return m
}

// MarshalJSON encodes the context as its Map, so an Event encodes as it did
// when Context was a map.
func (c Context) MarshalJSON() ([]byte, error) { return json.Marshal(c.Map()) }

// UnmarshalJSON is the inverse of MarshalJSON, for an Event decoded from
// JSON as it could be when Context was a map.
func (c *Context) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("event context: %w", err)
	}
	*c = ContextFromMap(m)
	return nil
}

// encBufs are scratch buffers for a context's JSON while it is written.
var encBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// context decodes a message's context object (v non-null), rejecting
// exactly what toAny rejects, with the same error.
func (d *valueDecoder) context(v *fastjson.Value) (Context, error) {
	if v.Type() != fastjson.TypeObject {
		return Context{}, fieldErr("context", "must be a JSON object, got %s", kindOf(v))
	}
	bp := encBufs.Get().(*[]byte)
	defer encBufs.Put(bp)
	var c Context
	buf, err := d.appendJSON((*bp)[:0], v, func(k []byte, v *fastjson.Value) error {
		// Later duplicates win, as in the map.
		switch string(k) {
		case "timezone":
			c.Timezone = stringOrEmpty(v)
		case "locale":
			c.Locale = stringOrEmpty(v)
		case "traits":
			c.traits = nil
			if v.Type() == fastjson.TypeObject {
				x, err := d.toAny(v)
				if err != nil {
					return err
				}
				c.traits = x.(map[string]any)
			}
		}
		return nil
	})
	*bp = buf
	if err != nil {
		return Context{}, fieldErr("context", "%v", err)
	}
	c.enc = string(buf)
	return c, nil
}

func stringOrEmpty(v *fastjson.Value) string {
	if v.Type() != fastjson.TypeString {
		return ""
	}
	return internString(v).(string)
}

// appendJSON appends v to dst as JSON that decodes (toAny) to the same
// value as v: strings and keys unescaped, numbers as their original digits, after the same check toAny makes, so
// it fails where toAny fails, with the same error. member, when not nil,
// is called with each member of the top-level object.
func (d *valueDecoder) appendJSON(dst []byte, v *fastjson.Value, member func(k []byte, v *fastjson.Value) error) ([]byte, error) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		var err error
		first := true
		o.Visit(func(k []byte, v *fastjson.Value) {
			if err != nil {
				return
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			if dst, err = d.appendJSON(dst, v, nil); err == nil && member != nil {
				err = member(k, v)
			}
		})
		return append(dst, '}'), err
	case fastjson.TypeArray:
		vs, _ := v.Array()
		dst = append(dst, '[')
		for i, el := range vs {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = d.appendJSON(dst, el, nil); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return appendJSONString(dst, b), nil
	case fastjson.TypeNumber:
		if _, err := d.float(v); err != nil {
			return dst, err
		}
		return append(dst, d.num...), nil
	case fastjson.TypeTrue:
		return append(dst, "true"...), nil
	case fastjson.TypeFalse:
		return append(dst, "false"...), nil
	}
	return append(dst, "null"...), nil
}

// appendJSONString appends s as a JSON string, escaping only what JSON
// requires. Invalid UTF-8 is kept as it is: Map decodes with toAny, which
// replaces it exactly as validString and validKey did for the message.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is still to be copied
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < 0x20 {
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		} else {
			dst = append(dst, '\\', c)
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hex = "0123456789abcdef"
