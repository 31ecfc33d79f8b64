package consent

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"tailor/internal/store"
)

func sampleState() State {
	at := time.Date(2026, 11, 2, 10, 0, 0, 123, time.UTC)
	return State{
		Consents: map[string]Entry{
			"email/marketing":   {Granted: true, Source: "double_opt_in", At: at},
			"sms/transactional": {Granted: false, Source: "api", At: at.Add(time.Hour)},
		},
		Suppressed: map[string]Suppression{"email": {Reason: "bounce", Address: "ann@example.com", At: at.Add(2 * time.Hour)}},
		Pending:    map[string]time.Time{"push": at.Add(3 * time.Hour)},
		Reach:      reachKnown | 1,
	}
}

func TestRecordRoundTripAndTruncation(t *testing.T) {
	w := newWorld(t, Options{})
	s := sampleState()
	rs := w.c.pack(&s)
	b := appendRecord(nil, rs)
	got, err := w.c.decodeRecord(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rs) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, rs)
	}
	if u := unpack(got); !reflect.DeepEqual(*u, s) {
		t.Errorf("state after the round trip:\n got %+v\nwant %+v", *u, s)
	}
	for n := range len(b) {
		if _, err := w.c.decodeRecord(nil, b[:n]); err == nil {
			t.Fatalf("a record cut at %d of %d bytes decoded", n, len(b))
		}
	}
	if _, err := w.c.decodeRecord(nil, append(b, 0)); err == nil {
		t.Error("trailing bytes accepted")
	}
}

// TestLoadRewritesJSONRecords: state checkpointed before the binary format
// loads as it was, and the load rewrites it in the new format once.
func TestLoadRewritesJSONRecords(t *testing.T) {
	w := newWorld(t, Options{})
	s := sampleState()
	js, _ := json.Marshal(s)
	if err := w.db.Set(store.Key(store.PrefixConsent, "p_ann"), js, nil); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		c := New(w.db, w, Options{})
		if err := c.Load(); err != nil {
			t.Fatal(err)
		}
		if got := c.Get("p_ann"); !reflect.DeepEqual(got, s) {
			t.Fatalf("load %d:\n got %+v\nwant %+v", round, got, s)
		}
		v, closer, err := w.db.Get(store.Key(store.PrefixConsent, "p_ann"))
		if err != nil {
			t.Fatal(err)
		}
		if v[0] != recordVersion {
			t.Errorf("load %d left the record as %.20q", round, v)
		}
		closer.Close()
	}
}

func FuzzDecodeRecord(f *testing.F) {
	c := New(nil, nil, Options{})
	s := sampleState()
	f.Add(appendRecord(nil, c.pack(&s)))
	f.Add([]byte(`{"consents":{"email/marketing":{"granted":true}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = c.decodeRecord(nil, b) // must not panic
	})
}
