package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMessageExperimentSplitsSubjectLines runs a subject-line test through
// the real server and Mailpit: 20 customers are each sent the same email
// twice through POST /api/send naming a running message experiment with a
// template per variant; every customer gets their variant's subject both
// times, the mailbox splits by variant, the results count one exposed unit
// per customer (two sends, one exposure) and attribute the orders of
// variant B's customers to B. Sends naming an unknown experiment or
// leaving a variant without template are refused and send nothing.
func TestMessageExperimentSplitsSubjectLines(t *testing.T) {
	mp := startMailpit(t, false)
	s := startServer(t, t.TempDir(), deliverArgs(mp)...)
	const n = 20
	var batch []map[string]any
	for i := range n {
		batch = append(batch, map[string]any{"type": "identify", "userId": fmt.Sprint("sl-", i),
			"traits": map[string]any{"email": fmt.Sprintf("sl-%d@%s", i, shopDomain), "first_name": fmt.Sprint("Customer", i)}})
	}
	if code, body := s.postEvents(t, "/v1/batch", map[string]any{"batch": batch}); code != 200 {
		t.Fatalf("POST /v1/batch: %d %s", code, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < n; {
		if code, _ := s.adminGet(t, fmt.Sprint("/api/profiles/user_id:sl-", i), nil); code == 200 {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("profile sl-%d not there after 20s", i)
		}
		time.Sleep(50 * time.Millisecond)
	}
	subjects := map[string]string{"a": "Your cart misses you", "b": "Still thinking it over?"}
	for v, subj := range subjects {
		ensureTemplate(t, s, map[string]any{"id": "subj-" + v, "name": "Subject " + v, "channel": "email", "subject": subj,
			"html": "<p>Hi {{ profile.traits.first_name }}, your cart is waiting.</p>", "text": "Hi {{ profile.traits.first_name }}, your cart is waiting."})
	}
	exp := map[string]any{"id": "subject-line", "name": "Cart subject line", "kind": "message",
		"variants": []map[string]any{{"id": "a", "weight": 50}, {"id": "b", "weight": 50}},
		"metrics":  []map[string]any{{"id": "purchase", "kind": "conversion", "event": "Order Completed"}}, "pre_days": 0}
	if code, body := s.adminSend(t, http.MethodPost, "/api/experiments", exp); code != 201 {
		t.Fatalf("create experiment: %d %s", code, body)
	}
	if code, body := s.adminSend(t, http.MethodPost, "/api/experiments/subject-line/start", nil); code != 200 {
		t.Fatalf("start experiment: %d %s", code, body)
	}
	templates := map[string]string{"a": "subj-a", "b": "subj-b"}
	for _, tc := range []struct {
		body    map[string]any
		code    int
		mention string
	}{
		{map[string]any{"experiment": "no-such-test", "templates": templates, "profile": "user_id:sl-0"}, 404, "no-such-test"},
		{map[string]any{"experiment": "subject-line", "templates": map[string]string{"a": "subj-a"}, "profile": "user_id:sl-0"}, 400, "has no template"},
		{map[string]any{"experiment": "subject-line", "templates": map[string]string{"a": "subj-a", "b": "nope"}, "profile": "user_id:sl-0"}, 404, "nope"},
	} {
		if code, body := s.adminSend(t, http.MethodPost, "/api/send", tc.body); code != tc.code || !strings.Contains(string(body), tc.mention) {
			t.Errorf("POST /api/send %v: %d %s, want %d naming %q", tc.body, code, body, tc.code, tc.mention)
		}
	}

	variant := map[string]string{} // email -> variant
	perVariant := map[string]int{}
	for round := range 2 {
		for i := range n {
			code, body := s.adminSend(t, http.MethodPost, "/api/send", map[string]any{"experiment": "subject-line", "templates": templates,
				"profile": fmt.Sprint("user_id:sl-", i), "key": fmt.Sprintf("sl-%d-%d", i, round)})
			var ans struct{ Variant, Template string }
			json.Unmarshal(body, &ans)
			if code != http.StatusAccepted || templates[ans.Variant] != ans.Template {
				t.Fatalf("send %d: %d %s", i, code, body)
			}
			email := fmt.Sprintf("sl-%d@%s", i, shopDomain)
			if round == 0 {
				variant[email] = ans.Variant
				perVariant[ans.Variant]++
			} else if variant[email] != ans.Variant {
				t.Errorf("%s got %s, then %s", email, variant[email], ans.Variant)
			}
		}
	}
	if perVariant["a"] == 0 || perVariant["b"] == 0 {
		t.Fatalf("20 customers all in one variant: %v", perVariant)
	}

	var mails []mailSummary
	for deadline := time.Now().Add(30 * time.Second); ; {
		if mails = mp.messages(t); len(mails) >= 2*n || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(mails) != 2*n {
		t.Fatalf("%d emails in Mailpit, want %d", len(mails), 2*n)
	}
	bySubject := map[string]int{}
	for _, m := range mails {
		bySubject[m.Subject]++
		if len(m.To) != 1 || m.Subject != subjects[variant[m.To[0].Address]] {
			t.Errorf("%v got %q, want the subject of variant %q", m.To, m.Subject, variant[m.To[0].Address])
		}
	}
	for v, subj := range subjects {
		if bySubject[subj] != 2*perVariant[v] {
			t.Errorf("%d emails with subject %q, want %d (variant %s)", bySubject[subj], subj, 2*perVariant[v], v)
		}
	}

	// Variant B's customers order; A's do not.
	var orders []map[string]any
	for i := range n {
		if variant[fmt.Sprintf("sl-%d@%s", i, shopDomain)] == "b" {
			orders = append(orders, map[string]any{"type": "track", "event": "Order Completed", "userId": fmt.Sprint("sl-", i),
				"properties": map[string]any{"order_id": fmt.Sprint("o-", i), "revenue": 40}})
		}
	}
	if code, body := s.postEvents(t, "/v1/batch", map[string]any{"batch": orders}); code != 200 {
		t.Fatalf("orders: %d %s", code, body)
	}
	type results struct {
		Variants []struct {
			ID    string
			Units int
		}
		Metrics []struct {
			ID       string
			Variants []struct {
				ID    string
				Units float64
				Total float64
			}
		}
	}
	var res results
	var body []byte
	for deadline := time.Now().Add(20 * time.Second); ; {
		res = results{}
		_, body = s.adminGet(t, "/api/experiments/subject-line/results", &res)
		if len(res.Metrics) == 1 && len(res.Metrics[0].Variants) == 2 && res.Metrics[0].Variants[1].Total == float64(perVariant["b"]) &&
			res.Variants[0].Units+res.Variants[1].Units == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, v := range res.Variants {
		if v.Units != perVariant[v.ID] {
			t.Errorf("results: variant %s has %d units, want %d (one per customer sent it, two sends each)", v.ID, v.Units, perVariant[v.ID])
		}
		if len(res.Metrics) == 1 && len(res.Metrics[0].Variants) > i {
			want := 0.0
			if v.ID == "b" {
				want = float64(perVariant["b"])
			}
			if got := res.Metrics[0].Variants[i].Total; got != want {
				t.Errorf("results: variant %s has %v conversions, want %v", v.ID, got, want)
			}
		}
	}
	if t.Failed() {
		t.Logf("results: %s", body)
	}
}

// TestDemoShipsARunningExperiment: a fresh `serve --demo` store opens with
// a running subject-line test whose results have exposed units in both
// variants (the last eight weeks of carts), run by the abandoned-cart
// journey's first email with a template per variant.
func TestDemoShipsARunningExperiment(t *testing.T) {
	s := startServer(t, t.TempDir(), "--demo", "--demo-customers", "400")
	waitExampleCustomer(t, s)
	var res struct {
		Experiment struct{ Status, Kind string }
		Variants   []struct {
			ID    string
			Units int
		}
		Metrics []struct{ ID string }
		Daily   []struct{ Day string }
		Verdict string
	}
	if code, body := s.adminGet(t, "/api/experiments/cart-subject-line/results", &res); code != 200 {
		t.Fatalf("results: %d %s", code, body)
	}
	if res.Experiment.Status != "running" || res.Experiment.Kind != "message" || len(res.Variants) != 2 ||
		res.Variants[0].Units == 0 || res.Variants[1].Units == 0 || len(res.Metrics) == 0 || len(res.Daily) < 2 || res.Verdict == "" {
		t.Errorf("demo experiment results: %+v", res)
	}
	var j struct {
		Steps []struct {
			ID, Experiment string
			Templates      map[string]string
		}
	}
	if code, body := s.adminGet(t, "/api/journeys/abandoned-cart", &j); code != 200 {
		t.Fatalf("journey: %d %s", code, body)
	}
	found := false
	for _, st := range j.Steps {
		if st.ID == "cart-email" {
			found = st.Experiment == "cart-subject-line" && len(st.Templates) == 2
		}
	}
	if !found {
		t.Errorf("the abandoned-cart email does not run the experiment: %+v", j.Steps)
	}
}
