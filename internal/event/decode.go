package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits from the Segment HTTP Tracking API.
const (
	MaxMessageBytes = 32 << 10  // one message
	MaxBatchBytes   = 500 << 10 // one request body, after decompression
	maxIDBytes      = 1024
	maxNameBytes    = 1024
)

// Error is a validation failure that names the offending field.
type Error struct {
	Field  string // JSON field, e.g. "userId" or "properties"
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func fieldErr(field, format string, args ...any) *Error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Meta is what the server knows about a message besides its bytes.
type Meta struct {
	SourceID   string
	ReceivedAt time.Time
	// Type fills in the message's type when the endpoint implies it
	// (/v1/track); a message that names a different type is rejected.
	Type Type
	// SentAt is the batch-level sentAt, used when the message has none.
	SentAt time.Time
	// Context is the batch-level context, used when the message has none.
	Context map[string]any
	// MessageID is used when the message has none (assigned by the server and
	// stored with the message so replay assigns the same one).
	MessageID string
}

// wire is the JSON shape of one message. Ids arrive as raw JSON because SDKs
// send numbers as well as strings.
type wire struct {
	Type              string          `json:"type"`
	MessageID         json.RawMessage `json:"messageId"`
	UserID            json.RawMessage `json:"userId"`
	AnonymousID       json.RawMessage `json:"anonymousId"`
	PreviousID        json.RawMessage `json:"previousId"`
	GroupID           json.RawMessage `json:"groupId"`
	Event             json.RawMessage `json:"event"`
	Name              json.RawMessage `json:"name"`
	Properties        json.RawMessage `json:"properties"`
	Traits            json.RawMessage `json:"traits"`
	Context           json.RawMessage `json:"context"`
	Timestamp         json.RawMessage `json:"timestamp"`
	OriginalTimestamp json.RawMessage `json:"originalTimestamp"`
	SentAt            json.RawMessage `json:"sentAt"`
}

// Decode parses and validates one Segment message. It never panics; every
// failure is an *Error naming the field.
//
// Clock skew: a device's clock may be wrong, so when the message carries both
// its own timestamp and the time it was sent, the event time is
// receivedAt - (sentAt - timestamp), as Segment does. Without sentAt the
// timestamp is trusted as is (historical imports); without a timestamp the
// event happened when it was received.
func Decode(raw []byte, m Meta) (Event, error) {
	var e Event
	if len(raw) > MaxMessageBytes {
		return e, &Error{Reason: fmt.Sprintf("message is %d bytes, over the %d byte limit", len(raw), MaxMessageBytes)}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return e, &Error{Reason: "message must be a JSON object"}
	}
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		return e, jsonError(err)
	}
	var err error
	e.SourceID = m.SourceID
	e.ReceivedAt = m.ReceivedAt.UTC()

	switch {
	case w.Type == "" && m.Type != "":
		e.Type = m.Type
	case w.Type == "":
		return e, fieldErr("type", "missing; one of identify, track, page, screen, group, alias")
	default:
		t, ok := ParseType(w.Type)
		if !ok || len(w.Type) == 1 {
			return e, fieldErr("type", "unknown type %q; one of identify, track, page, screen, group, alias", truncate(w.Type))
		}
		if m.Type != "" && t != m.Type {
			return e, fieldErr("type", "%q sent to the %s endpoint", w.Type, m.Type)
		}
		e.Type = t
	}

	if e.MessageID, err = idField("messageId", w.MessageID); err != nil {
		return e, err
	}
	if e.MessageID == "" {
		e.MessageID = m.MessageID
	}
	if e.MessageID == "" {
		return e, fieldErr("messageId", "missing")
	}
	if e.UserID, err = idField("userId", w.UserID); err != nil {
		return e, err
	}
	if e.AnonymousID, err = idField("anonymousId", w.AnonymousID); err != nil {
		return e, err
	}
	if e.UserID == "" && e.AnonymousID == "" {
		return e, fieldErr("userId", "every message needs a userId or an anonymousId")
	}
	if e.Properties, err = objField("properties", w.Properties); err != nil {
		return e, err
	}
	if e.Traits, err = objField("traits", w.Traits); err != nil {
		return e, err
	}
	if e.Context, err = objField("context", w.Context); err != nil {
		return e, err
	}
	if e.Context == nil && m.Context != nil {
		e.Context = m.Context
	}
	if e.Name, err = strField("name", w.Name, maxNameBytes); err != nil {
		return e, err
	}

	switch e.Type {
	case Track:
		if e.Event, err = strField("event", w.Event, maxNameBytes); err != nil {
			return e, err
		}
		if e.Event == "" {
			return e, fieldErr("event", "a track call needs an event name")
		}
	case Alias:
		if e.PreviousID, err = idField("previousId", w.PreviousID); err != nil {
			return e, err
		}
		if e.PreviousID == "" {
			return e, fieldErr("previousId", "an alias call needs a previousId")
		}
		if e.UserID == "" {
			return e, fieldErr("userId", "an alias call needs a userId")
		}
	case Group:
		if e.GroupID, err = idField("groupId", w.GroupID); err != nil {
			return e, err
		}
		if e.GroupID == "" {
			return e, fieldErr("groupId", "a group call needs a groupId")
		}
	}

	ts, err := timeField("timestamp", w.Timestamp)
	if err != nil {
		return e, err
	}
	if ts.IsZero() {
		if ts, err = timeField("originalTimestamp", w.OriginalTimestamp); err != nil {
			return e, err
		}
	}
	sentAt, err := timeField("sentAt", w.SentAt)
	if err != nil {
		return e, err
	}
	if sentAt.IsZero() {
		sentAt = m.SentAt
	}
	switch {
	case ts.IsZero():
		e.Timestamp = e.ReceivedAt
	case !sentAt.IsZero():
		e.Timestamp = e.ReceivedAt.Add(-sentAt.Sub(ts))
	default:
		e.Timestamp = ts.UTC()
	}
	return e, nil
}

func jsonError(err error) *Error {
	switch err := err.(type) {
	case *json.SyntaxError:
		return &Error{Reason: fmt.Sprintf("malformed JSON at byte %d: %v", err.Offset, err)}
	case *json.UnmarshalTypeError:
		return fieldErr(err.Field, "must be %s, got JSON %s", err.Type.String(), err.Value)
	}
	return &Error{Reason: "malformed JSON: " + err.Error()}
}

// idField accepts a JSON string or number (SDKs send numeric user ids) and
// returns it as a trimmed string; null and absent are "".
func idField(field string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fieldErr(field, "invalid string")
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fieldErr(field, "invalid number")
		}
		s = n.String()
	default:
		return "", fieldErr(field, "must be a string or a number, got %s", jsonKind(raw))
	}
	s = strings.TrimSpace(s)
	if len(s) > maxIDBytes {
		return "", fieldErr(field, "is %d bytes, over the %d byte limit", len(s), maxIDBytes)
	}
	if !validText(s) {
		return "", fieldErr(field, "must be valid UTF-8 without control characters")
	}
	return s, nil
}

func strField(field string, raw json.RawMessage, max int) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] != '"' {
		return "", fieldErr(field, "must be a string, got %s", jsonKind(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fieldErr(field, "invalid string")
	}
	if len(s) > max {
		return "", fieldErr(field, "is %d bytes, over the %d byte limit", len(s), max)
	}
	if !utf8.ValidString(s) {
		return "", fieldErr(field, "must be valid UTF-8")
	}
	return strings.TrimSpace(s), nil
}

func objField(field string, raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, fieldErr(field, "must be a JSON object, got %s", jsonKind(raw))
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fieldErr(field, "invalid object: %v", err)
	}
	return m, nil
}

// timeFormats are the ISO 8601 shapes SDKs send, most common first.
var timeFormats = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

func timeField(field string, raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	if raw[0] != '"' {
		return time.Time{}, fieldErr(field, "must be an ISO 8601 date string, got %s", jsonKind(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fieldErr(field, "invalid string")
	}
	t, ok := ParseTime(s)
	if !ok {
		return time.Time{}, fieldErr(field, "%q is not an ISO 8601 date such as 2026-11-24T10:00:00.000Z", truncate(s))
	}
	return t, nil
}

// ParseTime parses the ISO 8601 forms SDKs send; times without a zone are UTC.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, f := range timeFormats {
		if t, err := time.Parse(f, s); err == nil {
			if t.Year() < 1970 || t.Year() > 9999 {
				return time.Time{}, false
			}
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return s
}
