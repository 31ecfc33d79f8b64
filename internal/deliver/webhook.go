package deliver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Webhook POSTs a message's JSON payload to its URL (the rendered To, else
// URL), signed: X-Tailor-Signature is "sha256=" + hex HMAC-SHA256 of
// "<X-Tailor-Timestamp>.<body>" with Secret, so a receiver can check the
// sender and refuse replays of old timestamps.
type Webhook struct {
	URL    string
	Secret string
	Client *http.Client
	Now    func() time.Time
}

// Webhook headers.
const (
	HeaderSignature = "X-Tailor-Signature"
	HeaderTimestamp = "X-Tailor-Timestamp"
	HeaderIdemKey   = "Idempotency-Key"
)

// Sign returns the signature header value of body sent at ts.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Send implements Adapter.
func (w *Webhook) Send(ctx context.Context, env Envelope) (Receipt, error) {
	url := env.To
	if url == "" {
		url = w.URL
	}
	if url == "" {
		return Receipt{}, Permanent(errors.New("webhook: no URL: the message names none and --webhook-url is unset"))
	}
	body := env.JSON
	if len(body) == 0 {
		var err error
		if body, err = json.Marshal(map[string]any{"message_key": env.Key, "profile": env.Profile, "title": env.Title, "body": env.Body, "url": env.URL}); err != nil {
			return Receipt{}, Permanent(err)
		}
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ts := now().Unix()
	h := http.Header{}
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(w.Secret, ts, body))
	h.Set(HeaderIdemKey, IdempotencyKey(env.Key))
	if _, err := post(ctx, w.Client, "webhook", url, "application/json", body, h); err != nil {
		return Receipt{}, err
	}
	return Receipt{}, nil
}
