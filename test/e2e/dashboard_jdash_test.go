package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDashboardJdash sends a demo customer a real email through Mailpit,
// opens it and clicks the link of its text part (as a reader of the plain
// text would), then drives the dashboard in headless Chromium
// (test/sdk/dashboard-jdash.mjs): the profile page's message history shows
// the message sent, opened and clicked as the API says, and its consent
// section the API's consent; the segment builder's "reachable on email"
// counts what the API counts; the journey page charts its days. With
// --double-opt-in, a new subscriber gets the confirmation email, whose link
// grants the consent; a welcome journey email opened counts in the
// journey's figures.
func TestDashboardJdash(t *testing.T) {
	node := requireNode(t, "playwright-core")
	chrome := chromiumPath()
	if _, err := os.Stat(chrome); err != nil {
		skipOrFail(t, "chromium not found at %s (apt-get install chromium)", chrome)
	}
	mp := startMailpit(t, false)
	const password = "jdash-dashboard-e2e-pw"
	s := startServer(t, t.TempDir(), deliverArgs(mp, "--demo", "--demo-customers", "60", "--admin-password", password, "--double-opt-in")...)
	m := waitExampleCustomer(t, s)
	user := "user_id:" + m[1]
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(s.stdout.String(), "demo journeys saved") {
		if time.Now().After(deadline) {
			t.Fatalf("serve --demo printed no `demo journeys saved` line:\n%s", s.stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var p struct {
		Traits map[string]any `json:"traits"`
	}
	if code, body := s.adminGet(t, "/api/profiles/"+user, &p); code != 200 {
		t.Fatalf("profile %s: %d %s", user, code, body)
	}
	email, _ := p.Traits["email"].(string)
	ensureTemplate(t, s, map[string]any{"id": "jdash-receipt", "name": "Receipt (jdash e2e)", "channel": "email",
		"subject": "Your receipt {{ data.order_id }}, {{ profile.traits.first_name }}",
		"html":    `<p>Thanks!</p><p><a href="https://shop.example/orders/{{ data.order_id }}">Your order</a></p>`,
		"text":    "Thanks! Your order: https://shop.example/orders/{{ data.order_id }}.\nUnsubscribe: {{ unsubscribe_url }}"})
	const key = "jdash-e2e-1"
	if code, body := s.adminSend(t, http.MethodPost, "/api/send", map[string]any{"template": "jdash-receipt", "profile": user,
		"data": map[string]any{"order_id": "o-9"}, "key": key}); code != http.StatusAccepted {
		t.Fatalf("POST /api/send: %d %s", code, body)
	}
	var msg mailSummary
	pollUntil(t, 20*time.Second, "the receipt in Mailpit", func() bool {
		for _, x := range mp.messages(t) {
			if strings.HasPrefix(x.Subject, "Your receipt o-9") && len(x.To) == 1 && x.To[0].Address == email {
				msg = x
				return true
			}
		}
		return false
	})
	var full struct{ HTML, Text string }
	mp.get(t, "/api/v1/message/"+msg.ID, &full)
	base := regexp.QuoteMeta(s.URL)
	click := regexp.MustCompile(`Your order: (` + base + `/t/c/[A-Za-z0-9_.-]+)\.`).FindStringSubmatch(full.Text)
	pixel := regexp.MustCompile(`<img src="(` + base + `/t/o/[^"]+)"`).FindStringSubmatch(full.HTML)
	if click == nil || pixel == nil {
		t.Fatalf("no tracked link in the text part or no pixel:\nText %s\nHTML %s", full.Text, full.HTML)
	}
	if !regexp.MustCompile(`Unsubscribe: ` + base + `/u/`).MatchString(full.Text) {
		t.Errorf("the unsubscribe link of the text part was wrapped:\n%s", full.Text)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(strings.ReplaceAll(pixel[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp, err = noFollow.Get(click[1]); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "https://shop.example/orders/o-9" {
		t.Fatalf("text-part click answered %d to %q", resp.StatusCode, loc)
	}
	pollUntil(t, 15*time.Second, "the open and the click in the message history", func() bool {
		var h struct {
			Messages []map[string]any `json:"messages"`
		}
		s.adminGet(t, "/api/profiles/"+user+"/messages", &h)
		for _, x := range h.Messages {
			if x["key"] == "t:"+key && x["opened_at"] != nil && x["clicked_at"] != nil {
				return true
			}
		}
		return false
	})

	// Double opt-in: a new subscriber's grant sends the confirmation email;
	// its link (in the text part, not wrapped for tracking) grants consent.
	s.mustPostEvents(t, "/v1/identify", map[string]any{"userId": "jdash-optin", "traits": map[string]any{"email": "optin@example.com"}})
	pollUntil(t, 10*time.Second, "the new subscriber's profile", func() bool { _, ok := s.getProfile(t, "user_id:jdash-optin"); return ok })
	if code, body := s.adminSend(t, http.MethodPut, "/api/profiles/user_id:jdash-optin/consent", map[string]any{"channel": "email", "granted": true}); code != 200 {
		t.Fatalf("grant: %d %s", code, body)
	}
	var confirm mailSummary
	pollUntil(t, 20*time.Second, "the confirmation email in Mailpit", func() bool {
		for _, x := range mp.messages(t) {
			if len(x.To) == 1 && x.To[0].Address == "optin@example.com" {
				confirm = x
				return true
			}
		}
		return false
	})
	mp.get(t, "/api/v1/message/"+confirm.ID, &full)
	link := regexp.MustCompile(base + `/t/d/[A-Za-z0-9_.-]+`).FindString(full.Text)
	if confirm.Subject != "Please confirm your subscription" || link == "" {
		t.Fatalf("confirmation %q without a confirm link:\n%s", confirm.Subject, full.Text)
	}
	if resp, err = http.Post(link, "application/x-www-form-urlencoded", nil); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var consent struct {
		Channels []struct {
			Channel string
			Allowed map[string]struct{ OK bool }
		}
	}
	if code, body := s.adminGet(t, "/api/profiles/user_id:jdash-optin/consent", &consent); code != 200 || resp.StatusCode != 200 {
		t.Fatalf("consent after confirming: %d %s (confirm %d)", code, body, resp.StatusCode)
	}
	if ch := consent.Channels[0]; ch.Channel != "email" || !ch.Allowed["marketing"].OK {
		t.Fatalf("email marketing not allowed after the confirmation link: %+v", ch)
	}

	// A journey's message opened: a new customer signs up, the welcome
	// journey's first email arrives, its pixel is fetched; the journey's
	// figures count it for the step and the day.
	s.mustPostEvents(t, "/v1/identify", map[string]any{"userId": "jdash-welcome", "traits": map[string]any{"email": "welcome@example.com", "first_name": "Wim", "email_opt_in": true}})
	s.mustPostEvents(t, "/v1/track", map[string]any{"userId": "jdash-welcome", "event": "Signed Up"})
	var welcome mailSummary
	pollUntil(t, 20*time.Second, "the welcome email in Mailpit", func() bool {
		for _, x := range mp.messages(t) {
			if len(x.To) == 1 && x.To[0].Address == "welcome@example.com" {
				welcome = x
				return true
			}
		}
		return false
	})
	mp.get(t, "/api/v1/message/"+welcome.ID, &full)
	wpixel := regexp.MustCompile(`<img src="(` + base + `/t/o/[^"]+)"`).FindStringSubmatch(full.HTML)
	if wpixel == nil {
		t.Fatalf("no pixel in the welcome email:\n%s", full.HTML)
	}
	if resp, err = http.Get(strings.ReplaceAll(wpixel[1], "&amp;", "&")); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	pollUntil(t, 15*time.Second, "the open in the welcome journey's figures", func() bool {
		var st struct {
			Steps map[string]struct{ Sent, Opened int } `json:"steps"`
		}
		s.adminGet(t, "/api/journeys/welcome/stats", &st)
		return st.Steps["welcome-1"].Sent >= 1 && st.Steps["welcome-1"].Opened >= 1
	})

	t.Setenv("CHROMIUM", chrome)
	out, err := runNode(t, node, 120*time.Second, filepath.Join(sdkDir(), "dashboard-jdash.mjs"),
		"--url", s.URL, "--email", "admin@tailor.local", "--password", password, "--token", s.AdminToken,
		"--write-key", s.WriteKey, "--customer", m[1], "--key", "t:"+key)
	if err != nil {
		s.fatalf(t, "dashboard scenario failed (%v):\n%s", err, out)
	}
	t.Logf("dashboard scenario: %s", out)
}
