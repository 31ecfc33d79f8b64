package apierr

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// DecodeJSON reads one JSON value of at most limit bytes from r's body into
// v, refusing unknown fields (a misspelt field would otherwise be dropped
// without a word) and anything after the value. Its errors are Errors
// naming the problem (too_large, bad_body, invalid_json), except a value of
// the wrong type or an unknown field: shape, when not nil, turns those into
// the caller's own validation error, which can name the field the way the
// caller's API does; without it they are invalid_json.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any, shape func(error) error) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return Errorf(TooLarge, "body is larger than the limit of %d bytes", limit)
	case err != nil:
		return Errorf(BadBody, "reading body: %v", err)
	case len(bytes.TrimSpace(b)) == 0:
		return New(InvalidJSON, "body is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return Errorf(InvalidJSON, "invalid JSON at byte %d: %v", se.Offset, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return New(InvalidJSON, "invalid JSON: the body ends in the middle of a value")
	case err != nil && shape != nil:
		return shape(err)
	case err != nil:
		return Errorf(InvalidJSON, "body is not valid JSON for this route: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return New(InvalidJSON, "invalid JSON: data after the object")
	}
	return nil
}
