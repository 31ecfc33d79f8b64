package deliver

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"crypto/hkdf"
)

// WebPush sends browser push messages: the payload encrypted for the
// subscription (RFC 8291, aes128gcm content coding of RFC 8188) and the
// request signed with the server's VAPID key (RFC 8292). The rendered To is
// the subscription as the browser's PushSubscription.toJSON() gives it:
// {"endpoint","keys":{"p256dh","auth"}}.
type WebPush struct {
	Key     *ecdsa.PrivateKey // VAPID key (P-256)
	Subject string            // contact for the push service, "mailto:ops@shop.example"
	TTL     time.Duration     // how long the push service keeps an undelivered message; default 24h
	Client  *http.Client
}

// LoadVAPIDKey reads a PEM P-256 private key (PKCS#8 or SEC 1).
func LoadVAPIDKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s holds no PEM block", path)
	}
	if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if ek, ok := k.(*ecdsa.PrivateKey); err == nil && ok && ek.Curve == elliptic.P256() {
		return ek, nil
	}
	return nil, fmt.Errorf("%s: not a P-256 private key", path)
}

// Subscription is a browser's push subscription.
type Subscription struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// Send implements Adapter.
func (w *WebPush) Send(ctx context.Context, env Envelope) (Receipt, error) {
	var sub Subscription
	if err := json.Unmarshal([]byte(env.To), &sub); err != nil || sub.Endpoint == "" {
		return Receipt{}, Permanent(errors.New("webpush: the profile has no push subscription ({\"endpoint\",\"keys\":{\"p256dh\",\"auth\"}})"))
	}
	ep, err := url.Parse(sub.Endpoint)
	if err != nil || ep.Scheme != "https" && ep.Scheme != "http" {
		return Receipt{}, Permanent(fmt.Errorf("webpush: endpoint %q is not a URL", sub.Endpoint))
	}
	uaPub, err1 := b64(sub.Keys.P256dh)
	auth, err2 := b64(sub.Keys.Auth)
	if err := errors.Join(err1, err2); err != nil || len(auth) != 16 {
		return Receipt{}, Permanent(errors.New("webpush: the subscription's keys do not decode"))
	}
	payload, err := json.Marshal(map[string]string{"title": env.Title, "body": env.Body, "url": env.URL, "message_key": env.Key})
	if err != nil {
		return Receipt{}, Permanent(err)
	}
	asKey, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return Receipt{}, Temporary(err)
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	body, err := encryptWebPush(payload, uaPub, auth, asKey, salt)
	if err != nil {
		return Receipt{}, Permanent(fmt.Errorf("webpush: %w", err))
	}
	jwt, err := w.vapidJWT(ep.Scheme+"://"+ep.Host, time.Now())
	if err != nil {
		return Receipt{}, Permanent(err)
	}
	pub, _ := w.Key.ECDH()
	ttl := w.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	h := http.Header{}
	h.Set("Content-Encoding", "aes128gcm")
	h.Set("TTL", strconv.Itoa(int(ttl.Seconds())))
	h.Set("Authorization", "vapid t="+jwt+", k="+base64.RawURLEncoding.EncodeToString(pub.PublicKey().Bytes()))
	// Push services have no idempotency header; the Topic header makes a
	// resend replace the undelivered first copy (at most 32 URL-safe chars).
	h.Set("Topic", IdempotencyKey(env.Key))
	if _, err := post(ctx, w.Client, "webpush", sub.Endpoint, "application/octet-stream", body, h); err != nil {
		var se *SendError
		if errors.As(err, &se) && (strings.Contains(err.Error(), " 404") || strings.Contains(err.Error(), " 410")) {
			return Receipt{}, Bounced(err) // the subscription is gone
		}
		return Receipt{}, err
	}
	return Receipt{}, nil
}

// vapidJWT is the ES256 JWT of RFC 8292 for the push service at aud.
func (w *WebPush) vapidJWT(aud string, now time.Time) (string, error) {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"typ":"JWT","alg":"ES256"}`))
	claims, _ := json.Marshal(map[string]any{"aud": aud, "exp": now.Add(12 * time.Hour).Unix(), "sub": w.Subject})
	signing := head + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, w.Key, sum[:])
	if err != nil {
		return "", fmt.Errorf("webpush: sign VAPID token: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + enc.EncodeToString(sig), nil
}

// encryptWebPush encrypts payload for the user agent's key uaPub and auth
// secret with the sender's ephemeral key asKey and salt: one aes128gcm
// record (RFC 8188) keyed as RFC 8291 section 3 says.
func encryptWebPush(payload, uaPub, auth []byte, asKey *ecdh.PrivateKey, salt []byte) ([]byte, error) {
	ua, err := ecdh.P256().NewPublicKey(uaPub)
	if err != nil {
		return nil, fmt.Errorf("subscription key: %w", err)
	}
	secret, err := asKey.ECDH(ua)
	if err != nil {
		return nil, err
	}
	asPub := asKey.PublicKey().Bytes()
	prkKey, err := hkdf.Extract(sha256.New, secret, auth)
	if err != nil {
		return nil, err
	}
	ikm, err := hkdf.Expand(sha256.New, prkKey, "WebPush: info\x00"+string(uaPub)+string(asPub), 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	const rs = 4096
	if len(payload)+1+gcm.Overhead() > rs {
		return nil, fmt.Errorf("payload of %d bytes is over one %d-byte record", len(payload), rs)
	}
	out := make([]byte, 0, 16+4+1+len(asPub)+len(payload)+1+gcm.Overhead())
	out = append(out, salt...)
	out = binary.BigEndian.AppendUint32(out, rs)
	out = append(out, byte(len(asPub)))
	out = append(out, asPub...)
	// 0x02 marks the last (only) record; no padding follows.
	return gcm.Seal(out, nonce, append(payload, 2), nil), nil
}
