package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// crashLoad records what the load generator sent and what the server acked,
// over every round of TestCrashRecovery.
type crashLoad struct {
	seed uint64

	mu       sync.Mutex
	sentBy   map[string]string // messageId -> userId, recorded before the request
	ackedBy  map[string]string // messageId -> userId, for 2xx answers
	requests int
	ackedReq int
	rejected []string // messages a 2xx batch answer rejected (must not happen)
	statuses map[int]int
}

const crashUsers = 200

func (l *crashLoad) perUser(m map[string]string) map[string][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]string{}
	for mid, u := range m {
		out[u] = append(out[u], mid)
	}
	return out
}

func (l *crashLoad) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ackedBy)
}

// TestCrashRecovery checks that an acknowledged event survives SIGKILL: load
// the server from 8 goroutines, kill it mid-load, restart it on the same data
// directory and find the acked events in the profiles; do it again on the
// recovered data directory; then check the stored profiles equal a clean
// replay of the log (tailor verify).
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	load := &crashLoad{
		seed:     uint64(time.Now().UnixNano()),
		sentBy:   map[string]string{},
		ackedBy:  map[string]string{},
		statuses: map[int]int{},
	}
	t.Logf("load seed %d", load.seed)

	s := startServer(t, dir)
	for round := 1; round <= 2; round++ {
		minLoad := 3 * time.Second
		if round > 1 {
			minLoad = 1500 * time.Millisecond
		}
		crashRound(t, s, load, round, minLoad, 400)
		restart := time.Now()
		s = startServer(t, dir)
		t.Logf("round %d: restarted and ready in %v", round, time.Since(restart).Round(time.Millisecond))
		// The log trains its compression dictionary from its first 2,000
		// messages, in the background: well past that, the events read back
		// here (timelines, the replay after the kill, verify) were stored
		// compressed, with a dictionary the kill did not lose.
		dict := promSum(t, s, "tailor_log_dictionary")
		t.Logf("round %d: %d events acked so far, compression dictionary %v", round, load.acked(), dict)
		if load.acked() > 20000 && dict < 1 {
			t.Errorf("round %d: %d events acked and no compression dictionary", round, load.acked())
		}
		checkAcked(t, s, load, round)
	}

	// A clean stop, then the whole log replayed from scratch must give the
	// same profiles as the ones stored.
	s.stopClean(t)
	out := runTailor(t, 5*time.Minute, "verify", "--data-dir", dir)
	if !strings.Contains(out, "identical") {
		t.Errorf("tailor verify exited 0 but did not say `identical`:\n%s", out)
	}
	t.Logf("tailor verify: %s", strings.TrimSpace(tail(out, 3)))
}

// crashRound loads s from 8 goroutines with single /v1/track and /v1/batch
// requests until at least minLoad has passed and minAcked more messages were
// acked, then SIGKILLs it while requests are in flight.
func crashRound(t *testing.T, s *server, load *crashLoad, round int, minLoad time.Duration, minAcked int) {
	t.Helper()
	const (
		workers = 8
		maxLoad = 30 * time.Second
	)
	client := &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	auth := basicAuth(s.WriteKey)
	stop := make(chan struct{})
	var inflight atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(load.seed, uint64(round*100+w)))
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				path, n := "/v1/track", 1
				if rng.IntN(2) == 0 {
					path, n = "/v1/batch", 1+rng.IntN(20)
				}
				msgs := make([]map[string]any, n)
				mids := make([]string, n)
				owners := make([]string, n)
				for i := range msgs {
					u := fmt.Sprintf("crash-user-%03d", rng.IntN(crashUsers))
					mid := fmt.Sprintf("crash-r%d-w%d-%06d-%02d", round, w, seq, i)
					now := time.Now().UTC().Format(time.RFC3339Nano)
					m := map[string]any{
						"type": "track", "messageId": mid, "userId": u, "timestamp": now,
						"event":      []string{"Product Viewed", "Product Added", "Signed In"}[rng.IntN(3)],
						"properties": map[string]any{"product_id": fmt.Sprintf("sku-%d", rng.IntN(50)), "seq": seq, "i": i},
					}
					if path == "/v1/batch" && rng.IntN(10) == 0 {
						m = map[string]any{
							"type": "identify", "messageId": mid, "userId": u, "timestamp": now,
							"traits": map[string]any{"email": u + "@example.com", "plan": []string{"free", "pro"}[rng.IntN(2)]},
						}
					}
					msgs[i], mids[i], owners[i] = m, mid, u
				}
				var body []byte
				if path == "/v1/batch" {
					body, _ = json.Marshal(map[string]any{"batch": msgs})
				} else {
					body, _ = json.Marshal(msgs[0])
				}
				load.mu.Lock()
				for i, mid := range mids {
					load.sentBy[mid] = owners[i]
				}
				load.requests++
				load.mu.Unlock()

				req, _ := http.NewRequest(http.MethodPost, s.URL+path, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", auth)
				inflight.Add(1)
				resp, err := client.Do(req)
				inflight.Add(-1)
				if err != nil {
					time.Sleep(20 * time.Millisecond) // the server is gone; don't spin
					continue
				}
				rb, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				load.mu.Lock()
				load.statuses[resp.StatusCode]++
				if rerr == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
					var ack ackBody
					_ = json.Unmarshal(rb, &ack)
					rejected := map[int]bool{}
					for _, r := range ack.Rejected {
						rejected[r.Index] = true
						load.rejected = append(load.rejected, fmt.Sprintf("%s index %d: %s", path, r.Index, r.Reason))
					}
					for i, mid := range mids {
						if !rejected[i] {
							load.ackedBy[mid] = owners[i]
						}
					}
					load.ackedReq++
				}
				load.mu.Unlock()
			}
		})
	}

	before := load.acked()
	start := time.Now()
	for {
		time.Sleep(100 * time.Millisecond)
		acked := load.acked() - before
		el := time.Since(start)
		if el >= minLoad && acked >= minAcked {
			break
		}
		if el > maxLoad {
			close(stop)
			wg.Wait()
			t.Fatalf("round %d: the server acked only %d messages in %v (statuses %v)", round, acked, el, load.statuses)
		}
	}
	inFlightAtKill := inflight.Load()
	s.kill(t)
	killedAt := time.Since(start)
	time.Sleep(300 * time.Millisecond) // let the workers see the dead server
	close(stop)
	wg.Wait()

	load.mu.Lock()
	defer load.mu.Unlock()
	t.Logf("round %d: SIGKILL after %v with %d requests in flight; so far %d requests (%d acked), %d messages sent, %d acked; statuses %v",
		round, killedAt.Round(time.Millisecond), inFlightAtKill, load.requests, load.ackedReq, len(load.sentBy), len(load.ackedBy), load.statuses)
	if len(load.rejected) > 0 {
		t.Errorf("the server rejected %d valid messages, e.g. %q", len(load.rejected), load.rejected[:min(3, len(load.rejected))])
	}
	if inFlightAtKill == 0 {
		t.Logf("note: no request was in flight at the moment of SIGKILL")
	}
}

// checkAcked looks for every acked message in the timelines of the restarted
// server (a superset of "a sample of 300 plus all of one user's": the
// timelines are cheap to read) and checks each user's event_count lies
// between its acked and its sent messages.
func checkAcked(t *testing.T, s *server, load *crashLoad, round int) {
	t.Helper()
	ackedPerUser := load.perUser(load.ackedBy)
	sentPerUser := load.perUser(load.sentBy)
	start := time.Now()
	checked, events := 0, 0
	for _, u := range sortedKeys(ackedPerUser) {
		acked, sent := len(ackedPerUser[u]), len(sentPerUser[u])
		tl := s.waitTimeline(t, u, ackedPerUser[u], 30*time.Second)
		checked += acked
		events += len(tl)
		seen := map[string]bool{}
		for _, e := range tl {
			if seen[e.MessageID] {
				t.Errorf("timeline of %s lists %s twice", u, e.MessageID)
			}
			seen[e.MessageID] = true
			if e.UserID != u {
				t.Errorf("timeline of %s holds %s of user %q", u, e.MessageID, e.UserID)
			}
		}
		if len(tl) < acked || len(tl) > sent {
			t.Errorf("timeline of %s has %d events; acked %d, sent %d", u, len(tl), acked, sent)
		}
		s.waitProfile(t, u, 30*time.Second, func(p *Profile) error {
			if n := p.Computed.EventCount; n < acked || n > sent {
				return fmt.Errorf("event_count %d, want between %d acked and %d sent", n, acked, sent)
			}
			if n := p.Computed.EventCount; n != len(tl) {
				return fmt.Errorf("event_count %d, but the timeline lists %d events", n, len(tl))
			}
			return nil
		})
	}
	t.Logf("round %d: all %d acked messages of %d users are in their timelines (%d events, read in %v)",
		round, checked, len(ackedPerUser), events, time.Since(start).Round(time.Millisecond))
}
