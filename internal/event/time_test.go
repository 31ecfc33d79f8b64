package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// replays checks the log invariant for one accepted message: decoding its
// stored form gives exactly the event decoded live, timestamps included.
func replays(t testing.TB, raw []byte, m Meta, live Event) {
	t.Helper()
	got, err := DecodeStored(AppendStored(nil, raw, m))
	if err != nil {
		t.Fatalf("accepted live, but its stored form does not decode: %v", err)
	}
	if !reflect.DeepEqual(got, live) {
		t.Fatalf("replay differs from live:\nreplay %+v\n  live %+v", got, live)
	}
}

func TestDecodeTimeRange(t *testing.T) {
	ns := time.Nanosecond
	epoch := time.Unix(0, 0).UTC()
	end := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	msg := func(times string) string {
		return `{"type":"track","event":"e","userId":"u","messageId":"m"` + times + `}`
	}
	tests := []struct {
		name     string
		times    string    // extra JSON members of the message
		batch    time.Time // batch-level sentAt
		received time.Time // zero means recv
		want     time.Time // the event time when accepted
		wantErr  string    // substring of the rejection
	}{
		{name: "first instant", times: `,"timestamp":"1970-01-01T00:00:00Z"`, want: epoch},
		{name: "before 1970", times: `,"timestamp":"1969-12-31T23:59:59.999999999Z"`,
			wantErr: "timestamp: 1969-12-31T23:59:59.999999999Z is outside the supported range 1970-01-01T00:00:00Z to 2200-01-01T00:00:00Z"},
		{name: "last instant", times: `,"timestamp":"2199-12-31T23:59:59.999999999Z"`, want: end.Add(-ns)},
		{name: "2200", times: `,"timestamp":"2200-01-01T00:00:00Z"`, wantErr: "timestamp: 2200-01-01T00:00:00Z is outside"},
		{name: "2200 once the offset is applied", times: `,"timestamp":"2199-12-31T20:00:00-05:00"`, wantErr: "timestamp: 2200-01-01T01:00:00Z is outside"},
		{name: "year 1 is not absent", times: `,"timestamp":"0001-01-01T00:00:00Z"`, wantErr: "timestamp: 0001-01-01T00:00:00Z is outside"},
		{name: "past int64 nanoseconds", times: `,"timestamp":"2263-01-01T00:00:00Z"`, wantErr: "timestamp: 2263-01-01T00:00:00Z is outside"},
		{name: "year 9999", times: `,"timestamp":"9999-12-31T23:59:59Z"`, wantErr: "timestamp: 9999-12-31T23:59:59Z is outside"},
		{name: "originalTimestamp year 3000", times: `,"originalTimestamp":"3000-01-01T00:00:00Z"`, wantErr: "originalTimestamp: 3000-01-01T00:00:00Z is outside"},
		{name: "originalTimestamp in range", times: `,"originalTimestamp":"2020-05-06T07:08:09Z"`, want: time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)},
		{name: "sentAt year 3000", times: `,"timestamp":"2026-11-24T11:00:00Z","sentAt":"3000-01-01T00:00:00Z"`, wantErr: "sentAt: 3000-01-01T00:00:00Z is outside"},
		{name: "sentAt before 1970", times: `,"sentAt":"1960-01-01T00:00:00Z"`, wantErr: "sentAt: 1960-01-01T00:00:00Z is outside"},
		{name: "batch sentAt year 3000", times: `,"timestamp":"2026-11-24T11:00:00Z"`, batch: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
			wantErr: "sentAt: the batch's sentAt 3000-01-01T00:00:00Z is outside"},
		{name: "batch sentAt before 1970", times: `,"timestamp":"2026-11-24T11:00:00Z"`, batch: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
			wantErr: "sentAt: the batch's sentAt 1900-01-01T00:00:00Z is outside"},
		{name: "batch sentAt at the epoch counts as absent", times: `,"timestamp":"1970-01-01T00:00:00.5Z"`, batch: epoch,
			want: epoch.Add(500 * time.Millisecond)},
		{name: "message sentAt at the epoch falls back to the batch's", times: `,"timestamp":"1970-01-01T00:00:00Z","sentAt":"1970-01-01T00:00:00Z"`,
			batch: epoch.Add(3 * time.Second), want: recv.Add(-3 * time.Second)},
		{name: "reset device clock corrected", times: `,"timestamp":"1970-01-01T00:00:01Z","sentAt":"1970-01-01T00:00:04Z"`,
			want: recv.Add(-3 * time.Second)},
		{name: "batch sentAt just past the epoch", times: `,"timestamp":"1970-01-01T00:00:00Z"`, batch: epoch.Add(ns), want: recv.Add(-ns)},
		{name: "corrected to the first instant", times: `,"timestamp":"1970-01-01T00:00:00Z","sentAt":"2026-11-24T12:00:00Z"`, want: epoch},
		{name: "corrected to before 1970", times: `,"timestamp":"1970-01-01T00:00:00Z","sentAt":"2026-11-24T12:00:00.000000001Z"`,
			wantErr: "timestamp: 1970-01-01T00:00:00Z with sentAt 2026-11-24T12:00:00.000000001Z: the event time corrected for clock skew, receivedAt - (sentAt - timestamp), 1969-12-31T23:59:59.999999999Z is outside"},
		{name: "corrected to the last instant", times: `,"timestamp":"2199-12-31T23:59:59.999999999Z","sentAt":"2026-11-24T12:00:00Z"`, want: end.Add(-ns)},
		{name: "corrected to 2200", times: `,"originalTimestamp":"2199-12-31T23:59:59.999999999Z","sentAt":"2026-11-24T11:59:59.999999999Z"`,
			wantErr: "originalTimestamp: 2199-12-31T23:59:59.999999999Z with sentAt"},
		{name: "widest skew the range allows", times: `,"timestamp":"2199-12-31T00:00:00Z","sentAt":"1970-01-01T00:00:01Z"`,
			wantErr: "2256-11-23T11:59:59Z is outside"},
		{name: "received before 1970", received: epoch.Add(-ns), wantErr: "receivedAt: the server clock's 1969-12-31T23:59:59.999999999Z is outside"},
		{name: "received in year 1", received: time.Time{}.Add(ns), wantErr: "receivedAt:"},
		{name: "received at the last instant", received: end.Add(-ns), want: end.Add(-ns)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(msg(tt.times))
			m := Meta{ReceivedAt: recv, SentAt: tt.batch}
			if !tt.received.IsZero() {
				m.ReceivedAt = tt.received
			}
			e, err := Decode(raw, m)
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
			if !e.Timestamp.Equal(tt.want) {
				t.Fatalf("event time = %v, want %v", e.Timestamp, tt.want)
			}
			replays(t, raw, m, e)
		})
	}
}

// fuzzTypes are the types an endpoint can imply (Meta.Type).
var fuzzTypes = []Type{"", Identify, Track, Page, Screen, Group, Alias}

// FuzzStoredRoundTrip checks the invariant the whole system rests on: for
// any message bytes and receive metadata Decode accepts, decoding the stored
// form gives the same event, so replaying the log rebuilds what was applied
// live. The times are arbitrary instants (seconds and nanoseconds), including
// ones int64 nanoseconds cannot hold; the other metadata is what the server
// can produce.
func FuzzStoredRoundTrip(f *testing.F) {
	type seed struct {
		raw                  string
		recvSec, recvNsec    int64
		sentSec, sentNsec    int64
		hasSent              bool
		typ, trust           uint8
		source, msgID, batch string
	}
	r := recv.Unix()
	for _, s := range []seed{
		{raw: `{"type":"track","event":"e","userId":"u","timestamp":"2026-11-24T11:59:00Z"}`, recvSec: r, sentSec: r + 2, hasSent: true, msgID: "m", batch: `{"locale":"fr-FR"}`},
		// The two inputs that broke verify: a batch sentAt at the epoch
		// (logged as "none") and in year 3000 (past int64 nanoseconds).
		{raw: `{"type":"page","anonymousId":"a","messageId":"m","timestamp":"2026-11-24T11:59:00Z"}`, recvSec: r, hasSent: true, source: "s"},
		{raw: `{"type":"page","anonymousId":"a","messageId":"m","timestamp":"2026-11-24T11:59:00Z"}`, recvSec: r, sentSec: 32503680000, hasSent: true},
		{raw: `{"type":"identify","userId":"u","messageId":"m","timestamp":"1970-01-01T00:00:00Z","sentAt":"2199-12-31T23:59:59.999999999Z"}`, recvSec: r, recvNsec: 7},
		{raw: `{"type":"identify","userId":"u","messageId":"m","originalTimestamp":"2199-12-31T23:59:59Z","sentAt":"1970-01-01T00:00:00.000000001Z"}`, recvSec: r},
		{raw: `{"event":"x","userId":"u","messageId":"m"}`, recvSec: -1, typ: 2, trust: 1},
		{raw: `{"event":"x","userId":"u","messageId":"m"}`, recvSec: 1 << 40, typ: 2},
		{raw: `{"type":"alias","userId":"u","previousId":"p","timestamp":"2262-04-12T00:00:00Z"}`, recvSec: r, msgID: "srv"},
	} {
		f.Add([]byte(s.raw), s.recvSec, s.recvNsec, s.sentSec, s.sentNsec, s.hasSent, s.typ, s.trust, s.source, s.msgID, []byte(s.batch))
	}
	f.Fuzz(func(t *testing.T, raw []byte, recvSec, recvNsec, sentSec, sentNsec int64, hasSent bool, typ, trust uint8, source, msgID string, batch []byte) {
		m := Meta{SourceID: source, ReceivedAt: time.Unix(recvSec, recvNsec), Type: fuzzTypes[int(typ)%len(fuzzTypes)],
			MessageID: msgID, Trust: Trust(trust % 2)}
		if hasSent {
			m.SentAt = time.Unix(sentSec, sentNsec)
		}
		if len(batch) > 0 && json.Unmarshal(batch, &m.Context) != nil {
			m.Context = nil
		}
		e, err := Decode(raw, m)
		if err != nil {
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("error is not *Error: %v", err)
			}
			return
		}
		replays(t, raw, m, e)
		if !InTimeRange(e.Timestamp) || !InTimeRange(e.ReceivedAt) {
			t.Fatalf("accepted times outside the range: timestamp %v, receivedAt %v", e.Timestamp, e.ReceivedAt)
		}
	})
}

// FuzzParseRFC3339 checks that the allocation-free path for timestamps
// agrees with ParseTime wherever it accepts a time.
func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{
		"2026-11-24T11:59:00.123Z", "2026-11-24T11:59:00Z", "2026-11-24T11:59:00+02:00",
		"2026-11-24T11:59:00.123456789-07:30", "2026-11-24T24:00:00Z", "2026-11-24T11:59:60Z",
		"2026-11-24T11:59:00+24:00", "2026-11-24t11:59:00z", " 2026-11-24T11:59:00Z", "2026-11-24T11:59:00.Z",
		"2026-11-24T1:59:00Z", "0000-01-01T00:00:00Z", "2026-11-24", "2026-11-24 11:59:00Z", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parseRFC3339(b)
		if !ok {
			return
		}
		want, wantOK := ParseTime(string(b))
		if !wantOK || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast path %v, ParseTime %v (ok %v)", b, got, want, wantOK)
		}
	})
}
