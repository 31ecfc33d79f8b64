package loadgen

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// testMessages is a Source of n messages of every type, in the shapes the
// rewriting must cope with: messageId first, last, nested, missing; spacing.
func testMessages(n int) Source {
	return func(fn func([]byte) error) error {
		types := []string{"identify", "track", "page", "screen", "group", "alias"}
		for i := range n {
			var m string
			switch typ := types[i%len(types)]; i % 4 {
			case 0:
				m = fmt.Sprintf(`{"messageId":"m-%d","type":"%s","userId":"u%d","properties":{"messageId":"nested"}}`, i, typ, i%50)
			case 1:
				m = fmt.Sprintf(`{"type":"%s","userId":"u%d","event":"Order \"Completed\"","messageId":"m-%d"}`, typ, i%50, i)
			case 2:
				m = fmt.Sprintf(` { "type" : "%s" , "anonymousId" : "a%d", "context":{"list":[1,{"x":"}"}]} } `, typ, i%50)
			case 3:
				m = fmt.Sprintf(`{"type":"%s","messageId":null,"userId":"u%d","timestamp":"2026-01-02T03:04:05.000Z"}`, typ, i%50)
			}
			if err := fn([]byte(m)); err != nil {
				return err
			}
		}
		return nil
	}
}

// decodeBody returns the messages of a request body.
func decodeBody(t testing.TB, body []byte, batch bool) []map[string]any {
	t.Helper()
	if batch {
		var b struct{ Batch []map[string]any }
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatalf("batch body is not valid JSON: %v\n%s", err, body)
		}
		return b.Batch
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not valid JSON: %v\n%s", err, body)
	}
	return []map[string]any{m}
}

func TestCorpusBodies(t *testing.T) {
	const n = 250
	for _, batch := range []int{1, 7, 100, 1000} {
		t.Run(fmt.Sprint("batch ", batch), func(t *testing.T) {
			c, err := BuildCorpus(CorpusConfig{Source: testMessages(n), Batch: batch})
			if err != nil {
				t.Fatal(err)
			}
			if c.Messages() != n {
				t.Fatalf("%d messages, want %d", c.Messages(), n)
			}
			if want := (n + batch - 1) / batch; c.Bodies() != want {
				t.Fatalf("%d bodies, want %d", c.Bodies(), want)
			}
			arena := c.render()
			ids := map[string]bool{}
			total := 0
			for j, b := range c.bodies {
				msgs := decodeBody(t, arena[b.off:b.end], batch > 1)
				if len(msgs) != b.events {
					t.Fatalf("body %d has %d messages, span says %d", j, len(msgs), b.events)
				}
				if want := min(batch, n-total); len(msgs) != want {
					t.Fatalf("body %d has %d messages, want %d", j, len(msgs), want)
				}
				for _, m := range msgs {
					id, _ := m["messageId"].(string)
					if !strings.HasPrefix(id, c.RunID+"-00000000-") || ids[id] {
						t.Fatalf("message %d: messageId %q is not a fresh id of pass 0", total, id)
					}
					ids[id] = true
					if props, ok := m["properties"].(map[string]any); ok && props["messageId"] != "nested" {
						t.Fatalf("a nested messageId was rewritten: %v", m)
					}
					wantPath := "/v1/batch"
					if batch == 1 {
						wantPath = "/v1/" + m["type"].(string)
					}
					if got := paths[b.path]; got != wantPath {
						t.Fatalf("body %d goes to %s, want %s", j, got, wantPath)
					}
					total++
				}
			}
			if total != n {
				t.Fatalf("%d messages in bodies, want %d", total, n)
			}
		})
	}
}

// The demo store's messages (all types) render into bodies the paths know.
func TestCorpusFromDemo(t *testing.T) {
	c, err := BuildCorpus(CorpusConfig{Source: DemoSource(30), Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, b := range c.bodies {
		types[paths[b.path]]++
	}
	if c.Messages() < 30 || types["/v1/identify"] == 0 || types["/v1/track"] == 0 {
		t.Fatalf("%d demo messages by path: %v", c.Messages(), types)
	}
	t.Logf("%d demo messages by path: %v", c.Messages(), types)
}

func TestCorpusLimits(t *testing.T) {
	c, err := BuildCorpus(CorpusConfig{Source: testMessages(1000), Batch: 10, MaxMessages: 95})
	if err != nil {
		t.Fatal(err)
	}
	if c.Messages() != 95 || c.Bodies() != 10 || c.bodies[9].events != 5 {
		t.Fatalf("max messages 95: got %d messages in %d bodies", c.Messages(), c.Bodies())
	}
	c, err = BuildCorpus(CorpusConfig{Source: testMessages(1000), Batch: 1, MaxBytes: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if c.Bytes() > 10000 || c.Messages() < 50 {
		t.Fatalf("max bytes 10000: got %d bytes, %d messages", c.Bytes(), c.Messages())
	}
}

func TestCorpusRejectsBadMessages(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{`{"type":"track"`, "not valid JSON"},
		{`[1,2]`, "not a JSON object"},
		{`{"type":"launch"}`, "unknown type"},
	} {
		src := func(fn func([]byte) error) error { return fn([]byte(tc.msg)) }
		_, err := BuildCorpus(CorpusConfig{Source: src, Batch: 1})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.msg, err, tc.want)
		}
	}
}

// The cursor cycles through the corpus; every pass carries fresh message ids.
func TestCursorPassesAreUnique(t *testing.T) {
	c, err := BuildCorpus(CorpusConfig{Source: testMessages(60), Batch: 7})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for range 2 { // a second cursor (the target run after the ceiling) repeats no id of the first

		k := newCursor(c)
		for i := range 5 * c.Bodies() {
			ls := k.body()
			msgs := decodeBody(t, ls.body, true)
			if len(msgs) != ls.events {
				t.Fatalf("body %d: %d messages, cursor says %d", i, len(msgs), ls.events)
			}
			k.release(ls)
			for _, m := range msgs {
				id := m["messageId"].(string)
				if ids[id] {
					t.Fatalf("messageId %s sent twice", id)
				}
				ids[id] = true
			}
		}
		k.close()
	}
	if len(ids) != 2*5*60 {
		t.Fatalf("%d distinct ids, want %d", len(ids), 2*5*60)
	}
}

func TestCursorBodyDoesNotAllocate(t *testing.T) {
	c, err := BuildCorpus(CorpusConfig{Source: testMessages(5000), Batch: 10})
	if err != nil {
		t.Fatal(err)
	}
	k := newCursor(c)
	defer k.close()
	if n := testing.AllocsPerRun(300, func() { k.release(k.body()) }); n != 0 {
		t.Fatalf("body allocates %.1f times", n)
	}
}

func FuzzAppendWithMessageID(f *testing.F) {
	f.Add(`{"type":"track","messageId":"x"}`)
	f.Add(`{}`)
	f.Add(` { "a" : [ "}" , {"messageId":1} ] } `)
	f.Fuzz(func(t *testing.T, msg string) {
		var before map[string]json.RawMessage
		if json.Unmarshal([]byte(msg), &before) != nil || before == nil {
			return
		}
		out, at, _, err := appendWithMessageID([]byte("prefix"), []byte(msg), []byte("NEW-ID"))
		if err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
		if string(out[at:at+6]) != "NEW-ID" {
			t.Fatalf("id offset %d wrong in %s", at, out)
		}
		var after map[string]json.RawMessage
		if err := json.Unmarshal(out[len("prefix"):], &after); err != nil {
			t.Fatalf("%s -> %s: %v", msg, out, err)
		}
		if string(after["messageId"]) != `"NEW-ID"` || len(after) != len(before)+boolInt(before["messageId"] == nil) {
			t.Fatalf("%s -> %s", msg, out)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Many workers racing through a tiny corpus (a pass every few requests): a
// leased body never changes under its worker, and no id is handed out twice.
func TestCursorConcurrent(t *testing.T) {
	c, err := BuildCorpus(CorpusConfig{Source: testMessages(30), Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	k := newCursor(c)
	defer k.close()
	const workers, each = 8, 1500
	var mu sync.Mutex
	ids := map[string]bool{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []string
			for range each {
				ls := k.body()
				before := string(ls.body)
				runtime.Gosched() // let the renderer run while the lease is held
				if string(ls.body) != before {
					t.Errorf("leased body changed:\n%s\n%s", before, ls.body)
				}
				k.release(ls)
				for _, m := range decodeBody(t, []byte(before), true) {
					mine = append(mine, m["messageId"].(string))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range mine {
				if ids[id] {
					t.Errorf("messageId %s handed out twice", id)
				}
				ids[id] = true
			}
		}()
	}
	wg.Wait()
	if len(ids) < workers*each*3*9/10 {
		t.Errorf("only %d ids for %d leases of 3 messages", len(ids), workers*each)
	}
	t.Logf("%d ids, %d stalls, %d passes", len(ids), k.stalls.Load(), c.passes.Load())
}
