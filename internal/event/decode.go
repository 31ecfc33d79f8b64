package event

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
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
	// Trust is the source's trust level when the message was received.
	Trust Trust
}

var parsers fastjson.ParserPool

// Decode parses and validates one Segment message. It never panics; every
// failure is an *Error naming the field.
func Decode(raw []byte, m Meta) (Event, error) {
	if len(raw) > MaxMessageBytes {
		return Event{}, &Error{Reason: fmt.Sprintf("message is %d bytes, over the %d byte limit", len(raw), MaxMessageBytes)}
	}
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil {
		return Event{}, malformed(err)
	}
	return DecodeValue(v, m)
}

// Parse parses a request body with a pooled parser and calls fn with the
// root value, which is only valid during the call.
func Parse(body []byte, fn func(*fastjson.Value) error) error {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return malformed(err)
	}
	return fn(v)
}

// malformed words a parse error for the client; fastjson's own text starts
// with a redundant "cannot parse JSON: " and shows where parsing stopped.
func malformed(err error) *Error {
	return &Error{Reason: "malformed JSON: " + strings.TrimPrefix(err.Error(), "cannot parse JSON: ")}
}

// fields are the message's known top-level members.
type fields struct {
	typ, messageID, userID, anonymousID, previousID, groupID, event, name,
	properties, traits, context, timestamp, originalTimestamp, sentAt *fastjson.Value
}

// DecodeValue validates one parsed message. Decoding walks the parsed tree
// once (fastjson), converting only properties and traits into Go maps and
// context into compact JSON (see Context); encoding/json scanned every byte
// several times and was the largest CPU cost of ingest.
//
// Clock skew: a device's clock may be wrong, so when the message carries both
// its own timestamp and the time it was sent, the event time is
// receivedAt - (sentAt - timestamp), as Segment does. Without sentAt the
// timestamp is trusted as is (historical imports); without a timestamp the
// event happened when it was received. Every one of these times must lie in
// the supported range (see InTimeRange), so that replaying the log computes
// the very same event time.
func DecodeValue(v *fastjson.Value, m Meta) (Event, error) {
	var e Event
	obj, err := v.Object()
	if err != nil {
		return e, &Error{Reason: "message must be a JSON object, got " + kindOf(v)}
	}
	var f fields
	obj.Visit(func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "type":
			f.typ = v
		case "messageId":
			f.messageID = v
		case "userId":
			f.userID = v
		case "anonymousId":
			f.anonymousID = v
		case "previousId":
			f.previousID = v
		case "groupId":
			f.groupID = v
		case "event":
			f.event = v
		case "name":
			f.name = v
		case "properties":
			f.properties = v
		case "traits":
			f.traits = v
		case "context":
			f.context = v
		case "timestamp":
			f.timestamp = v
		case "originalTimestamp":
			f.originalTimestamp = v
		case "sentAt":
			f.sentAt = v
		}
	})
	e.SourceID = m.SourceID
	e.Trust = m.Trust
	e.ReceivedAt = m.ReceivedAt.UTC()

	typ, err := strField("type", f.typ, 32)
	if err != nil {
		return e, err
	}
	switch {
	case typ == "" && m.Type != "":
		e.Type = m.Type
	case typ == "":
		return e, fieldErr("type", "missing; one of identify, track, page, screen, group, alias")
	default:
		t, ok := ParseType(typ)
		if !ok || len(typ) == 1 {
			return e, fieldErr("type", "unknown type %q; one of identify, track, page, screen, group, alias", truncate(typ))
		}
		if m.Type != "" && t != m.Type {
			return e, fieldErr("type", "%q sent to the %s endpoint", typ, m.Type)
		}
		e.Type = t
	}

	if e.MessageID, err = idField("messageId", f.messageID); err != nil {
		return e, err
	}
	if e.MessageID == "" {
		e.MessageID = m.MessageID
	}
	if e.MessageID == "" {
		return e, fieldErr("messageId", "missing")
	}
	if e.UserID, err = idField("userId", f.userID); err != nil {
		return e, err
	}
	if e.AnonymousID, err = idField("anonymousId", f.anonymousID); err != nil {
		return e, err
	}
	if e.UserID == "" && e.AnonymousID == "" {
		return e, fieldErr("userId", "every message needs a userId or an anonymousId")
	}
	var d valueDecoder
	if e.Properties, err = d.objField("properties", f.properties); err != nil {
		return e, err
	}
	if e.Traits, err = d.objField("traits", f.traits); err != nil {
		return e, err
	}
	if !isNull(f.context) {
		if e.Context, err = d.context(f.context); err != nil {
			return e, err
		}
	}
	if e.Context.IsZero() {
		e.Context = ContextFromMap(m.Context)
	}
	if e.Name, err = strField("name", f.name, maxNameBytes); err != nil {
		return e, err
	}

	switch e.Type {
	case Track:
		if e.Event, err = strField("event", f.event, maxNameBytes); err != nil {
			return e, err
		}
		if e.Event == "" {
			return e, fieldErr("event", "a track call needs an event name")
		}
	case Alias:
		if e.PreviousID, err = idField("previousId", f.previousID); err != nil {
			return e, err
		}
		if e.PreviousID == "" {
			return e, fieldErr("previousId", "an alias call needs a previousId")
		}
		if e.UserID == "" {
			return e, fieldErr("userId", "an alias call needs a userId")
		}
	case Group:
		if e.GroupID, err = idField("groupId", f.groupID); err != nil {
			return e, err
		}
		if e.GroupID == "" {
			return e, fieldErr("groupId", "a group call needs a groupId")
		}
	}

	e.Timestamp, err = eventTime(f, m, e.ReceivedAt)
	return e, err
}

// The supported time range, for timestamp, originalTimestamp, sentAt, the
// receive time and the event time after clock-skew correction: from minTime
// (inclusive) to maxTime (exclusive).
//
// Why these bounds: the log stores the receive metadata and indexes events
// by time as int64 Unix nanoseconds (years 1678 to 2262), and the index
// compares them as unsigned, so a time before 1970 or past 2262 would read
// back as a different instant on replay or sort out of place. Keeping every
// input within 230 years of the others also keeps sentAt - timestamp far
// from time.Duration's ±292-year saturation, so the correction is exact;
// 2200 leaves the event time room for the windows and waits added to it.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// InTimeRange reports whether t is within the range Decode accepts for every
// time: from 1970-01-01T00:00:00Z (inclusive) to 2200-01-01T00:00:00Z
// (exclusive).
func InTimeRange(t time.Time) bool { return !t.Before(minTime) && t.Before(maxTime) }

// outOfRange says why t was refused, e.g. "3000-01-01T00:00:00Z is outside
// the supported range 1970-01-01T00:00:00Z to 2200-01-01T00:00:00Z".
func outOfRange(t time.Time) string {
	return fmt.Sprintf("%s is outside the supported range %s to %s",
		t.UTC().Format(time.RFC3339Nano), minTime.Format(time.RFC3339), maxTime.Format(time.RFC3339))
}

// unsetClock reports whether a sentAt says nothing: absent, or exactly the
// Unix epoch. The epoch is what a clock that was never set reports, and the
// log records "no batch sentAt" as 0 nanoseconds; honouring an epoch sentAt
// live would make replay compute a different event time.
func unsetClock(t time.Time) bool { return t.IsZero() || t.Equal(minTime) }

// eventTime is when the event happened (see DecodeValue on clock skew).
func eventTime(f fields, m Meta, receivedAt time.Time) (time.Time, error) {
	if !InTimeRange(receivedAt) {
		return time.Time{}, fieldErr("receivedAt", "the server clock's %s", outOfRange(receivedAt))
	}
	tsField := "timestamp"
	ts, err := timeField(tsField, f.timestamp)
	if err != nil {
		return time.Time{}, err
	}
	if ts.IsZero() {
		tsField = "originalTimestamp"
		if ts, err = timeField(tsField, f.originalTimestamp); err != nil {
			return time.Time{}, err
		}
	}
	sentAt, err := timeField("sentAt", f.sentAt)
	if err != nil {
		return time.Time{}, err
	}
	if unsetClock(sentAt) {
		sentAt = time.Time{}
		if !unsetClock(m.SentAt) {
			if !InTimeRange(m.SentAt) {
				return time.Time{}, fieldErr("sentAt", "the batch's sentAt %s", outOfRange(m.SentAt))
			}
			sentAt = m.SentAt.UTC()
		}
	}
	switch {
	case ts.IsZero():
		return receivedAt, nil
	case sentAt.IsZero():
		return ts, nil
	}
	// Both inputs are within the range, so the difference is far from
	// saturating; only the corrected time can leave the range.
	skew := sentAt.Sub(ts)
	t := receivedAt.Add(-skew)
	if !InTimeRange(t) {
		return time.Time{}, fieldErr(tsField, "%s with sentAt %s: the event time corrected for clock skew, receivedAt - (sentAt - %s), %s",
			ts.Format(time.RFC3339Nano), sentAt.Format(time.RFC3339Nano), tsField, outOfRange(t))
	}
	return t, nil
}

func isNull(v *fastjson.Value) bool { return v == nil || v.Type() == fastjson.TypeNull }

// idField accepts a JSON string or number (SDKs send numeric user ids) and
// returns it as a trimmed string; null and absent are "".
func idField(field string, v *fastjson.Value) (string, error) {
	if isNull(v) {
		return "", nil
	}
	var s string
	switch v.Type() {
	case fastjson.TypeString:
		s = validString(v)
	case fastjson.TypeNumber:
		n := v.String()
		if _, err := strconv.ParseFloat(n, 64); err != nil {
			return "", fieldErr(field, "invalid number %s", truncate(n))
		}
		s = n
	default:
		return "", fieldErr(field, "must be a string or a number, got %s", kindOf(v))
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

// strField reads type, event and name, whose values are few (call types,
// event names, page names), so they come from the value cache.
func strField(field string, v *fastjson.Value, max int) (string, error) {
	if isNull(v) {
		return "", nil
	}
	if v.Type() != fastjson.TypeString {
		return "", fieldErr(field, "must be a string, got %s", kindOf(v))
	}
	s := internString(v).(string)
	if len(s) > max {
		return "", fieldErr(field, "is %d bytes, over the %d byte limit", len(s), max)
	}
	return strings.TrimSpace(s), nil
}

// valueDecoder converts the parsed properties, traits and context of one
// message (see toAny); num is scratch space for a number's digits, reused
// for every number of the message.
type valueDecoder struct {
	num []byte
}

func (d *valueDecoder) objField(field string, v *fastjson.Value) (map[string]any, error) {
	if isNull(v) {
		return nil, nil
	}
	if v.Type() != fastjson.TypeObject {
		return nil, fieldErr(field, "must be a JSON object, got %s", kindOf(v))
	}
	x, err := d.toAny(v)
	if err != nil {
		return nil, fieldErr(field, "%v", err)
	}
	return x.(map[string]any), nil
}

// toAny converts a parsed value to the Go shapes encoding/json produces
// (map[string]any, []any, string, float64, bool, nil), rejecting what
// encoding/json would reject (numbers that do not parse or overflow).
//
// It is much of the cost of decoding a message, so it avoids the
// allocations it can: frequent keys come from a fixed table, the strings
// of keys whose values repeat across messages come from a cache (see
// intern.go), numbers are parsed from the parser's bytes without a string
// of their own, and small whole numbers share one boxed value (see
// smallNumbers). Every result is read-only, so sharing is safe.
func (d *valueDecoder) toAny(v *fastjson.Value) (any, error) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := make(map[string]any, o.Len())
		var err error
		o.Visit(func(k []byte, v *fastjson.Value) {
			if err != nil {
				return
			}
			key, repeats := internKey(k)
			var x any
			if repeats && v.Type() == fastjson.TypeString {
				x = internString(v)
			} else if x, err = d.toAny(v); err != nil {
				return
			}
			m[key] = x
		})
		return m, err
	case fastjson.TypeArray:
		vs, _ := v.Array()
		a := make([]any, len(vs))
		for i, el := range vs {
			x, err := d.toAny(el)
			if err != nil {
				return nil, err
			}
			a[i] = x
		}
		return a, nil
	case fastjson.TypeString:
		return validString(v), nil
	case fastjson.TypeNumber:
		return d.number(v)
	case fastjson.TypeTrue:
		return true, nil
	case fastjson.TypeFalse:
		return false, nil
	}
	return nil, nil
}

// float converts a JSON number exactly as strconv.ParseFloat does,
// rejecting what does not parse, overflows, or is one of the Inf and NaN
// spellings fastjson lets through. fastjson only hands out a number's
// digits by appending them (String allocates them anew each time), so they
// go to d.num, where they stay until the next number; converting them for
// ParseFloat does not allocate, since ParseFloat keeps no reference.
func (d *valueDecoder) float(v *fastjson.Value) (float64, error) {
	d.num = v.MarshalTo(d.num[:0])
	n := d.num
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("invalid number %s", truncate(string(n)))
	}
	return f, nil
}

// number is float, boxed.
func (d *valueDecoder) number(v *fastjson.Value) (any, error) {
	f, err := d.float(v)
	if err != nil {
		return nil, err
	}
	if f >= 0 && f < float64(len(smallNumbers)) && f == math.Trunc(f) && !math.Signbit(f) {
		return smallNumbers[int(f)], nil
	}
	return f, nil
}

// smallNumbers are the whole numbers 0 to 255 already boxed, so a
// quantity, a position or a count costs no allocation.
var smallNumbers = func() (a [256]any) {
	for i := range a {
		a[i] = float64(i)
	}
	return a
}()

// validString returns v's string with invalid UTF-8 replaced, as
// encoding/json does, so a stored message always re-encodes.
func validString(v *fastjson.Value) string {
	b, _ := v.StringBytes()
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func validKey(k []byte) string {
	if utf8.Valid(k) {
		return string(k)
	}
	return strings.ToValidUTF8(string(k), "\uFFFD")
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

func timeField(field string, v *fastjson.Value) (time.Time, error) {
	if isNull(v) {
		return time.Time{}, nil
	}
	if v.Type() != fastjson.TypeString {
		return time.Time{}, fieldErr(field, "must be an ISO 8601 date string, got %s", kindOf(v))
	}
	b, _ := v.StringBytes()
	t, ok := parseRFC3339(b)
	if !ok {
		s := validString(v)
		if t, ok = ParseTime(s); !ok {
			return time.Time{}, fieldErr(field, "%q is not an ISO 8601 date such as 2026-11-24T10:00:00.000Z", truncate(s))
		}
	}
	if !InTimeRange(t) {
		return time.Time{}, fieldErr(field, "%s", outOfRange(t))
	}
	return t, nil
}

// parseRFC3339 is ParseTime's first and by far most common form, parsed
// from the bytes without making them a string first (time.Parse keeps its
// argument in its error, so a string would escape and be allocated for
// every message). Where it says false, ParseTime still decides: it tells
// nothing about whether ParseTime accepts b.
func parseRFC3339(b []byte) (time.Time, bool) {
	var t time.Time
	if t.UnmarshalText(b) != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// ParseTime parses the ISO 8601 forms SDKs send; times without a zone are UTC.
// It does not check the supported range (see InTimeRange): Decode does, so
// that the answer says the date is out of range rather than malformed.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, f := range timeFormats {
		if t, err := time.Parse(f, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func kindOf(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeObject:
		return "an object"
	case fastjson.TypeArray:
		return "an array"
	case fastjson.TypeString:
		return "a string"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "a boolean"
	case fastjson.TypeNull:
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
