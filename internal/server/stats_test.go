package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLiveStreamOutlivesRequestDeadlines opens the live events stream on a
// server whose read and write deadlines are 1 s, and sees an event sent
// after them arrive; the server then shuts down with the stream open.
func TestLiveStreamOutlivesRequestDeadlines(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(c *Config) {
		c.HeaderReadTimeout, c.BodyReadTimeout, c.WriteTimeout = time.Second, time.Second, time.Second
	}, nil)
	req, _ := http.NewRequest("GET", n.url+"/api/events/stream?source=default", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("stream without credentials: %v %v, want 401", resp.StatusCode, err)
	}
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	frames := make(chan [2]string, 16)
	go func() {
		r := bufio.NewReader(resp.Body)
		var name string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				close(frames)
				return
			}
			line = strings.TrimSpace(line)
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				frames <- [2]string{name, v}
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond) // past both deadlines
	code, _ := n.post("/v1/batch", `{"batch":[{"type":"track","userId":"u-live","event":"Late Event"},{"type":"track","event":"No Id"}]}`)
	if code != 200 {
		t.Fatalf("batch: %d", code)
	}
	want := map[string]bool{"accepted": false, "rejected": false}
	deadline := time.After(5 * time.Second)
	for !want["accepted"] || !want["rejected"] {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("stream ended before both events arrived (%v)", want)
			}
			var e struct {
				SourceID string `json:"source_id"`
				Event    string `json:"event"`
				Reason   string `json:"reason"`
			}
			if err := json.Unmarshal([]byte(f[1]), &e); err != nil || e.SourceID != "default" {
				t.Fatalf("frame %v: %v", f, err)
			}
			want[f[0]] = true
		case <-deadline:
			t.Fatalf("after 5 s: %v", want)
		}
	}

	// The overview's figures count the same messages.
	code, st := n.get("/api/stats?range=hour")
	cur, _ := st["current"].(map[string]any)
	if code != 200 || cur["rejected_total"] != 1.0 || cur["rejected_last_hour"] != 1.0 {
		t.Errorf("stats: %d %v, want 1 rejected in total and in the last hour", code, cur)
	}

	// Shutdown ends the open stream instead of waiting for it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := n.srv.Close(ctx); err != nil {
		t.Fatalf("close with a stream open: %v", err)
	}
	n.srv = nil
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("close took %v with a stream open", d)
	}
}

// TestStatsSurviveRestart checks the rings are saved at shutdown and read
// at the next start.
func TestStatsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	if code, _ := n.post("/v1/batch", `{"batch":[{"type":"track","event":"No Id"},{"type":"track"}]}`); code != 400 {
		t.Fatalf("all-rejected batch: %d, want 400", code)
	}
	n.stop() // samples and saves
	n = startNode(t, dir)
	code, st := n.get("/api/stats")
	cur, _ := st["current"].(map[string]any)
	if code != 200 || cur["rejected_last_hour"] != 2.0 || cur["rejected_total"] != 0.0 {
		t.Errorf("after restart: %d %v, want 2 rejected in the last hour (saved), 0 since this start", code, cur)
	}
	if code, body := n.get("/api/stats?range=year"); code != 400 || !strings.Contains(fmt.Sprint(body), "range: one of hour, day, week") {
		t.Errorf("range=year: %d %v, want 400 naming range", code, body)
	}
}
