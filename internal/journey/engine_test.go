package journey

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"tailor/internal/event"
	"tailor/internal/profile"
	"tailor/internal/segment"
	"tailor/internal/store"
)

func TestAbandonedCartRemindsAfterTheWaitUnlessTheGoalCame(t *testing.T) {
	h := newHarness(t, Options{})
	h.save(cart())
	ann := h.track("p_ann", "Product Added", map[string]any{"product_id": "hat"})
	h.track("p_bob", "Product Added", map[string]any{"product_id": "scarf"})
	h.at(30 * time.Minute)
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("sent before the wait ended: %v", got)
	}
	h.now = t0.Add(40 * time.Minute)
	h.track("p_bob", "Order Completed", map[string]any{"revenue": 30.0})
	h.at(time.Hour)
	annKey := fmt.Sprintf("j:cart:1:%d:email1", ann.Seq)
	got := h.sent()
	if !slices.Equal(got, []string{annKey}) {
		t.Fatalf("sent %v, want only %s (bob ordered)", got, annKey)
	}
	if m := h.out.msgs[0]; m.Profile != "p_ann" || m.Template != "cart-reminder" || m.Data["product_id"] != "hat" || m.Journey != "cart" || m.Step != "email1" {
		t.Fatalf("message = %+v", m)
	}
	h.at(25 * time.Hour)
	if got := h.sent(); len(got) != 2 || got[1] != fmt.Sprintf("j:cart:1:%d:email2", ann.Seq) {
		t.Fatalf("after 25h sent %v, want the second reminder", got)
	}
	st, _ := h.e.Stats("cart")
	if st.Entered != 2 || st.Converted != 1 || st.Revenue != 30 || st.Steps["email1"].Sent != 1 || st.Steps["wait1"].Waiting != 0 {
		t.Fatalf("stats = %+v, steps %+v", st.Stats, st.Steps)
	}
}

func TestEntryRules(t *testing.T) {
	tests := []struct {
		rule   Entry
		gaps   []time.Duration // triggers at these offsets
		enters int
	}{
		{Entry{Rule: EntryOnce}, []time.Duration{0, 2 * time.Hour, 48 * time.Hour}, 1},
		{Entry{Rule: EntryEveryTime}, []time.Duration{0, 2 * time.Hour, 48 * time.Hour}, 3},
		// At most once at a time: the second trigger comes while waiting.
		{Entry{Rule: EntryEveryTime}, []time.Duration{0, 30 * time.Minute}, 1},
		{Entry{Rule: EntryOncePer, Period: "1d"}, []time.Duration{0, 2 * time.Hour, 25 * time.Hour}, 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %v", tt.rule.Rule, tt.rule.Period, tt.gaps), func(t *testing.T) {
			h := newHarness(t, Options{})
			j := Journey{ID: "j", Name: "J", Trigger: Trigger{Type: TriggerEvent, Event: "Signed Up"}, Entry: tt.rule, Start: "w",
				Steps: []*Step{{ID: "w", Type: StepWait, Duration: "1h", Next: "s"}, {ID: "s", Type: StepSend, Channel: "email", Template: "t"}}}
			h.save(j)
			for _, g := range tt.gaps {
				h.at(g)
				h.track("p_1", "Signed Up", nil)
			}
			h.at(100 * time.Hour)
			st, _ := h.e.Stats("j")
			if int(st.Entered) != tt.enters || len(h.sent()) != tt.enters {
				t.Fatalf("entered %d, sent %d, want %d", st.Entered, len(h.sent()), tt.enters)
			}
		})
	}
}

func TestEachStepType(t *testing.T) {
	steps := func(s ...*Step) []*Step { return s }
	send := func(id string) *Step { return &Step{ID: id, Type: StepSend, Channel: "push", Template: id} }
	tests := []struct {
		name  string
		steps []*Step
		act   func(h *harness)
		want  []string // steps that sent, in order
	}{
		{"branch takes next when the rule holds", steps(&Step{ID: "b", Type: StepBranch, Rule: &segment.Rule{Trait: "vip", Op: segment.Eq, Value: true}, Next: "yes", Else: "no"}, send("yes"), send("no")),
			func(h *harness) {}, []string{"yes"}},
		{"branch takes else when it fails", steps(&Step{ID: "b", Type: StepBranch, Rule: &segment.Rule{Trait: "vip", Op: segment.Eq, Value: true}, Next: "yes", Else: "no"}, send("yes"), send("no")),
			func(h *harness) {}, []string{"no"}},
		{"wait_event: the event comes", steps(&Step{ID: "we", Type: StepWaitEvent, Event: "App Opened", Where: []*segment.Filter{{Property: "os", Op: segment.Eq, Value: "ios"}}, Timeout: "2h", Next: "came", Else: "timeout"}, send("came"), send("timeout")),
			func(h *harness) {
				h.at(time.Hour)
				h.track(h.prof, "App Opened", map[string]any{"os": "android"}) // filtered out
				h.track(h.prof, "App Opened", map[string]any{"os": "iOS"})
			}, []string{"came"}},
		{"wait_event: the timeout", steps(&Step{ID: "we", Type: StepWaitEvent, Event: "App Opened", Timeout: "2h", Next: "came", Else: "timeout"}, send("came"), send("timeout")),
			func(h *harness) { h.at(3 * time.Hour) }, []string{"timeout"}},
		{"wait_until in the profile's timezone", steps(&Step{ID: "wu", Type: StepWaitUntil, Time: "09:00", Next: "morning"}, send("morning")),
			func(h *harness) {
				// 12:00 UTC is 21:00 in Tokyo: 09:00 there is 00:00 UTC tomorrow.
				h.at(11*time.Hour + 59*time.Minute)
				if len(h.sent()) != 0 {
					h.t.Fatal("sent before 09:00 Tokyo time")
				}
				h.at(12 * time.Hour)
			}, []string{"morning"}},
		{"update_trait records an identify", steps(&Step{ID: "u", Type: StepUpdateTrait, Traits: map[string]any{"nurtured": true}, Next: "s"}, send("s")),
			func(h *harness) {
				if r := h.recorded(""); len(r) != 1 || r[0].Type != "identify" || r[0].Traits["nurtured"] != true {
					h.t.Fatalf("identify records = %+v", r)
				}
			}, []string{"s"}},
		{"webhook enqueues a webhook message", steps(&Step{ID: "hook", Type: StepWebhook, URL: "https://example.com/h", Next: "s"}, send("s")),
			func(h *harness) {}, []string{"hook", "s"}},
		{"exit ends the run", steps(&Step{ID: "x", Type: StepExit}, send("s")), func(h *harness) {}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			// A profile of the real store, with a timezone trait.
			prof := h.store.Apply(&event.Event{Type: event.Identify, UserID: "u1", Traits: map[string]any{"timezone": "Asia/Tokyo"}, Timestamp: t0, ReceivedAt: t0, MessageID: "id"}).Profile
			h.prof = prof
			j := Journey{ID: "j", Name: "J", Trigger: Trigger{Type: TriggerEvent, Event: "Go"}, Start: tt.steps[0].ID, Steps: tt.steps}
			h.holds[prof] = tt.name == "branch takes next when the rule holds"
			h.save(j)
			h.track(prof, "Go", nil)
			tt.act(h)
			var got []string
			h.sent()
			for _, m := range h.out.msgs {
				got = append(got, m.Step)
				if m.Step == "hook" && (m.Channel != "webhook" || m.Data["url"] != "https://example.com/h") {
					t.Fatalf("webhook message = %+v", m)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("sent by steps %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGoalAttributesRevenueToTheLastMessage(t *testing.T) {
	h := newHarness(t, Options{})
	j := cart()
	j.ID = "cart"
	h.save(j)
	ev := h.track("p_1", "Product Added", nil)
	h.at(26 * time.Hour) // both reminders sent
	h.now = t0.Add(27 * time.Hour)
	h.track("p_1", "Order Completed", map[string]any{"revenue": 42.5})
	conv := h.recorded(EventConverted)
	want := fmt.Sprintf("j:cart:1:%d:email2", ev.Seq)
	if len(conv) != 1 || conv[0].Properties["message_key"] != want || conv[0].Properties["revenue"] != 42.5 {
		t.Fatalf("converted records = %+v, want message_key %s revenue 42.5", conv, want)
	}
	st, _ := h.e.Stats("cart")
	if st.Steps["email2"].Revenue != 42.5 || st.Steps["email1"].Revenue != 0 || st.Revenue != 42.5 {
		t.Fatalf("revenue by step = email1 %v email2 %v total %v", st.Steps["email1"].Revenue, st.Steps["email2"].Revenue, st.Revenue)
	}
	// A second order is no second conversion.
	h.track("p_1", "Order Completed", map[string]any{"revenue": 10.0})
	if st, _ := h.e.Stats("cart"); st.Converted != 1 {
		t.Fatalf("converted %d times", st.Converted)
	}
}

func TestSplitDistributionFollowsThePercentages(t *testing.T) {
	h := newHarness(t, Options{})
	h.save(Journey{ID: "ab", Name: "AB", Trigger: Trigger{Type: TriggerEvent, Event: "Go"}, Start: "split",
		Steps: []*Step{
			{ID: "split", Type: StepSplit, Paths: []SplitPath{{50, "a"}, {30, "b"}, {20, "c"}}},
			{ID: "a", Type: StepSend, Channel: "email", Template: "a"},
			{ID: "b", Type: StepSend, Channel: "email", Template: "b"},
			{ID: "c", Type: StepSend, Channel: "email", Template: "c"},
		}})
	const n = 20000
	for i := range n {
		h.track(fmt.Sprint("p_", i), "Go", nil)
	}
	st, _ := h.e.Stats("ab")
	for id, want := range map[string]float64{"a": 0.5, "b": 0.3, "c": 0.2} {
		got := float64(st.Steps[id].Sent) / n
		if math.Abs(got-want) > 0.015 {
			t.Errorf("path %s took %.3f of the profiles, want %.2f", id, got, want)
		}
	}
	// The same profile and entry always takes the same path.
	h2 := newHarness(t, Options{})
	h2.save(Journey{ID: "ab", Name: "AB", Trigger: Trigger{Type: TriggerEvent, Event: "Go"}, Start: "split",
		Steps: []*Step{{ID: "split", Type: StepSplit, Paths: []SplitPath{{50, "a"}, {30, "b"}, {20, "c"}}},
			{ID: "a", Type: StepSend, Channel: "email", Template: "a"}, {ID: "b", Type: StepSend, Channel: "email", Template: "b"}, {ID: "c", Type: StepSend, Channel: "email", Template: "c"}}})
	for i := range 1000 {
		h2.track(fmt.Sprint("p_", i), "Go", nil)
	}
	a, b := h.sent()[:1000], h2.sent()
	if !slices.Equal(a, b) {
		t.Fatal("the split is not a function of profile, journey, entry and step")
	}
}

func TestHoldout(t *testing.T) {
	tests := []struct {
		name      string
		global    float64
		holdout   float64
		wantSends bool
	}{
		{"global holdout: never any send", 100, 0, false},
		{"journey holdout 100%", 0, 100, false},
		{"no holdout", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{GlobalHoldout: tt.global})
			j := cart()
			j.Holdout = tt.holdout
			h.save(j)
			h.track("p_1", "Product Added", nil)
			h.at(2 * time.Hour)
			h.now = t0.Add(3 * time.Hour)
			h.track("p_1", "Order Completed", map[string]any{"revenue": 5.0})
			st, _ := h.e.Stats("cart")
			if sent := len(h.sent()) > 0; sent != tt.wantSends {
				t.Fatalf("sent = %v, want %v", sent, tt.wantSends)
			}
			if !tt.wantSends && (st.HeldOut != 1 || st.HeldOutConverted != 1 || st.Converted != 0) {
				t.Fatalf("held out %d, held-out conversions %d, conversions %d", st.HeldOut, st.HeldOutConverted, st.Converted)
			}
		})
	}
}

func TestVersionsRunsFinishOnTheirVersion(t *testing.T) {
	h := newHarness(t, Options{})
	h.save(cart())
	first := h.track("p_1", "Product Added", nil)
	j := cart()
	j.Steps[1].Template = "cart-reminder-v2"
	in, err := h.e.Replace(j)
	if err != nil || in.Version != 2 || in.Status != StatusLive || !slices.Equal(in.Versions, []int{1, 2}) {
		t.Fatalf("replace = %+v, %v", in, err)
	}
	second := h.track("p_2", "Product Added", nil)
	h.at(2 * time.Hour)
	h.sent()
	byProfile := map[string]Message{}
	for _, m := range h.out.msgs {
		byProfile[m.Profile] = m
	}
	if m := byProfile["p_1"]; m.JourneyVersion != 1 || m.Template != "cart-reminder" || m.Key != fmt.Sprintf("j:cart:1:%d:email1", first.Seq) {
		t.Fatalf("p_1 (entered on v1) got %+v", m)
	}
	if m := byProfile["p_2"]; m.JourneyVersion != 2 || m.Template != "cart-reminder-v2" || m.Key != fmt.Sprintf("j:cart:2:%d:email1", second.Seq) {
		t.Fatalf("p_2 (entered on v2) got %+v", m)
	}
}

func TestScheduleBroadcastsToTheSegmentOnce(t *testing.T) {
	h := newHarness(t, Options{})
	h.save(Journey{ID: "news", Name: "News", Trigger: Trigger{Type: TriggerSchedule, Segment: "vip", At: t0.Add(time.Hour).Format(time.RFC3339), Every: "7d"}, Entry: Entry{Rule: EntryEveryTime},
		Start: "s", Steps: []*Step{{ID: "s", Type: StepSend, Channel: "email", Template: "news"}}})
	h.at(59 * time.Minute)
	if len(h.sent()) != 0 {
		t.Fatal("fired early")
	}
	h.at(time.Hour)
	h.at(time.Hour + time.Minute)
	if got := h.sent(); len(got) != 3 {
		t.Fatalf("first firing sent %v, want one per member (3)", got)
	}
	h.at(7*24*time.Hour + time.Hour)
	if got := h.sent(); len(got) != 6 {
		t.Fatalf("after the second firing %d sends, want 6", len(got))
	}
}

func TestForgedStepEventsAreIgnored(t *testing.T) {
	h := newHarness(t, Options{})
	h.save(Journey{ID: "api", Name: "API", Trigger: Trigger{Type: TriggerAPI}, Start: "s", Steps: []*Step{{ID: "s", Type: StepSend, Channel: "sms", Template: "t"}}})
	h.track("p_1", EventStep, map[string]any{"journey": "api", "kind": "api"}) // from a client source
	if len(h.sent()) != 0 {
		t.Fatal("a client's Journey Step event triggered the journey")
	}
	if err := h.e.Trigger(context.Background(), "api", "p_1", map[string]any{"order": "o1"}, "k1"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	if got := h.sent(); len(got) != 1 || h.out.msgs[0].Data["order"] != "o1" {
		t.Fatalf("API trigger sent %v (%+v)", got, h.out.msgs)
	}
}

func TestTimersSurviveAReopenOfTheStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := store.Open(dir, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{DB: db})
	h.save(cart())
	ev := h.track("p_1", "Product Added", nil)
	b := db.NewBatch()
	if err := h.e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = store.Open(dir, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h2 := newHarness(t, Options{DB: db})
	h2.seq = h.seq
	if err := h2.e.Load(); err != nil {
		t.Fatal(err)
	}
	if in, _ := h2.e.Get("cart", 0); in.Active != 1 || in.Status != StatusLive {
		t.Fatalf("after reopen: %+v", in)
	}
	h2.at(59 * time.Minute)
	if len(h2.sent()) != 0 {
		t.Fatal("fired early after reopen")
	}
	h2.at(time.Hour)
	if got := h2.sent(); !slices.Equal(got, []string{fmt.Sprintf("j:cart:1:%d:email1", ev.Seq)}) {
		t.Fatalf("after reopen sent %v", got)
	}
}

func TestReplayFromACheckpointEnqueuesTheSameKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := store.Open(dir, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := newHarness(t, Options{DB: db})
	h.save(cart())
	for i := range 20 {
		h.track(fmt.Sprint("p_", i), "Product Added", nil)
	}
	b := db.NewBatch()
	if err := h.e.Checkpoint(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
	mark := len(h.loaded)
	// After the checkpoint: orders, timers, more carts.
	h.now = t0.Add(30 * time.Minute)
	for i := range 5 {
		h.track(fmt.Sprint("p_", i), "Order Completed", map[string]any{"revenue": 1.0})
	}
	h.at(2 * time.Hour)
	h.track("p_x", "Product Added", nil)
	h.at(30 * time.Hour)
	want := h.sent()
	if len(want) != 15*2+2 {
		t.Fatalf("first run sent %d, want 32", len(want))
	}
	tail := h.loaded[mark:]

	// A crash: a new engine from the checkpoint applies the same log tail.
	h2 := newHarness(t, Options{DB: db})
	if err := h2.e.Load(); err != nil {
		t.Fatal(err)
	}
	for _, ev := range tail {
		h2.now = ev.ReceivedAt
		h2.e.Apply(ev, profile.Resolution{Profile: ev.UserID})
	}
	got := h2.sent()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("replay enqueued %d keys, first run %d; differ:\n%v\n%v", len(got), len(want), got, want)
	}
}

func TestManyTimersDueAtOnceAllFireInBoundedTicks(t *testing.T) {
	h := newHarness(t, Options{})
	h.save(cart())
	const n = 2*maxFire + 7
	for i := range n {
		h.track(fmt.Sprint("p_", i), "Product Added", nil)
	}
	h.now = t0.Add(time.Hour)
	if got := h.e.Tick(context.Background()); got != maxFire {
		t.Fatalf("one tick handed over %d timers, want the bound %d", got, maxFire)
	}
	h.drain()
	h.at(time.Hour)
	if got := len(h.sent()); got != n {
		t.Fatalf("%d reminders sent, want %d", got, n)
	}
}

func TestPausedJourneysHoldTheirRunsAndArchivedOnesStopThem(t *testing.T) {
	h := newHarness(t, Options{})
	h.save(cart())
	h.track("p_1", "Product Added", nil)
	if _, err := h.e.SetStatus("cart", ActionPause); err != nil {
		t.Fatal(err)
	}
	h.track("p_2", "Product Added", nil) // no entry while paused
	h.at(2 * time.Hour)
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("a paused journey sent %v", got)
	}
	if _, err := h.e.SetStatus("cart", ActionResume); err != nil {
		t.Fatal(err)
	}
	h.at(2*time.Hour + 2*time.Minute) // the paused timer is looked at again within a minute
	if got := h.sent(); len(got) != 1 || h.out.msgs[0].Profile != "p_1" {
		t.Fatalf("after resume sent %v, want p_1's reminder only", got)
	}
	if _, err := h.e.SetStatus("cart", ActionArchive); err != nil {
		t.Fatal(err)
	}
	h.at(30 * time.Hour)
	if got := h.sent(); len(got) != 1 {
		t.Fatalf("an archived journey sent %v", got)
	}
	if _, err := h.e.SetStatus("cart", ActionResume); err == nil {
		t.Fatal("resumed an archived journey")
	}
}

func TestSegmentTriggersTakeOnlyTailorsOwnSegmentEvents(t *testing.T) {
	h := newHarness(t, Options{})
	h.save(Journey{ID: "winback", Name: "Win-back", Trigger: Trigger{Type: TriggerSegmentEntered, Segment: "at-risk"},
		Start: "s", Steps: []*Step{{ID: "s", Type: StepSend, Channel: "email", Template: "w"}}})
	h.track("p_1", segment.EventEntered, map[string]any{"segment_id": "at-risk"}) // a client's forgery
	h.seq++
	h.apply(&event.Event{Type: event.Track, Event: segment.EventEntered, SourceID: internalSource, UserID: "p_2", ReceivedAt: t0, Timestamp: t0, Seq: h.seq,
		Properties: map[string]any{"segment_id": "other"}}, "p_2")
	h.seq++
	h.apply(&event.Event{Type: event.Track, Event: segment.EventEntered, SourceID: internalSource, UserID: "p_3", ReceivedAt: t0, Timestamp: t0, Seq: h.seq,
		Properties: map[string]any{"segment_id": "at-risk"}}, "p_3")
	if got := h.sent(); len(got) != 1 || h.out.msgs[0].Profile != "p_3" {
		t.Fatalf("sent %v, want p_3 only", got)
	}
}

func TestGlobalHoldoutTakesItsShareOfProfiles(t *testing.T) {
	const n = 20000
	in := 0
	for i := range n {
		if InGlobalHoldout(fmt.Sprint("p_", i), 10) {
			in++
		}
	}
	if f := float64(in) / n; math.Abs(f-0.10) > 0.01 {
		t.Fatalf("%.3f of the profiles held out, want 0.10", f)
	}
	if InGlobalHoldout("p_1", 0) || !InGlobalHoldout("p_1", 100) {
		t.Fatal("0% must hold out nobody and 100% everybody")
	}
}

func TestTimersBeyondTheHorizonWaitInTheStore(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "db"), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := newHarness(t, Options{DB: db, Horizon: time.Minute})
	if err := h.e.Load(); err != nil {
		t.Fatal(err)
	}
	h.save(cart())
	checkpoint := func() {
		b := db.NewBatch()
		if err := h.e.Checkpoint(b); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(nil); err != nil {
			t.Fatal(err)
		}
	}
	h.track("p_1", "Product Added", nil) // only in the store once two checkpoints passed
	checkpoint()
	h.track("p_2", "Product Added", nil) // in the store and the far list
	checkpoint()
	h.track("p_3", "Product Added", nil) // only in the far list: not checkpointed
	if n := len(h.e.timers); n != 0 {
		t.Fatalf("%d timers an hour ahead are in the heap; the horizon is a minute", n)
	}
	h.at(59*time.Minute + 30*time.Second)
	distinct := map[runKey]bool{}
	for _, tm := range h.e.timers {
		distinct[tm.k] = true
	}
	if n := len(distinct); n != 3 { // one may be there twice, from the store and the far list
		t.Fatalf("%d timers in the heap half a minute before they are due, want 3", n)
	}
	h.at(time.Hour)
	if got := h.sent(); len(got) != 3 {
		t.Fatalf("sent %v, want the three reminders", got)
	}
}
