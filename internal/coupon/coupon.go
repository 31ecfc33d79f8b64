// Package coupon keeps pools of unique coupon codes and hands them out one
// per send: the same send key always gets the same code and no code is ever
// given twice, also across a crash, because a claim moves the code from the
// pool to the send key in one synced batch.
package coupon

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"tailor/internal/apierr"
	"tailor/internal/store"
)

// Keys under store.PrefixCoupon:
//
//	cp/a/<pool>\x00<seq:8>     -> code   available, in upload order
//	cp/k/<pool>\x00<send key>  -> code   claimed by that send
//	cp/u/<pool>\x00<code>      -> ""     every code ever uploaded (never re-added)
const (
	availPrefix = store.PrefixCoupon + "a/"
	claimPrefix = store.PrefixCoupon + "k/"
	seenPrefix  = store.PrefixCoupon + "u/"
)

// ErrEmpty is a claim from a pool with no code left.
var ErrEmpty = errors.New("coupon pool is empty")

// Pools hands out codes.
type Pools struct {
	db *pebble.DB
	mu sync.Mutex // claims and uploads of all pools: a claim is one read and one batch
}

// New returns the pools stored in db.
func New(db *pebble.DB) *Pools { return &Pools{db: db} }

var poolPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`)

// ValidPool reports whether name can name a pool.
func ValidPool(name string) bool { return poolPattern.MatchString(name) }

func key(prefix, pool, rest string) []byte { return store.Key(prefix, pool+"\x00"+rest) }

// Claim returns pool's code for sendKey: the one claimed before, else the
// oldest available one, claimed durably before it is returned.
func (p *Pools) Claim(pool, sendKey string) (string, error) {
	if !ValidPool(pool) {
		return "", fmt.Errorf("coupon pool name %q is not valid", pool)
	}
	if sendKey == "" {
		return "", errors.New("coupon claim needs a send key")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ck := key(claimPrefix, pool, sendKey)
	if v, c, err := p.db.Get(ck); err == nil {
		code := string(v)
		c.Close()
		return code, nil
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return "", fmt.Errorf("read coupon claim: %w", err)
	}
	lo := key(availPrefix, pool, "")
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: store.UpperBound(string(lo))})
	if err != nil {
		return "", fmt.Errorf("coupon pool %s: %w", pool, err)
	}
	if !it.First() {
		it.Close()
		return "", fmt.Errorf("%w: %q", ErrEmpty, pool)
	}
	ak := append([]byte(nil), it.Key()...)
	code := string(it.Value())
	if err := it.Close(); err != nil {
		return "", fmt.Errorf("coupon pool %s: %w", pool, err)
	}
	b := p.db.NewBatch()
	defer b.Close()
	_ = b.Delete(ak, nil)
	_ = b.Set(ck, []byte(code), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return "", fmt.Errorf("claim coupon from %s: %w", pool, err)
	}
	return code, nil
}

// Counts are a pool's figures.
type Counts struct {
	Pool      string `json:"pool"`
	Available int    `json:"available"`
	Claimed   int    `json:"claimed"`
	Uploaded  int    `json:"uploaded"`
}

func (p *Pools) count(prefix, pool string) (int, error) {
	lo := key(prefix, pool, "")
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: store.UpperBound(string(lo))})
	if err != nil {
		return 0, err
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	return n, it.Close()
}

// Available is how many codes pool has left.
func (p *Pools) Available(pool string) (int, error) { return p.count(availPrefix, pool) }

// Counts returns pool's figures.
func (p *Pools) Counts(pool string) (Counts, error) {
	c := Counts{Pool: pool}
	var err error
	if c.Available, err = p.count(availPrefix, pool); err != nil {
		return c, err
	}
	if c.Claimed, err = p.count(claimPrefix, pool); err != nil {
		return c, err
	}
	c.Uploaded, err = p.count(seenPrefix, pool)
	return c, err
}

// Add uploads codes to pool; a code uploaded before (given out or not) is
// skipped, so re-uploading a file never hands a code out twice. It returns
// how many were added.
func (p *Pools) Add(pool string, codes []string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	seq, err := p.lastSeq(pool)
	if err != nil {
		return 0, err
	}
	b := p.db.NewBatch()
	defer b.Close()
	added := 0
	inBatch := map[string]bool{}
	for _, c := range codes {
		sk := key(seenPrefix, pool, c)
		if inBatch[c] {
			continue
		}
		if _, cl, err := p.db.Get(sk); err == nil {
			cl.Close()
			continue
		} else if !errors.Is(err, pebble.ErrNotFound) {
			return 0, fmt.Errorf("coupon upload: %w", err)
		}
		inBatch[c] = true
		seq++
		ak := binary.BigEndian.AppendUint64(key(availPrefix, pool, ""), seq)
		_ = b.Set(sk, nil, nil)
		_ = b.Set(ak, []byte(c), nil)
		added++
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("coupon upload to %s: %w", pool, err)
	}
	return added, nil
}

// lastSeq is the highest sequence number in pool's available codes; 0
// when none is left, which is safe: a claimed code's key is gone, so a new
// one reusing its number cannot clash.
func (p *Pools) lastSeq(pool string) (uint64, error) {
	lo := key(availPrefix, pool, "")
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: store.UpperBound(string(lo))})
	if err != nil {
		return 0, err
	}
	var seq uint64
	if it.Last() && len(it.Key()) == len(lo)+8 {
		seq = binary.BigEndian.Uint64(it.Key()[len(lo):])
	}
	return seq, it.Close()
}

const maxUpload = 16 << 20

// Handler serves POST /api/coupons/{pool} (a JSON list of codes, or text
// with one code a line) and GET /api/coupons/{pool} (counts).
func (p *Pools) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/coupons/{pool}", func(w http.ResponseWriter, r *http.Request) {
		pool := r.PathValue("pool")
		if !ValidPool(pool) {
			apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.BadRequest, "pool %q: use 1-64 letters, digits, - or _", pool))
			return
		}
		c, err := p.Counts(pool)
		if err != nil {
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
		apierr.WriteJSON(w, http.StatusOK, c)
	})
	mux.HandleFunc("POST /api/coupons/{pool}", func(w http.ResponseWriter, r *http.Request) {
		pool := r.PathValue("pool")
		if !ValidPool(pool) {
			apierr.WriteError(w, r, apierr.Plain, apierr.Errorf(apierr.BadRequest, "pool %q: use 1-64 letters, digits, - or _", pool))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpload))
		if err != nil {
			apierr.WriteError(w, r, apierr.Plain, apierr.New(apierr.TooLarge, "coupon upload is over 16 MB; upload in parts"))
			return
		}
		codes, err := parseCodes(body, r.Header.Get("Content-Type"))
		if err != nil {
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
		n, err := p.Add(pool, codes)
		if err != nil {
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
		c, err := p.Counts(pool)
		if err != nil {
			apierr.WriteError(w, r, apierr.Plain, err)
			return
		}
		apierr.WriteJSON(w, http.StatusOK, map[string]any{"added": n, "skipped": len(codes) - n, "counts": c})
	})
	return mux
}

var codePattern = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)

func parseCodes(body []byte, ctype string) ([]string, error) {
	var codes []string
	t := bytes.TrimSpace(body)
	if strings.HasPrefix(ctype, "application/json") || bytes.HasPrefix(t, []byte("[")) || bytes.HasPrefix(t, []byte("{")) {
		if bytes.HasPrefix(t, []byte("{")) {
			var o struct {
				Codes []string `json:"codes"`
			}
			if err := json.Unmarshal(t, &o); err != nil {
				return nil, apierr.Errorf(apierr.InvalidJSON, `body is not a JSON list of codes or {"codes":[...]}: %v`, err)
			}
			codes = o.Codes
		} else if err := json.Unmarshal(t, &codes); err != nil {
			return nil, apierr.Errorf(apierr.InvalidJSON, "body is not a JSON list of codes: %v", err)
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(t))
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				codes = append(codes, l)
			}
		}
	}
	if len(codes) == 0 {
		return nil, apierr.New(apierr.BadRequest, "no codes in the body: send a JSON list or one code a line")
	}
	for i, c := range codes {
		if !codePattern.MatchString(c) {
			return nil, apierr.Errorf(apierr.BadRequest, "code %d (%q): want 1-128 printable characters without spaces", i+1, c)
		}
	}
	return codes, nil
}
