package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"

	"tailor/internal/apierr"
)

// item is one product of a request body, decoded and checked, or the reason
// it was rejected. Index counts the body's values from 0; Line is the 1-based
// line its value starts on.
type item struct {
	Index   int
	Line    int
	Product Product
	Parsed  bool   // the value decoded into Product without error
	Reason  string // empty when Product is valid and normalized
}

// SyntaxError is a body that is not JSON, an array of JSON values, or a
// stream of JSON values (NDJSON). It locates the fault by line and column.
type SyntaxError struct {
	Line, Column int
	Offset       int64 // bytes from the start of the body
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at line %d, column %d (byte offset %d): %s", e.Line, e.Column, e.Offset, e.Msg)
}

// decodeProducts splits a body into products. The body is either a JSON array
// of products, or a sequence of JSON values — one object, or NDJSON with one
// object per line. When ndjson is set, the body is always read as a sequence,
// even if it starts with '['.
//
// A body that is not well-formed JSON fails as a whole with a *SyntaxError.
// Otherwise every value yields one item: a value that is not an object, has a
// field of the wrong type, or fails Validate is an item with a Reason, and the
// others are normalized products ready to store.
func decodeProducts(body []byte, ndjson bool) ([]item, error) {
	start := skipSpace(body, 0)
	if start == len(body) {
		return nil, apierr.New(apierr.InvalidJSON, "empty body: send a product object, a JSON array of products, or NDJSON (one product per line)")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	array := !ndjson && body[start] == '['
	if array {
		if _, err := dec.Token(); err != nil { // the '['
			return nil, syntaxError(body, dec, err, false)
		}
	}
	var items []item
	// Lines are counted on from the previous value, not from the start of
	// the body: counting from the start made a body of n products cost n²
	// bytes scanned (10,000 products: 0.8 s).
	lines := lineCounter{body: body, line: 1}
	for {
		if array && !dec.More() {
			break
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if !array && errors.Is(err, io.EOF) {
				break
			}
			return nil, syntaxError(body, dec, err, true)
		}
		at := int(dec.InputOffset()) - len(raw)
		items = append(items, decodeItem(len(items), lines.at(at), raw))
	}
	if array {
		if _, err := dec.Token(); err != nil { // the ']'
			return nil, syntaxError(body, dec, err, false)
		}
		if end := skipSpace(body, int(dec.InputOffset())); end != len(body) {
			return nil, newSyntaxError(body, end, "unexpected data after the closing ']' of the array")
		}
	}
	return items, nil
}

// decodeItem decodes and checks one value of a body.
func decodeItem(index, line int, raw json.RawMessage) item {
	it := item{Index: index, Line: line}
	if len(raw) == 0 || raw[0] != '{' {
		it.Reason = "not a JSON object"
		return it
	}
	if err := json.Unmarshal(raw, &it.Product); err != nil {
		// Unmarshal fills what it can, so the id is usually known.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			it.Reason = fmt.Sprintf("%s: expected %s, got %s", te.Field, jsonKind(te.Type), te.Value)
		} else {
			it.Reason = err.Error()
		}
		return it
	}
	it.Parsed = true
	it.check()
	return it
}

// check normalizes a parsed product and sets Reason if it is not valid.
func (it *item) check() {
	it.Product.Normalize()
	it.Reason = ""
	if err := it.Product.Validate(); err != nil {
		it.Reason = err.Error()
	}
}

// jsonKind names the JSON a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "true or false"
	}
	return t.String()
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// lineCounter returns the lines of increasing offsets of body, scanning each
// byte once.
type lineCounter struct {
	body []byte
	off  int // bytes before off are counted in line
	line int // 1-based line of off
}

// at returns the 1-based line of byte offset off, which must not be smaller
// than the offset of the previous call.
func (c *lineCounter) at(off int) int {
	off = min(max(off, c.off), len(c.body))
	c.line += bytes.Count(c.body[c.off:off], []byte{'\n'})
	c.off = off
	return c.line
}

// lineOf returns the 1-based line of byte offset off in b.
func lineOf(b []byte, off int) int {
	off = min(max(off, 0), len(b))
	return bytes.Count(b[:off], []byte{'\n'}) + 1
}

// syntaxError locates a decoding error in the body. The offsets that
// encoding/json reports are not usable as they are: Token errors give the
// absolute offset of the bad byte, but Decode errors count from a point that
// drifts once Token has been used. So a Decode error is located again by
// decoding the failing value alone, from where the decoder stopped.
func syntaxError(body []byte, dec *json.Decoder, err error, fromDecode bool) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return newSyntaxError(body, len(body), "unexpected end of input")
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return newSyntaxError(body, int(dec.InputOffset()), err.Error())
	}
	if !fromDecode {
		return newSyntaxError(body, int(se.Offset), se.Error())
	}
	base := int(dec.InputOffset())
	var raw json.RawMessage
	err2 := json.NewDecoder(bytes.NewReader(body[base:])).Decode(&raw)
	var se2 *json.SyntaxError
	if errors.As(err2, &se2) {
		// Offset counts the bytes read, the bad one included.
		return newSyntaxError(body, base+int(se2.Offset)-1, se.Error())
	}
	// The value alone decodes, so what failed was the separator before it.
	return newSyntaxError(body, base, se.Error())
}

func newSyntaxError(body []byte, off int, msg string) *SyntaxError {
	off = min(max(off, 0), len(body))
	line := lineOf(body, off)
	col := off - (bytes.LastIndexByte(body[:off], '\n') + 1) + 1
	return &SyntaxError{Line: line, Column: col, Offset: int64(off), Msg: msg}
}
