package deliver

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWebPushEncryptionRFC8291 reproduces the example of RFC 8291
// appendix A byte for byte.
func TestWebPushEncryptionRFC8291(t *testing.T) {
	asKey, err := ecdh.P256().NewPrivateKey(mustB64(t, "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"))
	if err != nil {
		t.Fatal(err)
	}
	uaPub := mustB64(t, "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4")
	got, err := encryptWebPush([]byte("When I grow up, I want to be a watermelon"), uaPub, mustB64(t, "BTBZMqHH6r4Tts7J_aSIgg"), asKey, mustB64(t, "DGv6ra1nlYgDCS1FRnbzlw"))
	if err != nil {
		t.Fatal(err)
	}
	want := "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
	if b := base64.RawURLEncoding.EncodeToString(got); b != want {
		t.Fatalf("body\n%s\nwant\n%s", b, want)
	}
}

// decryptWebPush is the user agent's side, written from RFC 8291 for the
// test.
func decryptWebPush(t *testing.T, body []byte, ua *ecdh.PrivateKey, auth []byte) []byte {
	t.Helper()
	salt, idlen := body[:16], int(body[20])
	asPub := body[21 : 21+idlen]
	if rs := binary.BigEndian.Uint32(body[16:20]); rs != 4096 {
		t.Fatalf("record size %d", rs)
	}
	as, err := ecdh.P256().NewPublicKey(asPub)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := ua.ECDH(as)
	prkKey, _ := hkdf.Extract(sha256.New, secret, auth)
	ikm, _ := hkdf.Expand(sha256.New, prkKey, "WebPush: info\x00"+string(ua.PublicKey().Bytes())+string(asPub), 32)
	prk, _ := hkdf.Extract(sha256.New, ikm, salt)
	cek, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	blk, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(blk)
	plain, err := gcm.Open(nil, nonce, body[21+idlen:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain[len(plain)-1] != 2 {
		t.Fatalf("no last-record delimiter")
	}
	return plain[:len(plain)-1]
}

func TestWebPushSendsEncryptedSignedRequest(t *testing.T) {
	vapid, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	rand.Read(auth)
	var req *http.Request
	var body []byte
	status := http.StatusCreated
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, body = r, must(io.ReadAll(r.Body))
		w.WriteHeader(status)
	}))
	defer srv.Close()
	sub, _ := json.Marshal(map[string]any{"endpoint": srv.URL + "/push/abc", "keys": map[string]string{
		"p256dh": base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()), "auth": base64.RawURLEncoding.EncodeToString(auth)}})
	w := &WebPush{Key: vapid, Subject: "mailto:ops@shop.example"}
	if _, err := w.Send(context.Background(), Envelope{Key: "k1", Rendered: Rendered{To: string(sub), Title: "Sale", Body: "Today only", URL: "https://shop.example/sale"}}); err != nil {
		t.Fatal(err)
	}
	if req.URL.Path != "/push/abc" || req.Header.Get("Content-Encoding") != "aes128gcm" || req.Header.Get("TTL") != "86400" || req.Header.Get("Topic") == "" {
		t.Fatalf("request %s %v", req.URL.Path, req.Header)
	}
	var got map[string]string
	if err := json.Unmarshal(decryptWebPush(t, body, ua, auth), &got); err != nil || got["title"] != "Sale" || got["url"] != "https://shop.example/sale" || got["message_key"] != "k1" {
		t.Fatalf("payload %v %v", got, err)
	}
	// The VAPID header: t=<JWT signed by the key>, k=<its public key>.
	a := strings.TrimPrefix(req.Header.Get("Authorization"), "vapid ")
	parts := strings.Split(a, ", k=")
	pub, _ := vapid.ECDH()
	if len(parts) != 2 || parts[1] != base64.RawURLEncoding.EncodeToString(pub.PublicKey().Bytes()) {
		t.Fatalf("authorization %q", a)
	}
	jwt := strings.Split(strings.TrimPrefix(parts[0], "t="), ".")
	var claims map[string]any
	json.Unmarshal(mustB64(t, jwt[1]), &claims)
	sum := sha256.Sum256([]byte(jwt[0] + "." + jwt[1]))
	sig := mustB64(t, jwt[2])
	if !ecdsa.Verify(&vapid.PublicKey, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) || claims["aud"] != srv.URL || claims["sub"] != "mailto:ops@shop.example" {
		t.Fatalf("VAPID token does not verify or names %v", claims)
	}
	status = http.StatusGone
	if _, err := w.Send(context.Background(), Envelope{Key: "k2", Rendered: Rendered{To: string(sub)}}); !isBounce(err) {
		t.Fatalf("a gone subscription: %v, want a bounce", err)
	}
	if _, err := w.Send(context.Background(), Envelope{Key: "k3"}); err == nil || isTemporary(err) {
		t.Fatalf("no subscription: %v", err)
	}
}
