package outbox

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/store"
)

func openDB(t testing.TB, dir string) *pebble.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "pebble"), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func openStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	db := openDB(t, dir)
	t.Cleanup(func() { db.Close() })
	s, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func msg(key string, notBefore time.Time) Message {
	return Message{Key: key, Profile: "p1", Channel: "email", Template: "welcome", NotBefore: notBefore}
}

func TestEnqueueIgnoresSeenKeys(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if err := s.Enqueue(ctx, []Message{msg("a", time.Time{}), msg("a", time.Time{}), msg("b", time.Time{})}); err != nil {
		t.Fatal(err)
	}
	if got := s.Depth(); got != 2 {
		t.Fatalf("depth %d after a, a, b; want 2", got)
	}
	// A replaying engine enqueues a again, even after a was sent.
	recs, _, err := s.Claim(time.Now(), 10)
	if err != nil || len(recs) != 2 {
		t.Fatalf("claim: %v, %d records", err, len(recs))
	}
	if err := s.Finish(recs[0], Sent, "", true); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, []Message{msg(recs[0].Key, time.Time{})}); err != nil {
		t.Fatal(err)
	}
	if got := s.Depth(); got != 1 {
		t.Fatalf("depth %d after re-enqueueing a sent key; want 1", got)
	}
	r, ok, _ := s.Get(recs[0].Key)
	if !ok || r.State != Sent {
		t.Fatalf("re-enqueued key's record: %+v, want still sent", r)
	}
}

func TestEnqueueRejectsBadMessagesWhole(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Message)
		want string
	}{
		{"no key", func(m *Message) { m.Key = "" }, "key is empty"},
		{"no profile", func(m *Message) { m.Profile = "" }, "profile is empty"},
		{"bad channel", func(m *Message) { m.Channel = "fax" }, `channel "fax"`},
		{"bad purpose", func(m *Message) { m.Purpose = "spam" }, `purpose "spam"`},
		{"bad policy", func(m *Message) { m.OnPolicy = "ignore" }, `on_policy "ignore"`},
		{"long key", func(m *Message) { m.Key = strings.Repeat("k", maxKey+1) }, "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t)
			bad := msg("bad", time.Time{})
			tc.edit(&bad)
			err := s.Enqueue(context.Background(), []Message{msg("good", time.Time{}), bad})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
			if _, ok, _ := s.Get("good"); ok || s.Depth() != 0 {
				t.Fatal("a failed call wrote its good message")
			}
		})
	}
}

func TestClaimByDueTime(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	var msgs []Message
	for i, off := range []time.Duration{3 * time.Second, -time.Second, time.Hour, 0, 2 * time.Second} {
		msgs = append(msgs, msg(fmt.Sprintf("m%d", i), now.Add(off)))
	}
	if err := s.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	recs, next, err := s.Claim(now.Add(2500*time.Millisecond), 10)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range recs {
		keys = append(keys, r.Key)
	}
	// m1 was due in the past and m3 at now: both are due at enqueue time.
	if got := strings.Join(keys, ","); got != "m1,m3,m4" && got != "m3,m1,m4" {
		t.Fatalf("claimed %s, want m1 and m3 (due now) then m4", got)
	}
	if !next.IsZero() {
		t.Fatalf("next %v with claims returned, want zero", next)
	}
	// Claimed messages are not claimed twice; the next due time is m0's.
	again, next, err := s.Claim(now.Add(2500*time.Millisecond), 10)
	if err != nil || len(again) != 0 {
		t.Fatalf("second claim: %v, %d records", err, len(again))
	}
	if d := next.Sub(now.Add(3 * time.Second)); d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("next due %v, want m0's %v", next, now.Add(3*time.Second))
	}
	// Released, it is claimable again.
	s.Release(recs[0])
	again, _, _ = s.Claim(now.Add(2500*time.Millisecond), 10)
	if len(again) != 1 || again[0].Key != recs[0].Key {
		t.Fatalf("after release claimed %v, want %s", again, recs[0].Key)
	}
}

func TestRescheduleMovesDueTime(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	if err := s.Enqueue(context.Background(), []Message{msg("a", time.Time{})}); err != nil {
		t.Fatal(err)
	}
	recs, _, _ := s.Claim(now.Add(time.Second), 1)
	later := now.Add(time.Hour)
	if err := s.Reschedule(recs[0], later, "quiet_hours"); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Claim(now.Add(time.Minute), 1); len(got) != 0 {
		t.Fatal("a rescheduled message was claimed before its new due time")
	}
	got, _, _ := s.Claim(later, 1)
	if len(got) != 1 || got[0].State != Queued || got[0].Reason != "quiet_hours" {
		t.Fatalf("claim at the new due time: %+v", got)
	}
	if s.Depth() != 1 {
		t.Fatalf("depth %d, want 1", s.Depth())
	}
}

// TestCrashInSendingResends closes the store between MarkSending and
// Finish, as a crash does: after reopening, the message is claimed again,
// marked recovered, with its key unchanged; a finished one is not.
func TestCrashInSendingResends(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	s, _ := Open(db)
	ctx := context.Background()
	if err := s.Enqueue(ctx, []Message{msg("a", time.Time{}), msg("b", time.Time{})}); err != nil {
		t.Fatal(err)
	}
	recs, _, _ := s.Claim(time.Now(), 2)
	if err := s.MarkSending(recs); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(recs[1], Sent, "", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openDB(t, dir)
	defer db.Close()
	s, err := Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if s.Depth() != 1 {
		t.Fatalf("depth %d after reopen, want 1", s.Depth())
	}
	got, _, _ := s.Claim(time.Now(), 10)
	if len(got) != 1 || got[0].Key != recs[0].Key || !got[0].Recovered || got[0].State != Sending {
		t.Fatalf("claim after crash: %+v, want %s recovered in sending", got, recs[0].Key)
	}
	if s.Resends() != 1 {
		t.Fatalf("resends %d, want 1", s.Resends())
	}
	if err := s.MarkSending(got); err != nil {
		t.Fatal(err)
	}
	if got[0].Attempts != 2 || got[0].Resends != 1 {
		t.Fatalf("attempts %d resends %d, want 2 and 1", got[0].Attempts, got[0].Resends)
	}
}

func TestHistoryNewestFirst(t *testing.T) {
	s, _ := openStore(t)
	base := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		s.now = func() time.Time { return base.Add(time.Duration(i) * time.Second) }
		m := msg(fmt.Sprintf("k%d", i), time.Time{})
		if i == 1 {
			m.Profile = "other"
		}
		if err := s.Enqueue(context.Background(), []Message{m}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.History("p1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Key != "k2" || h[1].Key != "k0" {
		t.Fatalf("history %v, want k2, k0", h)
	}
	if h, _ := s.History("p1", 1); len(h) != 1 {
		t.Fatalf("limit 1 gave %d", len(h))
	}
}

func TestFinishRejectsNonFinalState(t *testing.T) {
	s, _ := openStore(t)
	_ = s.Enqueue(context.Background(), []Message{msg("a", time.Time{})})
	recs, _, _ := s.Claim(time.Now(), 1)
	if err := s.Finish(recs[0], Queued, "", true); err == nil {
		t.Fatal("Finish accepted queued")
	}
}

// TestConcurrentEnqueueWritesEachKeyOnce enqueues overlapping keys from
// several goroutines: each key is queued once.
func TestConcurrentEnqueueWritesEachKeyOnce(t *testing.T) {
	s, _ := openStore(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := fmt.Sprint("k", (i+g*7)%60)
				if err := s.Enqueue(context.Background(), []Message{msg(k, time.Time{})}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	recs, _, err := s.Claim(time.Now(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.Key] {
			t.Fatalf("%s queued twice", r.Key)
		}
		seen[r.Key] = true
	}
	if len(recs) != 60 || s.Depth() != 60 {
		t.Fatalf("%d queued, depth %d; want 60 distinct keys", len(recs), s.Depth())
	}
}

// TestClaimHeadFollowsEarlierEntries: a claim that met only a later entry
// starts its next read there, so an entry enqueued (or rescheduled) due
// earlier must move the start back.
func TestClaimHeadFollowsEarlierEntries(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	now := time.Now()
	if err := s.Enqueue(ctx, []Message{msg("later", now.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if recs, next, _ := s.Claim(now, 10); len(recs) != 0 || next.IsZero() {
		t.Fatalf("claimed %d, next %v", len(recs), next)
	}
	if err := s.Enqueue(ctx, []Message{msg("now", time.Time{})}); err != nil {
		t.Fatal(err)
	}
	recs, _, _ := s.Claim(time.Now(), 10)
	if len(recs) != 1 || recs[0].Key != "now" {
		t.Fatalf("claimed %v, want the message enqueued due before the head", recs)
	}
	// Rescheduling the later one to now makes it claimable at once.
	later, _, _ := s.Claim(now.Add(2*time.Hour), 10)
	if err := s.Reschedule(later[0], now.Add(time.Minute), "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(recs[0], Sent, "", true); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Claim(now.Add(2*time.Minute), 10); len(got) != 1 || got[0].Key != "later" {
		t.Fatalf("after reschedule claimed %v", got)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 30, 0, 123, time.UTC)
	for _, r := range []Record{
		{Message: msg("a", time.Time{}), State: Queued, Due: at, Created: at, Updated: at},
		{Message: Message{Key: "j:1:2:e:s", Profile: "p", Channel: "sms", Purpose: PurposeMarketing, Template: "t", TemplateVersion: 3,
			Data: map[string]any{"n": 1.5, "s": "x"}, Journey: "j", JourneyVersion: 2, Step: "s", NotBefore: at.Add(time.Hour), OnPolicy: PolicyDrop},
			State: Failed, Due: at.Add(time.Hour), Attempts: 4, Created: at, Updated: at.Add(2 * time.Hour), Reason: "550 no", Resends: 1},
	} {
		v, err := encodeRecord(&r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRecord(v)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", r) {
			t.Errorf("round trip\n got %+v\nwant %+v", *got, r)
		}
	}
}
