package loadgen

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Source produces Segment messages, one JSON object per call of fn; the bytes
// are only valid during the call.
type Source func(fn func(msg []byte) error) error

// Default corpus limits: enough distinct bodies that a pass over them lasts
// seconds at the rates one machine reaches, small enough to render in about a
// second.
const (
	DefaultMaxMessages = 200_000
	DefaultMaxBytes    = 200 << 20
)

// CorpusConfig says which messages to pre-render and how to group them.
type CorpusConfig struct {
	Source      Source // required
	Batch       int    // messages per request body; 1 posts each message to its type's path
	MaxMessages int    // default DefaultMaxMessages
	MaxBytes    int    // default DefaultMaxBytes (bytes of rendered bodies)
}

// Request paths; a body's path is an index into paths.
var paths = []string{"/v1/batch", "/v1/identify", "/v1/track", "/v1/page", "/v1/screen", "/v1/group", "/v1/alias"}

const pathBatch = 0

// passDigits is the width of the pass number inside every rewritten messageId
// (hex, so 2^32 passes).
const passDigits = 8

var passZero = strings.Repeat("0", passDigits) + "-"

// Corpus is the template of every request body of a run: the source's messages
// with their messageId rewritten to "<runID>-<pass>-<index>", grouped into
// bodies, rendered back to back in one arena. A pass is a copy of the arena
// whose messageIds carry a pass number never used before; the next pass over
// the same copy only overwrites those digits, so each pass sends the same
// events under fresh, run-unique message ids at almost no cost.
//
// A Corpus is immutable once built, except for the pass counter and the spare
// copies of the arena that cursors borrow and give back (so that the target run
// reuses the ceiling run's copies instead of allocating hundreds of MB again).
type Corpus struct {
	RunID   string
	arena   []byte
	msgs    []span // each message, inside arena
	bodies  []bodySpan
	patches []int // arena offset of each message's passDigits pass number
	passes  atomic.Uint32

	mu    sync.Mutex
	spare [][]byte // copies of arena a finished cursor gave back
}

type span struct{ off, end int }

type bodySpan struct {
	span
	events int
	path   int
}

var errEnough = errors.New("corpus full")

// BuildCorpus renders the source's messages, up to the configured limits.
func BuildCorpus(cfg CorpusConfig) (*Corpus, error) {
	if cfg.Batch < 1 {
		return nil, fmt.Errorf("batch must be at least 1, got %d", cfg.Batch)
	}
	if cfg.MaxMessages <= 0 {
		cfg.MaxMessages = DefaultMaxMessages
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	c := &Corpus{RunID: hex.EncodeToString(id[:])}
	var idBuf []byte
	open := -1 // index in c.bodies of the batch body being filled, or -1
	closeBody := func() {
		c.arena = append(c.arena, "]}"...)
		c.bodies[open].end = len(c.arena)
		open = -1
	}
	err := cfg.Source(func(msg []byte) error {
		if len(c.msgs) >= cfg.MaxMessages || len(c.arena)+len(msg)+64 > cfg.MaxBytes {
			return errEnough
		}
		n := len(c.msgs)
		if !json.Valid(msg) {
			return fmt.Errorf("message %d is not valid JSON: %.200s", n, msg)
		}
		idBuf = append(idBuf[:0], c.RunID...)
		idBuf = append(idBuf, '-')
		passAt := len(idBuf)
		idBuf = append(idBuf, passZero...)
		idBuf = strconv.AppendInt(idBuf, int64(n), 10)
		if cfg.Batch > 1 {
			if open < 0 {
				open = len(c.bodies)
				c.bodies = append(c.bodies, bodySpan{span: span{off: len(c.arena)}, path: pathBatch})
				c.arena = append(c.arena, `{"batch":[`...)
			} else {
				c.arena = append(c.arena, ',')
			}
		}
		start := len(c.arena)
		arena, idAt, typ, err := appendWithMessageID(c.arena, msg, idBuf)
		if err != nil {
			return fmt.Errorf("message %d: %w", n, err)
		}
		c.arena = arena
		c.msgs = append(c.msgs, span{start, len(c.arena)})
		c.patches = append(c.patches, idAt+passAt)
		if cfg.Batch > 1 {
			c.bodies[open].events++
			if c.bodies[open].events == cfg.Batch {
				closeBody()
			}
			return nil
		}
		p := pathOf(typ)
		if p < 0 {
			return fmt.Errorf("message %d: unknown type %q", n, typ)
		}
		c.bodies = append(c.bodies, bodySpan{span: span{start, len(c.arena)}, events: 1, path: p})
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	if open >= 0 {
		closeBody()
	}
	if len(c.msgs) == 0 {
		return nil, errors.New("the source produced no messages")
	}
	return c, nil
}

func pathOf(typ []byte) int {
	for i, p := range paths[1:] {
		if string(typ) == p[len("/v1/"):] {
			return i + 1
		}
	}
	return -1
}

// appendWithMessageID appends msg to dst with its top-level messageId set to
// id (added as the first member when msg has none). It returns the offset in
// dst of the first byte of id and msg's raw top-level "type" value.
func appendWithMessageID(dst, msg, id []byte) (out []byte, idAt int, typ []byte, err error) {
	vs, ve := -1, -1
	err = scanObject(msg, func(key []byte, s, e int) {
		switch string(key) {
		case "messageId":
			vs, ve = s, e
		case "type":
			if msg[s] == '"' {
				typ = msg[s+1 : e-1]
			}
		}
	})
	if err != nil {
		return dst, 0, nil, err
	}
	if vs < 0 {
		// Insert as the first member, right after '{'.
		brace := bytes.IndexByte(msg, '{')
		dst = append(dst, msg[:brace+1]...)
		dst = append(dst, `"messageId":"`...)
		idAt = len(dst)
		dst = append(dst, id...)
		dst = append(dst, '"')
		if rest := msg[brace+1:]; bytes.TrimSpace(rest)[0] != '}' {
			dst = append(dst, ',')
		}
		return append(dst, msg[brace+1:]...), idAt, typ, nil
	}
	dst = append(dst, msg[:vs]...)
	dst = append(dst, '"')
	idAt = len(dst)
	dst = append(dst, id...)
	dst = append(dst, '"')
	return append(dst, msg[ve:]...), idAt, typ, nil
}

// Messages is the number of distinct messages in one pass.
func (c *Corpus) Messages() int { return len(c.msgs) }

// Bodies is the number of request bodies in one pass.
func (c *Corpus) Bodies() int { return len(c.bodies) }

// Bytes is the size of one pass's bodies.
func (c *Corpus) Bytes() int { return len(c.arena) }

// message returns message i of the template pass.
func (c *Corpus) message(i int) []byte { m := c.msgs[i]; return c.arena[m.off:m.end] }

// stamp overwrites the pass number of every messageId in arena (a copy of
// the corpus bodies) with a pass number never used before by this corpus.
func (c *Corpus) stamp(arena []byte) {
	pass := c.passes.Add(1) - 1
	var digits [passDigits]byte
	const hexDigits = "0123456789abcdef"
	for i := range digits {
		digits[passDigits-1-i] = hexDigits[(pass>>(4*uint(i)))&0xf]
	}
	for _, at := range c.patches {
		copy(arena[at:at+passDigits], digits[:])
	}
}

// render returns a copy of the bodies under a new pass number: a spare one if
// there is one, else a fresh one.
func (c *Corpus) render() []byte {
	c.mu.Lock()
	var buf []byte
	if n := len(c.spare); n > 0 {
		buf, c.spare = c.spare[n-1], c.spare[:n-1]
	}
	c.mu.Unlock()
	if buf == nil {
		buf = make([]byte, len(c.arena))
		copy(buf, c.arena)
	}
	c.stamp(buf)
	return buf
}

// giveBack returns a copy obtained from render for reuse.
func (c *Corpus) giveBack(buf []byte) {
	c.mu.Lock()
	c.spare = append(c.spare, buf)
	c.mu.Unlock()
}
