package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var recv = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		meta    Meta
		wantErr string // substring; "" means success
		check   func(t *testing.T, e Event)
	}{
		{name: "track", raw: `{"type":"track","event":"Order Completed","userId":"u1","messageId":"m1","properties":{"revenue":12.5}}`,
			check: func(t *testing.T, e Event) {
				if e.Type != Track || e.Event != "Order Completed" || e.UserID != "u1" || e.Properties["revenue"] != 12.5 {
					t.Errorf("got %+v", e)
				}
				if !e.Timestamp.Equal(recv) {
					t.Errorf("no timestamp: want receivedAt, got %v", e.Timestamp)
				}
			}},
		{name: "numeric user id", raw: `{"type":"identify","userId":42,"messageId":"m"}`,
			check: func(t *testing.T, e Event) {
				if e.UserID != "42" {
					t.Errorf("userId = %q", e.UserID)
				}
			}},
		{name: "type from endpoint", raw: `{"event":"x","anonymousId":"a","messageId":"m"}`, meta: Meta{Type: Track},
			check: func(t *testing.T, e Event) {
				if e.Type != Track {
					t.Errorf("type = %q", e.Type)
				}
			}},
		{name: "clock skew corrected", raw: `{"type":"page","anonymousId":"a","messageId":"m","timestamp":"2026-11-24T13:00:00Z","sentAt":"2026-11-24T13:00:05Z"}`,
			check: func(t *testing.T, e Event) {
				if want := recv.Add(-5 * time.Second); !e.Timestamp.Equal(want) {
					t.Errorf("timestamp = %v, want %v", e.Timestamp, want)
				}
			}},
		{name: "batch sentAt", raw: `{"type":"page","anonymousId":"a","messageId":"m","timestamp":"2026-11-24T13:00:00Z"}`,
			meta: Meta{SentAt: time.Date(2026, 11, 24, 13, 1, 0, 0, time.UTC)},
			check: func(t *testing.T, e Event) {
				if want := recv.Add(-time.Minute); !e.Timestamp.Equal(want) {
					t.Errorf("timestamp = %v, want %v", e.Timestamp, want)
				}
			}},
		{name: "historical import keeps timestamp", raw: `{"type":"track","event":"e","userId":"u","messageId":"m","timestamp":"2020-01-02T03:04:05.678Z"}`,
			check: func(t *testing.T, e Event) {
				if want := time.Date(2020, 1, 2, 3, 4, 5, 678e6, time.UTC); !e.Timestamp.Equal(want) {
					t.Errorf("timestamp = %v", e.Timestamp)
				}
			}},
		{name: "assigned message id", raw: `{"type":"identify","userId":"u"}`, meta: Meta{MessageID: "srv-1"},
			check: func(t *testing.T, e Event) {
				if e.MessageID != "srv-1" {
					t.Errorf("messageId = %q", e.MessageID)
				}
			}},
		{name: "alias", raw: `{"type":"alias","userId":"u","previousId":"p","messageId":"m"}`,
			check: func(t *testing.T, e Event) {
				if e.PreviousID != "p" {
					t.Errorf("previousId = %q", e.PreviousID)
				}
			}},
		{name: "no ids", raw: `{"type":"track","event":"e","messageId":"m"}`, wantErr: "userId: every message needs"},
		{name: "not an object", raw: `[1]`, wantErr: "must be a JSON object"},
		{name: "malformed", raw: `{"type":`, wantErr: "malformed JSON"},
		{name: "unknown type", raw: `{"type":"bogus","userId":"u","messageId":"m"}`, wantErr: "type: unknown type"},
		{name: "short type in body", raw: `{"type":"t","userId":"u","messageId":"m","event":"x"}`, wantErr: "type: unknown type"},
		{name: "endpoint mismatch", raw: `{"type":"page","userId":"u","messageId":"m"}`, meta: Meta{Type: Track}, wantErr: `type: "page" sent to the track endpoint`},
		{name: "track without event", raw: `{"type":"track","userId":"u","messageId":"m"}`, wantErr: "event: a track call needs"},
		{name: "properties wrong type", raw: `{"type":"track","event":"e","userId":"u","messageId":"m","properties":[1]}`, wantErr: "properties: must be a JSON object, got an array"},
		{name: "userId object", raw: `{"type":"track","event":"e","userId":{"a":1},"messageId":"m"}`, wantErr: "userId: must be a string or a number, got an object"},
		{name: "bad timestamp", raw: `{"type":"track","event":"e","userId":"u","messageId":"m","timestamp":"yesterday"}`, wantErr: "timestamp: \"yesterday\" is not an ISO 8601"},
		{name: "event number", raw: `{"type":"track","event":5,"userId":"u","messageId":"m"}`, wantErr: "event: must be a string, got a number"},
		{name: "alias without previousId", raw: `{"type":"alias","userId":"u","messageId":"m"}`, wantErr: "previousId:"},
		{name: "group without groupId", raw: `{"type":"group","userId":"u","messageId":"m"}`, wantErr: "groupId:"},
		{name: "control chars in id", raw: "{\"type\":\"identify\",\"userId\":\"a\\u0000b\",\"messageId\":\"m\"}", wantErr: "userId: must be valid UTF-8"},
		{name: "too big", raw: `{"type":"identify","userId":"u","messageId":"m","traits":{"x":"` + strings.Repeat("a", MaxMessageBytes) + `"}}`, wantErr: "over the 32768 byte limit"},
		{name: "missing message id", raw: `{"type":"identify","userId":"u"}`, wantErr: "messageId: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.meta
			m.ReceivedAt = recv
			e, err := Decode([]byte(tt.raw), m)
			if tt.wantErr != "" {
				var ve *Error
				if err == nil || !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want *Error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tt.check(t, e)
		})
	}
}

func TestStoredRoundTrip(t *testing.T) {
	raw := []byte(`{"type":"track","event":"Product Viewed","anonymousId":"a","timestamp":"2026-11-24T11:59:00Z","properties":{"product_id":"p1"}}`)
	m := Meta{SourceID: "src", ReceivedAt: recv, Type: Track, SentAt: recv.Add(2 * time.Second),
		Context: map[string]any{"locale": "fr-FR"}, MessageID: "assigned"}
	want, err := Decode(raw, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeStored(AppendStored(nil, raw, m))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if _, err := DecodeStored([]byte{1, 2}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt input: err = %v", err)
	}

	// The trust level travels with the message.
	m.Trust = TrustClient
	got, err = DecodeStored(AppendStored(nil, raw, m))
	if err != nil || got.Trust != TrustClient {
		t.Fatalf("client message: trust %v, err %v", got.Trust, err)
	}
	if _, err := DecodeStored([]byte{storedVersion, 7}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown trust level: err = %v", err)
	}

	// Version 1 messages (logged before trust levels) read as trusted.
	v2 := AppendStored(nil, raw, m)
	v1 := append([]byte{storedVersionV1}, v2[2:]...)
	got, err = DecodeStored(v1)
	if err != nil || got.Trust != TrustServer || got.MessageID != want.MessageID {
		t.Fatalf("version 1: trust %v, messageId %q, err %v", got.Trust, got.MessageID, err)
	}
}

func TestIdentifiers(t *testing.T) {
	e := Event{Type: Alias, UserID: "u", AnonymousID: "a", PreviousID: "0b3e2a4c-1111-4a2b-9c3d-123456789abc",
		Traits: map[string]any{"email": " Ann@Example.COM "}, Context: ContextFromMap(map[string]any{"traits": map[string]any{"phone": "+33 6 12 34 56 78"}})}
	got := e.Identifiers()
	want := []Identifier{{KindUserID, "u"}, {KindAnonymousID, "a"}, {KindAnonymousID, "0b3e2a4c-1111-4a2b-9c3d-123456789abc"},
		{KindEmail, "ann@example.com"}, {KindPhone, "+33612345678"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	e2 := Event{Type: Alias, UserID: "u2", PreviousID: "old-user"}
	if got := e2.Identifiers()[1]; got != (Identifier{KindUserID, "old-user"}) {
		t.Fatalf("non-UUID previousId = %v, want user_id", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m1","properties":{"revenue":12.5}}`,
		`{"type":"identify","userId":42,"traits":{"email":"a@b.c"},"timestamp":"2026-01-01T00:00:00Z","sentAt":"2026-01-01T00:00:01Z"}`,
		`{"type":"alias","userId":"u","previousId":"p"}`,
		`{"type":"page","anonymousId":"a","context":{"traits":{"phone":"+1 555 0100"}}}`,
		`{"type":`, `[]`, `null`, `{"userId":[1,2]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := Meta{ReceivedAt: recv, MessageID: "fuzz", SourceID: "s"}
		e, err := Decode(raw, m)
		if err != nil {
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("error is not *Error: %v", err)
			}
			return
		}
		if e.UserID == "" && e.AnonymousID == "" {
			t.Fatal("accepted a message without ids")
		}
		_ = e.Identifiers()
		// Whatever was accepted must replay to the same event.
		got, err := DecodeStored(AppendStored(nil, raw, m))
		if err != nil {
			t.Fatalf("stored form does not decode: %v", err)
		}
		if got.MessageID != e.MessageID || !got.Timestamp.Equal(e.Timestamp) || got.Type != e.Type {
			t.Fatalf("replay differs: %+v vs %+v", got, e)
		}
	})
}

var benchMessage = []byte(`{"type":"track","event":"Product Viewed","userId":"user-1234","anonymousId":"0b3e2a4c-1111-4a2b-9c3d-123456789abc","messageId":"msg-000001","timestamp":"2026-11-24T11:59:00.123Z","context":{"ip":"203.0.113.7","locale":"en-US","timezone":"America/New_York","userAgent":"Mozilla/5.0","library":{"name":"analytics.js","version":"1.84.3"}},"properties":{"product_id":"sku-123","name":"Trail Jacket","category":"Apparel > Outerwear > Jackets","price":129.99,"currency":"USD","url":"https://shop.example.com/p/sku-123"}}`)

func BenchmarkDecode(b *testing.B) {
	raw := benchMessage
	m := Meta{ReceivedAt: recv}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(raw, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeNaive is the baseline: encoding/json into a generic map,
// what a straightforward handler would do (and no validation at all).
func BenchmarkDecodeNaive(b *testing.B) {
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(benchMessage, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestContextJSON checks that an Event's JSON is what it was when Context
// was a map: the whole context, null when absent, and back again.
func TestContextJSON(t *testing.T) {
	tests := []struct {
		name, context, want string
	}{
		{"whole context", `{"locale":"fr-FR","library":{"name":"l","version":"1"},"traits":{"email":"A@b.c"},"n":[1.5,-0,null]}`,
			`{"library":{"name":"l","version":"1"},"locale":"fr-FR","n":[1.5,-0,null],"traits":{"email":"A@b.c"}}`},
		{"empty", `{}`, `{}`},
		{"absent", `null`, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Decode([]byte(`{"type":"identify","userId":"u","messageId":"m","context":`+tt.context+`}`), Meta{ReceivedAt: recv})
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			var got struct{ Context json.RawMessage }
			if err := json.Unmarshal(b, &got); err != nil || string(got.Context) != tt.want {
				t.Fatalf("context encodes as %s (err %v), want %s", got.Context, err, tt.want)
			}
			var back Event
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Context.Map(), e.Context.Map()) || back.Context.Locale != e.Context.Locale || back.Email() != e.Email() {
				t.Fatalf("decoded back: %+v, want %+v", back.Context, e.Context)
			}
		})
	}
}
