package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// errorBody is the tracking API's 4xx answer.
type errorBody struct {
	Success *bool  `json:"success"`
	Error   string `json:"error"`
	Code    string `json:"code"`
}

// checkError requires status want and a JSON error body; mention, when not
// empty, must appear in the error text (case-insensitive).
func checkError(t *testing.T, what string, code int, body []byte, want int, mention string) {
	t.Helper()
	if code != want {
		t.Errorf("%s: status %d, want %d; body %s", what, code, want, body)
		return
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("%s: %d body is not JSON: %v: %s", what, code, err, body)
		return
	}
	if e.Success == nil || *e.Success || e.Error == "" || e.Code == "" {
		t.Errorf("%s: body %s, want {\"success\":false,\"error\":\"...\",\"code\":\"...\"}", what, body)
	}
	if mention != "" && !strings.Contains(strings.ToLower(e.Error), strings.ToLower(mention)) {
		t.Errorf("%s: error %q does not name the problem (%q)", what, e.Error, mention)
	}
	t.Logf("%s: %d %s", what, code, bytes.TrimSpace(body))
}

func track(mid, user, event string) map[string]any {
	return map[string]any{
		"type": "track", "messageId": mid, "userId": user, "event": event,
		"timestamp": time.Now().UTC().Format(time.RFC3339Nano),
	}
}

// TestIngestErrors checks the tracking API's edges: every endpoint, malformed
// JSON, write keys (header and body), size limits, partial batches and the
// rejected view, gzip, CORS, metrics, and a duplicate messageId counted once
// across a clean restart and a crash.
func TestIngestErrors(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	jsonHdr := func(key string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		if key != "" {
			h.Set("Authorization", basicAuth(key))
		}
		return h
	}
	post := func(t *testing.T, path string, body []byte, hdr http.Header) (int, []byte) {
		t.Helper()
		code, resp, err := s.do(http.MethodPost, path, body, hdr)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		return code, resp
	}

	t.Run("every endpoint", func(t *testing.T) {
		u := "endpoint-user"
		msg := func(typ, mid string) map[string]any {
			m := map[string]any{"messageId": mid, "userId": u, "timestamp": time.Now().UTC().Format(time.RFC3339Nano)}
			switch typ {
			case "track":
				m["event"] = "Endpoint Test"
			case "page", "screen":
				m["name"] = "Home"
			case "group":
				m["groupId"] = "g1"
			case "alias":
				m["previousId"] = "endpoint-old-user"
			case "identify":
				m["traits"] = map[string]any{"plan": "pro"}
			}
			return m
		}
		want := map[string]int{}
		for _, typ := range []string{"identify", "track", "page", "screen", "group", "alias"} {
			for _, path := range []string{"/v1/" + typ, "/v1/" + typ[:1]} {
				s.mustPostEvents(t, path, msg(typ, "ep-"+strings.ReplaceAll(path, "/", "-")))
				want[typ]++
			}
		}
		for _, path := range []string{"/v1/batch", "/v1/b", "/v1/import"} {
			m := msg("track", "ep-"+strings.ReplaceAll(path, "/", "-"))
			m["type"] = "track"
			s.mustPostEvents(t, path, map[string]any{"batch": []any{m}})
			want["track"]++
		}
		s.waitProfile(t, u, 0, func(p *Profile) error {
			for typ, n := range want {
				if p.Computed.TypeCounts[typ] != n {
					return fmt.Errorf("type_counts %v, want %v", p.Computed.TypeCounts, want)
				}
			}
			return nil
		})
		code, body := s.postEvents(t, "/v1/nonsense", msg("track", "ep-nonsense"))
		checkError(t, "POST /v1/nonsense", code, body, http.StatusNotFound, "")
	})

	t.Run("malformed JSON", func(t *testing.T) {
		code, body := post(t, "/v1/track", []byte(`{"userId":"u1","event":"Signed In",`), jsonHdr(s.WriteKey))
		checkError(t, "truncated JSON to /v1/track", code, body, http.StatusBadRequest, "json")
		code, body = post(t, "/v1/batch", []byte(`this is not json`), jsonHdr(s.WriteKey))
		checkError(t, "text to /v1/batch", code, body, http.StatusBadRequest, "json")
	})

	t.Run("write key", func(t *testing.T) {
		msg, _ := json.Marshal(track("wk-1", "wk-user", "Signed In"))
		code, body := post(t, "/v1/track", msg, jsonHdr("not-the-write-key"))
		checkError(t, "unknown write key", code, body, http.StatusUnauthorized, "")
		code, body = post(t, "/v1/track", msg, jsonHdr(""))
		checkError(t, "no write key", code, body, http.StatusUnauthorized, "")

		// analytics.js style: write key in the body, text/plain, short path.
		m := track("wk-body-1", "wk-body-user", "Signed In")
		m["writeKey"] = s.WriteKey
		b, _ := json.Marshal(m)
		code, body = post(t, "/v1/t", b, http.Header{"Content-Type": {"text/plain"}})
		if code != http.StatusOK {
			t.Errorf("POST /v1/t with writeKey in the body: %d %s, want 200", code, body)
		}
		m["writeKey"] = "not-the-write-key"
		m["messageId"] = "wk-body-2"
		b, _ = json.Marshal(m)
		code, body = post(t, "/v1/t", b, http.Header{"Content-Type": {"text/plain"}})
		checkError(t, "unknown writeKey in the body", code, body, http.StatusUnauthorized, "")
		s.waitProfile(t, "wk-body-user", 0, func(p *Profile) error {
			if p.Computed.EventCount != 1 {
				return fmt.Errorf("event_count %d, want 1", p.Computed.EventCount)
			}
			return nil
		})
	})

	t.Run("body too large", func(t *testing.T) {
		pad := strings.Repeat("x", 20*1024)
		var batch []map[string]any
		for i := range 30 { // 30 x 20 KB = 600 KB, every message under the 32 KB message limit
			m := track(fmt.Sprintf("big-%d", i), "big-user", "Big")
			m["properties"] = map[string]any{"pad": pad}
			batch = append(batch, m)
		}
		b, _ := json.Marshal(map[string]any{"batch": batch})
		if len(b) <= 500*1024 {
			t.Fatalf("test bug: body is %d bytes", len(b))
		}
		code, body := post(t, "/v1/batch", b, jsonHdr(s.WriteKey))
		checkError(t, fmt.Sprintf("%d KB batch", len(b)/1024), code, body, http.StatusRequestEntityTooLarge, "")
		if _, ok := s.getProfile(t, "big-user"); ok {
			t.Errorf("a rejected oversized batch created profile big-user")
		}

		// 32 KB per message: 413 alone, a per-message rejection in a batch.
		huge := track("huge-1", "huge-user", "Huge")
		huge["properties"] = map[string]any{"pad": strings.Repeat("y", 40*1024)}
		b, _ = json.Marshal(huge)
		code, body = post(t, "/v1/track", b, jsonHdr(s.WriteKey))
		checkError(t, "40 KB message to /v1/track", code, body, http.StatusRequestEntityTooLarge, "")
		b, _ = json.Marshal(map[string]any{"batch": []any{track("huge-ok-1", "huge-user", "Small"), huge}})
		code, body = post(t, "/v1/batch", b, jsonHdr(s.WriteKey))
		var ack ackBody
		if err := json.Unmarshal(body, &ack); code != http.StatusOK || err != nil || len(ack.Rejected) != 1 || ack.Rejected[0].Index != 1 {
			t.Errorf("batch with a 40 KB message at index 1: %d %s, want 200 with rejected [{index 1}]", code, body)
		}
	})

	t.Run("batch of only bad messages", func(t *testing.T) {
		b, _ := json.Marshal(map[string]any{"batch": []any{
			map[string]any{"type": "track", "messageId": "allbad-1", "event": "No Id"},
			map[string]any{"type": "nonsense", "messageId": "allbad-2", "userId": "u"},
		}})
		code, body := post(t, "/v1/batch", b, jsonHdr(s.WriteKey))
		if code != http.StatusBadRequest {
			t.Fatalf("batch of only invalid messages: %d %s, want 400", code, body)
		}
		var ack ackBody
		if err := json.Unmarshal(body, &ack); err != nil || ack.Success || len(ack.Rejected) != 2 {
			t.Errorf("batch of only invalid messages: %s, want success false and 2 rejected", body)
		}
	})

	t.Run("batch with a bad message", func(t *testing.T) {
		bad := map[string]any{"type": "track", "messageId": "index1-no-id", "event": "No Id"}
		b, _ := json.Marshal(map[string]any{"batch": []any{
			track("good-a-1", "batch-user-a", "Signed In"), bad, track("good-b-1", "batch-user-b", "Signed In"),
		}})
		code, body := post(t, "/v1/batch", b, jsonHdr(s.WriteKey))
		if code != http.StatusOK {
			t.Fatalf("batch with one bad message: %d %s, want 200", code, body)
		}
		var ack ackBody
		if err := json.Unmarshal(body, &ack); err != nil {
			t.Fatalf("batch answer %s: %v", body, err)
		}
		if !ack.Success || ack.Accepted == nil || *ack.Accepted != 2 || len(ack.Rejected) != 1 || ack.Rejected[0].Index != 1 {
			t.Fatalf("batch answer %s, want success, accepted 2, rejected [{index 1}]", body)
		}
		if r := ack.Rejected[0].Reason; !strings.Contains(r, "userId") && !strings.Contains(r, "anonymousId") {
			t.Errorf("rejected reason %q does not name userId/anonymousId", r)
		}
		for _, u := range []string{"batch-user-a", "batch-user-b"} {
			s.waitProfile(t, u, 0, func(p *Profile) error {
				if p.Computed.EventCounts["Signed In"] != 1 {
					return fmt.Errorf("event_counts %v, want Signed In 1", p.Computed.EventCounts)
				}
				return nil
			})
		}

		var rej struct {
			Rejected []struct {
				At       string          `json:"at"`
				SourceID string          `json:"source_id"`
				Index    int             `json:"index"`
				Reason   string          `json:"reason"`
				Body     json.RawMessage `json:"body"`
			} `json:"rejected"`
		}
		code, body = s.adminGet(t, "/api/rejected?limit=100", &rej)
		if code != http.StatusOK {
			t.Fatalf("GET /api/rejected: %d %s", code, body)
		}
		found := false
		for _, r := range rej.Rejected {
			if bytes.Contains(r.Body, []byte("index1-no-id")) {
				found = true
				if r.Index != 1 || r.Reason == "" || r.At == "" {
					t.Errorf("GET /api/rejected entry %+v, want index 1, a reason and a time", r)
				}
			}
		}
		if !found {
			t.Errorf("GET /api/rejected does not list the rejected message index1-no-id: %s", body)
		}
		code, body, _ = s.do(http.MethodGet, "/api/rejected", nil, nil)
		if code != http.StatusUnauthorized && code != http.StatusForbidden {
			t.Errorf("GET /api/rejected without the admin token: %d %s, want 401", code, body)
		}
	})

	t.Run("gzip", func(t *testing.T) {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		b, _ := json.Marshal(map[string]any{"batch": []any{track("gz-1", "gzip-user", "Zipped"), track("gz-2", "gzip-user", "Zipped")}})
		zw.Write(b)
		zw.Close()
		h := jsonHdr(s.WriteKey)
		h.Set("Content-Encoding", "gzip")
		code, body := post(t, "/v1/batch", zb.Bytes(), h)
		if code != http.StatusOK {
			t.Fatalf("gzip batch: %d %s, want 200", code, body)
		}
		s.waitProfile(t, "gzip-user", 0, func(p *Profile) error {
			if p.Computed.EventCounts["Zipped"] != 2 {
				return fmt.Errorf("event_counts %v, want Zipped 2", p.Computed.EventCounts)
			}
			return nil
		})
	})

	t.Run("CORS", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, s.URL+"/v1/batch", nil)
		req.Header.Set("Origin", "http://shop.example.com")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 300 {
			t.Errorf("CORS preflight: status %d, want 2xx", resp.StatusCode)
		}
		if o := resp.Header.Get("Access-Control-Allow-Origin"); o != "*" && o != "http://shop.example.com" {
			t.Errorf("CORS preflight: Access-Control-Allow-Origin %q", o)
		}
		if m := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(strings.ToUpper(m), "POST") {
			t.Errorf("CORS preflight: Access-Control-Allow-Methods %q lacks POST", m)
		}
		if h := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); h != "*" &&
			(!strings.Contains(h, "content-type") || !strings.Contains(h, "authorization")) {
			t.Errorf("CORS preflight: Access-Control-Allow-Headers %q lacks content-type, authorization", h)
		}
	})

	t.Run("metrics and health", func(t *testing.T) {
		if code, body, err := s.do(http.MethodGet, "/healthz", nil, nil); err != nil || code != http.StatusOK {
			t.Errorf("GET /healthz: %d %s %v", code, body, err)
		}
		code, body, err := s.do(http.MethodGet, "/metrics", nil, nil)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET /metrics (no auth): %d %v", code, err)
		}
		// The series the bench reads (docs/API.md).
		for _, series := range []string{
			`tailor_ingest_events_total{type="track"}`,
			`tailor_ingest_rejected_total{reason=`,
			`tailor_processor_lag_events`,
			`tailor_processor_lag_seconds`,
		} {
			if !bytes.Contains(body, []byte(series)) {
				t.Errorf("GET /metrics lacks %s", series)
			}
		}
		// What the events written so far cost the store, and the bench's
		// CPU-per-event figures: each must have counted something. (The
		// block cache may still be empty: a new store's reads hit the
		// memtable.)
		if !bytes.Contains(body, []byte("\ntailor_store_cache_bytes ")) {
			t.Errorf("GET /metrics lacks tailor_store_cache_bytes")
		}
		for _, series := range []string{"tailor_log_bytes_total", "tailor_store_wal_bytes_total",
			"tailor_store_disk_bytes", "process_cpu_seconds_total", "tailor_processor_applied_total"} {
			// The store series come once per store (a store label).
			m := regexp.MustCompile(`(?m)^` + series + `(?:\{store="log"\})? (\S+)$`).FindSubmatch(body)
			if m == nil {
				t.Errorf("GET /metrics lacks %s (of the log's store)", series)
				continue
			}
			if v, err := strconv.ParseFloat(string(m[1]), 64); err != nil || v <= 0 {
				t.Errorf("%s = %s, want a positive value after the events above", series, m[1])
			}
		}
	})

	// The same messageId is counted once, also after a restart.
	dupUser := "dup-user"
	waitSentinels := func(n, total int) {
		t.Helper()
		s.waitProfile(t, dupUser, 0, func(p *Profile) error {
			c := p.Computed
			if c.EventCounts["Sentinel"] != n {
				return fmt.Errorf("event_counts[Sentinel] = %d, want %d", c.EventCounts["Sentinel"], n)
			}
			if c.EventCounts["Dup Test"] != 1 || c.EventCount != total {
				return fmt.Errorf("after %d sentinels: event_counts %v, event_count %d; want Dup Test 1, event_count %d (a duplicate counted?)",
					n, c.EventCounts, c.EventCount, total)
			}
			return nil
		})
	}
	dup := track("dup-1", dupUser, "Dup Test")
	s.mustPostEvents(t, "/v1/track", dup)
	s.mustPostEvents(t, "/v1/track", dup)
	s.mustPostEvents(t, "/v1/batch", map[string]any{"batch": []any{dup, track("sentinel-1", dupUser, "Sentinel")}})
	waitSentinels(1, 2)

	s.stopClean(t)
	s = startServer(t, dir)
	s.mustPostEvents(t, "/v1/track", dup)
	s.mustPostEvents(t, "/v1/batch", map[string]any{"batch": []any{track("sentinel-2", dupUser, "Sentinel"), dup}})
	waitSentinels(2, 3)
	// And after a crash.
	s.kill(t)
	s = startServer(t, dir)
	s.mustPostEvents(t, "/v1/batch", map[string]any{"batch": []any{dup, track("sentinel-3", dupUser, "Sentinel")}})
	waitSentinels(3, 4)
	n := 0
	for _, e := range s.timeline(t, dupUser) {
		if e.MessageID == "dup-1" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("timeline of %s lists dup-1 %d times, want 1", dupUser, n)
	}
	// The other subtests' profiles survived the restart too.
	if p, ok := s.getProfile(t, "gzip-user"); !ok || p.Computed.EventCounts["Zipped"] != 2 {
		t.Errorf("after a restart gzip-user is %v %+v, want Zipped 2", ok, p.Computed.EventCounts)
	}
}

// TestProfileMerge links two existing profiles with one identify and checks
// the younger is merged into the older, and both old ids keep resolving.
func TestProfileMerge(t *testing.T) {
	s := startServer(t, t.TempDir())
	s.mustPostEvents(t, "/v1/track", map[string]any{"messageId": "m-1", "anonymousId": "merge-anon", "event": "Product Viewed",
		"properties": map[string]any{"product_id": "sku-m"}, "timestamp": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)})
	older := s.waitProfile(t, "merge-anon", 0, func(p *Profile) error { return nil })
	s.mustPostEvents(t, "/v1/track", track("m-2", "merge-user", "Signed In"))
	younger := s.waitProfile(t, "merge-user", 0, func(p *Profile) error { return nil })
	if older.ID == younger.ID {
		t.Fatalf("two unlinked identities share profile %s", older.ID)
	}
	s.mustPostEvents(t, "/v1/identify", map[string]any{"messageId": "m-3", "userId": "merge-user", "anonymousId": "merge-anon",
		"traits": map[string]any{"email": "Merge.User@Example.com"}})
	merged := s.waitProfile(t, "merge-user", 0, func(p *Profile) error {
		if p.Computed.EventCount != 3 || !p.hasIdentity("anonymous_id", "merge-anon") {
			return fmt.Errorf("event_count %d, identities %v: want 3 events and merge-anon", p.Computed.EventCount, p.Identities)
		}
		return nil
	})
	if merged.ID != older.ID {
		t.Errorf("merged profile is %s, want the older %s", merged.ID, older.ID)
	}
	for _, id := range []string{older.ID, younger.ID, "merge-anon", "email:merge.user@example.com", "Merge.User@Example.com"} {
		if p, ok := s.getProfile(t, id); !ok || p.ID != merged.ID {
			t.Errorf("GET /api/profiles/%s: found=%v %q, want %s", id, ok, p.ID, merged.ID)
		}
	}
	if !merged.Computed.viewed("sku-m") {
		t.Errorf("recently_viewed %v lost the anonymous view of sku-m", merged.Computed.RecentlyViewed)
	}
	var found struct {
		Profiles []Profile `json:"profiles"`
	}
	code, body := s.adminGet(t, "/api/profiles?trait=email&value=MERGE.USER@example.com&limit=10", &found)
	if code != http.StatusOK || len(found.Profiles) != 1 || found.Profiles[0].ID != merged.ID {
		t.Errorf("GET /api/profiles?trait=email&value=...: %d %s, want the merged profile", code, body)
	}
}
