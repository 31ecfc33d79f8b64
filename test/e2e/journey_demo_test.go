package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

// daySecond is the journey time scale of these tests: a day of journey
// time lasts a second (serve --journey-time-scale).
const daySecond = "86400"

var demoJourneysLine = regexp.MustCompile(`(?m)^tailor: (\d+) demo journeys saved`)

// mailOf is one received email, read back from Mailpit.
type mailOf struct {
	To, Subject, HTML, Text string
	Headers                 map[string][]string
}

// mailByTo reads every message of the mailbox, by recipient.
func (m *mailpit) mailByTo(t *testing.T) map[string][]mailOf {
	t.Helper()
	out := map[string][]mailOf{}
	for _, s := range m.messages(t) {
		var full struct{ HTML, Text string }
		m.get(t, "/api/v1/message/"+s.ID, &full)
		var h map[string][]string
		m.get(t, "/api/v1/message/"+s.ID+"/headers", &h)
		to := ""
		if len(s.To) > 0 {
			to = s.To[0].Address
		}
		out[to] = append(out[to], mailOf{To: to, Subject: s.Subject, HTML: full.HTML, Text: full.Text, Headers: h})
	}
	return out
}

// journeyStats reads a journey's figures.
func (s *server) journeyStats(t *testing.T, id string) map[string]any {
	t.Helper()
	code, st := s.adminDo(t, "GET", "/api/journeys/"+id+"/stats", "")
	if code != 200 {
		t.Fatalf("stats of %s: %d %v", id, code, st)
	}
	return st
}

func num(m map[string]any, k string) int {
	f, _ := m[k].(float64)
	return int(f)
}

// TestJourneyDemoStore runs the shipped journeys of the demo store end to
// end: `tailor serve --demo` with the SMTP adapter pointed at Mailpit, push
// and webhook at local receivers, journey time at a day per second; events
// sent with analytics-go trigger each journey, and the messages are read
// where they land — the mailbox (subject, personalization, the cart's or
// order's products, List-Unsubscribe, a unique coupon per customer), the
// push receiver, the webhook receiver and the in-app inbox.
func TestJourneyDemoStore(t *testing.T) {
	mp := startMailpit(t, false)
	push := newReceiver(t, `{"name":"projects/p/messages/1"}`)
	hook := newReceiver(t, `{}`)
	secrets := filepath.Join(t.TempDir(), "secrets")
	os.WriteFile(secrets, []byte("TAILOR_WEBHOOK_SECRET=whsec\nTAILOR_PUSH_TOKEN=pushtok\n"), 0o600)
	s := startServer(t, t.TempDir(), deliverArgs(mp, "--demo", "--demo-customers", "50", "--journey-time-scale", daySecond,
		"--secrets-file", secrets, "--webhook-url", hook.srv.URL+"/hook", "--push-url", push.srv.URL+"/v1/projects/p/messages:send")...)
	if m := waitStdout(t, s, demoJourneysLine); m[1] != "6" {
		t.Fatalf("%s demo journeys saved, want 6", m[1])
	}
	// Browse abandonment and app-gone-quiet ship as drafts: go live.
	for _, id := range []string{"browse-abandonment", "app-gone-quiet"} {
		if code, m := s.adminDo(t, "POST", "/api/journeys/"+id+"/publish", ""); code != 200 {
			t.Fatalf("publish %s: %d %v", id, code, m)
		}
	}
	// The webhook and in-app channels: a journey of this test on the demo
	// store, an order's webhook to the shop's back office and a note in the
	// app's inbox.
	ensureTemplate(t, s, map[string]any{"id": "order-hook", "name": "Order hook", "channel": "webhook", "url": hook.srv.URL + "/hook",
		"json": `{"order_id":"{{ event.order_id }}","email":"{{ profile.traits.email }}"}`})
	ensureTemplate(t, s, map[string]any{"id": "order-note", "name": "Order note", "channel": "inapp",
		"title": "Thanks, {{ profile.traits.first_name }}", "body": "Order {{ event.order_id }} is confirmed.", "url": "shop://orders"})
	if code, m := s.adminDo(t, "POST", "/api/journeys", `{"id":"order-channels","name":"Order channels","status":"live",
	  "trigger":{"type":"event","event":"Order Completed"},"entry":{"rule":"every_time"},"start":"hook",
	  "steps":[{"id":"hook","type":"webhook","template":"order-hook","next":"note"},
	           {"id":"note","type":"send","channel":"inapp","template":"order-note"}]}`); code != 201 {
		t.Fatalf("create order-channels: %d %v", code, m)
	}

	var cat struct {
		Products []struct{ ID, Name string }
	}
	if code, body := s.adminGet(t, "/api/catalog/products?limit=3", &cat); code != 200 || len(cat.Products) < 3 {
		t.Fatalf("demo catalog: %d %s", code, body)
	}
	carted, bought, viewed := cat.Products[0], cat.Products[1], cat.Products[2]

	client, err := analytics.NewWithConfig(s.WriteKey, analytics.Config{Endpoint: s.URL, Interval: 50 * time.Millisecond, BatchSize: 10, Logger: testLogger{t}})
	if err != nil {
		t.Fatal(err)
	}
	enqueue := func(m analytics.Message) {
		t.Helper()
		if err := client.Enqueue(m); err != nil {
			t.Fatal(err)
		}
	}
	people := map[string][]string{ // journey → its customers
		"abandoned-cart": {"jd-cart-1", "jd-cart-2", "jd-cart-3", "jd-cart-4"},
		"post-purchase":  {"jd-buy-1", "jd-buy-2"},
		"browse":         {"jd-browse-1", "jd-browse-2"},
		"welcome":        {"jd-welcome-1"},
		"app-gone-quiet": {"jd-quiet-1"},
		"win-back":       {"jd-lapsing-1", "jd-lapsing-2", "jd-lapsing-3", "jd-lapsing-4"},
	}
	// The quiet customer was last seen 14 days ago but for a few seconds:
	// in "visited in the last 14 days, no order" until time moves them
	// out, with 14 days since they were seen — the push's branch.
	quietSeen := time.Now().Add(-14*24*time.Hour + 6*time.Second)
	first := func(u string) string { return "Fn" + strings.ReplaceAll(strings.TrimPrefix(u, "jd-"), "-", "") }
	email := func(u string) string { return u + "@shop.example" }
	for _, us := range people {
		for _, u := range us {
			traits := analytics.NewTraits().Set("first_name", first(u)).SetEmail(email(u)).Set("email_opt_in", true)
			var at time.Time
			if strings.HasPrefix(u, "jd-quiet") {
				traits.Set("push_token", "devtok-"+u).Set("push_opt_in", true)
				at = quietSeen
			}
			enqueue(analytics.Identify{UserId: u, Traits: traits, Timestamp: at})
		}
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	for _, us := range people {
		for _, u := range us {
			pollUntil(t, 10*time.Second, "profile "+u, func() bool { code, _ := s.adminGet(t, "/api/profiles/user_id:"+u, nil); return code == 200 })
		}
	}
	if client, err = analytics.NewWithConfig(s.WriteKey, analytics.Config{Endpoint: s.URL, Interval: 50 * time.Millisecond, BatchSize: 10, Logger: testLogger{t}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, u := range people["abandoned-cart"] {
		enqueue(analytics.Track{UserId: u, Event: "Product Added", Properties: analytics.NewProperties().
			Set("product_id", carted.ID).Set("name", carted.Name).Set("price", 20)})
	}
	for i, u := range people["post-purchase"] {
		enqueue(analytics.Track{UserId: u, Event: "Order Completed", Properties: analytics.NewProperties().
			Set("order_id", fmt.Sprintf("o-jd-%d", i)).Set("revenue", 42).Set("currency", "USD").
			Set("products", []map[string]any{{"product_id": bought.ID, "price": 42, "quantity": 1}})})
	}
	for _, u := range people["browse"] {
		enqueue(analytics.Track{UserId: u, Event: "Product Viewed", Properties: analytics.NewProperties().Set("product_id", viewed.ID).Set("name", viewed.Name)})
	}
	for _, u := range people["welcome"] {
		enqueue(analytics.Track{UserId: u, Event: "Signed Up"})
	}
	for _, u := range people["app-gone-quiet"] {
		enqueue(analytics.Track{UserId: u, Event: "Application Opened", Timestamp: quietSeen})
	}
	// A last order 100 days ago: lifecycle "at risk".
	for _, u := range people["win-back"] {
		enqueue(analytics.Track{UserId: u, Event: "Order Completed", Timestamp: now.Add(-100 * 24 * time.Hour),
			Properties: analytics.NewProperties().Set("order_id", "o-old-"+u).Set("revenue", 30)})
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}

	// Journey time: cart 1 h + 24 h, post-purchase 1 h + 7 d, welcome
	// 2 d + (to 10:00) + 3 d, win-back 7 d: every message is due within
	// about 8 s.
	want := map[string]int{} // journey → messages to expect, held-out runs aside
	expect := func(id string, perRun int) {
		var st map[string]any
		pollUntil(t, 30*time.Second, id+" runs finished", func() bool {
			st = s.journeyStats(t, id)
			return num(st, "entered") > 0 && num(st, "exited") == num(st, "entered")
		})
		want[id] = (num(st, "entered") - num(st, "held_out")) * perRun
		t.Logf("%s: %v", id, st)
	}
	expect("abandoned-cart", 2)
	expect("post-purchase", 2)
	expect("browse-abandonment", 1)
	expect("welcome", 3)
	expect("order-channels", 1)
	if st := s.journeyStats(t, "abandoned-cart"); num(st, "entered") != 4 {
		t.Fatalf("abandoned-cart entered %d times, want 4: %v", num(st, "entered"), st)
	}
	if want["abandoned-cart"] == 0 {
		t.Fatal("every cart run was held out: nothing to check")
	}

	var mail map[string][]mailOf
	subjects := func(u string) []string {
		var l []string
		for _, m := range mail[email(u)] {
			l = append(l, m.Subject)
		}
		return l
	}
	pollUntil(t, 30*time.Second, "the journeys' emails", func() bool {
		mail = mp.mailByTo(t)
		n := 0
		for _, us := range people {
			for _, u := range us {
				n += len(mail[email(u)])
			}
		}
		return n >= want["abandoned-cart"]+want["post-purchase"]+want["browse-abandonment"]+want["welcome"]
	})
	has := func(u, subject string) (mailOf, bool) {
		for _, m := range mail[email(u)] {
			if m.Subject == subject {
				return m, true
			}
		}
		return mailOf{}, false
	}
	// await is has for a mail that must come: the count above can be
	// reached while one is still on its way (another customer's extra
	// mail counted for it), so a miss reads the mailbox again for a while.
	await := func(u, subject string) (mailOf, bool) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if m, ok := has(u, subject); ok || time.Now().After(deadline) {
				return m, ok
			}
			time.Sleep(100 * time.Millisecond)
			mail = mp.mailByTo(t)
		}
	}
	checkMail := func(u string, m mailOf, contains ...string) {
		t.Helper()
		if !strings.Contains(strings.Join(m.Headers["List-Unsubscribe"], ""), s.URL+"/") || strings.Join(m.Headers["List-Unsubscribe-Post"], "") != "List-Unsubscribe=One-Click" {
			t.Errorf("%s %q: List-Unsubscribe %v / %v", u, m.Subject, m.Headers["List-Unsubscribe"], m.Headers["List-Unsubscribe-Post"])
		}
		for _, c := range contains {
			if !strings.Contains(m.HTML, c) {
				t.Errorf("%s %q: the HTML lacks %q:\n%s", u, m.Subject, c, m.HTML)
			}
		}
	}

	coupons := map[string]string{}
	couponRe := regexp.MustCompile(`<strong>([^<]+)</strong>`)
	got := 0
	for _, u := range people["abandoned-cart"] {
		// The first reminder's subject line is the demo experiment's
		// variant: the control's or the question.
		m1, ok1 := has(u, first(u)+", your cart is waiting")
		if !ok1 {
			m1, ok1 = has(u, "Still thinking it over, "+first(u)+"?")
		}
		m2, ok2 := has(u, "10% off what is in your cart, "+first(u))
		if ok1 != ok2 {
			t.Errorf("%s got one cart reminder of two: %q", u, subjects(u))
		}
		if !ok1 {
			continue // held out
		}
		got += 2
		checkMail(u, m1, "Hi "+first(u), carted.Name)
		checkMail(u, m2, "Hi "+first(u), carted.Name)
		c := couponRe.FindStringSubmatch(m2.HTML)
		if c == nil {
			t.Errorf("%s: no coupon code in %s", u, m2.HTML)
			continue
		}
		if other, dup := coupons[c[1]]; dup {
			t.Errorf("coupon %s given to %s and %s", c[1], other, u)
		}
		coupons[c[1]] = u
	}
	if got != want["abandoned-cart"] {
		t.Errorf("%d cart reminders, want %d", got, want["abandoned-cart"])
	}
	for i, u := range people["post-purchase"] {
		m, ok := await(u, "Thank you for your order, "+first(u))
		if !ok {
			t.Errorf("%s: no thank-you in %q", u, subjects(u))
		} else {
			checkMail(u, m, fmt.Sprintf("o-jd-%d", i))
		}
		if m, ok = await(u, first(u)+", these go well with your order"); !ok {
			t.Errorf("%s: no cross-sell in %q", u, subjects(u))
		} else {
			checkMail(u, m, bought.Name)
		}
	}
	for _, u := range people["browse"] {
		if m, ok := await(u, "Still looking, "+first(u)+"?"); !ok {
			t.Errorf("%s: no browse reminder in %q", u, subjects(u))
		} else {
			checkMail(u, m, viewed.Name)
		}
	}
	for _, u := range people["welcome"] {
		for _, sub := range []string{"Welcome to Tailor Shop, " + first(u), "Our bestsellers, " + first(u), "Ready for your first order?"} {
			if m, ok := await(u, sub); !ok {
				t.Errorf("%s: no %q in %q", u, sub, subjects(u))
			} else {
				checkMail(u, m)
			}
		}
	}
	// No message twice: one email per journey step and customer.
	for to, ms := range mail {
		seen := map[string]bool{}
		for _, m := range ms {
			if seen[m.Subject] {
				t.Errorf("%s got %q twice", to, m.Subject)
			}
			seen[m.Subject] = true
		}
	}

	// Win-back: entering "at risk" sends the we-miss-you email at once;
	// a week later half of those left get a coupon. (Its held-out runs
	// wait out the 21 d goal window: the entries are what counts here.)
	var st map[string]any
	pollUntil(t, 20*time.Second, "win-back entries", func() bool {
		st = s.journeyStats(t, "win-back")
		return num(st, "entered") == len(people["win-back"])
	})
	want["win-back"] = num(st, "entered") - num(st, "held_out")
	pollUntil(t, 20*time.Second, "the win-back emails", func() bool {
		mail = mp.mailByTo(t)
		n := 0
		for _, u := range people["win-back"] {
			if _, ok := has(u, "We miss you, "+first(u)); ok {
				n++
			}
		}
		return n == want["win-back"]
	})
	// A week (7 s) on, the split: the coupon path's customers get one.
	pollUntil(t, 20*time.Second, "the win-back split", func() bool {
		steps, _ := s.journeyStats(t, "win-back")["steps"].(map[string]any)
		split, _ := steps["split"].(map[string]any)
		return num(split, "entered") == want["win-back"]
	})
	// The coupon sends follow the split: their count is read with the
	// mailbox, once every customer the split sent down the coupon path has
	// been sent one (read at the split, it could miss sends still under way).
	var coupon int
	pollUntil(t, 20*time.Second, "the win-back coupons", func() bool {
		steps, _ := s.journeyStats(t, "win-back")["steps"].(map[string]any)
		c, _ := steps["coupon"].(map[string]any)
		coupon = num(c, "sent")
		if coupon != num(c, "entered") {
			return false
		}
		mail = mp.mailByTo(t)
		n := 0
		for _, u := range people["win-back"] {
			if _, ok := has(u, "15% off to welcome you back, "+first(u)); ok {
				n++
			}
		}
		return n == coupon
	})
	for _, u := range people["win-back"] {
		if m, ok := has(u, "15% off to welcome you back, "+first(u)); ok {
			checkMail(u, m)
			if c := couponRe.FindStringSubmatch(m.HTML); c == nil || coupons[c[1]] != "" {
				t.Errorf("%s: win-back coupon missing or given before: %s", u, m.HTML)
			}
		}
	}
	t.Logf("win-back: %d of %d customers entered outside the holdout, %d got the coupon", want["win-back"], len(people["win-back"]), coupon)

	// App gone quiet: out of the segment as time passes, 14 days unseen:
	// the push.
	for _, u := range people["app-gone-quiet"] {
		r := push.wait(t, "the come-back push")
		var fcm struct {
			Message struct {
				Token        string
				Notification struct{ Title string }
			}
		}
		json.Unmarshal(r.Body, &fcm)
		if fcm.Message.Token != "devtok-"+u || fcm.Message.Notification.Title != "New in for you, "+first(u) || r.Header.Get("Authorization") != "Bearer pushtok" {
			t.Errorf("push %s %v", r.Body, r.Header)
		}
	}

	// The order's webhook and in-app note.
	hook.mu.Lock()
	hooks := len(hook.reqs)
	hook.mu.Unlock()
	pollUntil(t, 10*time.Second, "the order webhooks", func() bool {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		hooks = len(hook.reqs)
		return hooks >= len(people["post-purchase"])+len(people["win-back"])
	})
	orders := map[string]bool{}
	hook.mu.Lock()
	for _, r := range hook.reqs {
		var p map[string]string
		json.Unmarshal(r.Body, &p)
		orders[p["order_id"]+" "+p["email"]] = true
		if r.Header.Get("X-Tailor-Signature") == "" {
			t.Errorf("unsigned webhook %s", r.Body)
		}
	}
	hook.mu.Unlock()
	for i, u := range people["post-purchase"] {
		if !orders[fmt.Sprintf("o-jd-%d %s", i, email(u))] {
			t.Errorf("no webhook of %s's order among %v", u, orders)
		}
		var inbox struct {
			Messages []struct{ Title, Body string }
		}
		pollUntil(t, 10*time.Second, u+"'s in-app note", func() bool {
			code, body, _ := s.do(http.MethodGet, "/v1/inbox?userId="+u, nil, http.Header{"Authorization": {basicAuth(s.WriteKey)}})
			return code == 200 && json.Unmarshal(body, &inbox) == nil && len(inbox.Messages) == 1
		})
		if m := inbox.Messages[0]; m.Title != "Thanks, "+first(u) || m.Body != fmt.Sprintf("Order o-jd-%d is confirmed.", i) {
			t.Errorf("%s's inbox: %+v", u, inbox.Messages)
		}
	}
}
