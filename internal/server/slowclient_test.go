package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowUpload opens a connection, sends the headers of a POST with a body of
// size bytes, and then one byte every gap until the server answers, closes
// the connection, or ctx ends. It returns the status the server answered
// (0 if none) and how long the connection lasted.
func slowUpload(ctx context.Context, addr, path, auth string, size int, gap time.Duration) (int, time.Duration, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	hdr := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: tailor\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n", path, size)
	if auth != "" {
		hdr += "Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(c, hdr+"\r\n"+`{"writeKey":"wk",`); err != nil {
		return 0, 0, err
	}
	answered := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	tick := time.NewTicker(gap)
	defer tick.Stop()
	for {
		select {
		case code := <-answered:
			return code, time.Since(start), nil
		case <-ctx.Done():
			return 0, time.Since(start), ctx.Err()
		case <-tick.C:
			// Errors are expected once the server gives up on us; the
			// reader reports how it ended.
			_, _ = c.Write([]byte(" "))
		}
	}
}

// TestSlowUploadCutOff checks the body-read deadline: a client with a valid
// key that trickles its body is answered 408 once the deadline passes,
// instead of holding its connection for as long as it likes.
func TestSlowUploadCutOff(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(c *Config) { c.HeaderReadTimeout, c.BodyReadTimeout = 300*time.Millisecond, 500*time.Millisecond }, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	auth := "Basic d2s6" // wk:
	code, took, err := slowUpload(ctx, strings.TrimPrefix(n.url, "http://"), "/v1/batch", auth, 4096, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("slow upload still open after %s: %v", took, err)
	}
	if code != http.StatusRequestTimeout || took > 3*time.Second {
		t.Fatalf("slow upload answered %d after %s, want 408 soon after the 500ms deadline", code, took)
	}
}

// TestSlowFloodDoesNotStarveKeyedClients floods the Tracking API with slow
// uploads that carry no key in the header (many connections trickling their
// bodies, three times the connection bound) and checks that a client sending
// its key in the header is served promptly meanwhile. The control case lifts
// the body-keyed budget (as before it existed; configuration refuses this),
// to show what the budget prevents; its figures are logged, not checked.
func TestSlowFloodDoesNotStarveKeyedClients(t *testing.T) {
	const conns = 16
	tests := []struct {
		name    string
		budget  int
		control bool
	}{
		{"body-keyed budget of 4", 4, false},
		{"control: no body-keyed budget", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := startNodeWith(t, t.TempDir(), func(c *Config) {
				c.MaxConnections, c.MaxBodyKeyedRequests = conns, max(tt.budget, 1)
				c.HeaderReadTimeout, c.BodyReadTimeout = 500*time.Millisecond, time.Second
			}, func(s *Server) {
				if tt.control {
					s.Ingest.BodyKeyedLimit = 1 << 20
				}
			})
			addr := strings.TrimPrefix(n.url, "http://")
			flood, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var refused atomic.Int64
			for i := 0; i < 3*conns; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for flood.Err() == nil {
						if code, _, _ := slowUpload(flood, addr, "/v1/t", "", 4096, 50*time.Millisecond); code == http.StatusServiceUnavailable {
							refused.Add(1)
						}
					}
				}()
			}
			time.Sleep(300 * time.Millisecond) // let the flood take its connections

			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2500 * time.Millisecond}
			var worst time.Duration
			served, attempts := 0, 3
			if tt.control {
				attempts = 1 // each may wait out the client's timeout
			}
			for i := 0; i < attempts; i++ {
				req, _ := http.NewRequest("POST", n.url+"/v1/track", strings.NewReader(`{"userId":"u","event":"During flood"}`))
				req.SetBasicAuth("wk", "")
				start := time.Now()
				resp, err := client.Do(req)
				took := time.Since(start)
				worst = max(worst, took)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						served++
					}
				}
			}
			stop()
			wg.Wait()
			t.Logf("keyed client: %d of %d served, slowest %s; flood requests refused: %d", served, attempts, worst.Round(time.Millisecond), refused.Load())
			if tt.control {
				return
			}
			if served != attempts || worst > time.Second {
				t.Errorf("keyed client under a slow flood: %d of %d served, slowest %s; want all within 1s", served, attempts, worst)
			}
			if refused.Load() == 0 {
				t.Error("no flood request was refused: the body-keyed budget did not apply")
			}
		})
	}
}

func TestConfigValidatesClientBounds(t *testing.T) {
	tests := []struct {
		name string
		tune func(*Config)
		want string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no body deadline", func(c *Config) { c.BodyReadTimeout = 0 }, "--body-read-timeout must be positive"},
		{"no write deadline", func(c *Config) { c.WriteTimeout = -time.Second }, "--write-timeout must be positive"},
		{"header deadline past the body's", func(c *Config) { c.HeaderReadTimeout = 2 * c.BodyReadTimeout }, "must not be longer than --body-read-timeout"},
		{"one connection", func(c *Config) { c.MaxConnections = 1 }, "--max-connections must be at least 2"},
		{"body-keyed budget of every connection", func(c *Config) { c.MaxBodyKeyedRequests = c.MaxConnections }, "below --max-connections"},
		{"no body-keyed budget", func(c *Config) { c.MaxBodyKeyedRequests = 0 }, "--max-body-keyed-requests must be at least 1"},
		// Not a client bound, but a bound of the same kind: the stores' jobs.
		{"unpaced jobs", func(c *Config) { c.FlushDuty, c.CompactionDuty = 0, 0 }, ""},
		{"full duty", func(c *Config) { c.FlushDuty, c.CompactionDuty = 1, 1 }, ""},
		{"negative flush duty", func(c *Config) { c.FlushDuty = -0.1 }, "--flush-duty must be between 0"},
		{"compaction duty over 1", func(c *Config) { c.CompactionDuty = 1.5 }, "--compaction-duty must be between 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.tune(&c)
			err := c.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestRefusedBeforeBodyAnswersCleanly checks that a request refused on its
// header's write key, before its body is read, still gets its 401: the
// connection is closed only after the body drained, not reset under the
// answer.
func TestRefusedBeforeBodyAnswersCleanly(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(*Config) {}, nil)
	body := `{"batch":[` + strings.Repeat(`{"type":"track","userId":"u","event":"e"},`, 9000) + `{}]}` // ~400 KB
	for i := 0; i < 10; i++ {
		req, _ := http.NewRequest("POST", n.url+"/v1/batch", strings.NewReader(body))
		req.SetBasicAuth("not-a-key", "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(b), `"code":"bad_write_key"`) {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
}
