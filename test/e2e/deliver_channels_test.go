package e2e

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a local HTTP server that records the requests a provider
// would get and answers as that provider does.
type receiver struct {
	mu   sync.Mutex
	reqs []recorded
	srv  *httptest.Server
}

type recorded struct {
	Path   string
	Header http.Header
	Body   []byte
}

func newReceiver(t *testing.T, answer string) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.URL.Path, req.Header.Clone(), b})
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, answer)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) wait(t *testing.T, what string) recorded {
	t.Helper()
	var got recorded
	pollUntil(t, 15*time.Second, what, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.reqs) > 0 {
			got = r.reqs[0]
		}
		return len(r.reqs) > 0
	})
	return got
}

// TestDeliverChannels sends one message on each HTTP channel to local
// receivers speaking the providers' shapes (Twilio Messages API, FCM HTTP
// v1, a signed webhook), one to the in-app inbox that an app then reads and
// marks read with its write key, and one direct-mail letter into the day's
// print file.
func TestDeliverChannels(t *testing.T) {
	sms := newReceiver(t, `{"sid":"SM1","status":"queued"}`)
	push := newReceiver(t, `{"name":"projects/p/messages/1"}`)
	hook := newReceiver(t, `{}`)
	wpush := newReceiver(t, ``)
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	uaAuth := make([]byte, 16)
	rand.Read(uaAuth)
	vapid, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	vder, _ := x509.MarshalPKCS8PrivateKey(vapid)
	vapidFile := filepath.Join(t.TempDir(), "vapid.pem")
	os.WriteFile(vapidFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: vder}), 0o600)
	dir := t.TempDir()
	secrets := filepath.Join(t.TempDir(), "secrets")
	os.WriteFile(secrets, []byte("TAILOR_WEBHOOK_SECRET=whsec\nTAILOR_SMS_TOKEN=smstok\nTAILOR_PUSH_TOKEN=pushtok\n"), 0o600)
	s := startServer(t, dir, "--secrets-file", secrets, "--webhook-url", hook.srv.URL+"/hook",
		"--sms-url", sms.srv.URL, "--sms-account", "AC9", "--sms-from", "+15550000",
		"--push-url", push.srv.URL+"/v1/projects/p/messages:send", "--vapid-key", vapidFile, "--vapid-subject", "mailto:ops@shop.example")
	// The browser's PushSubscription.toJSON(), kept as a string trait.
	subscription, _ := json.Marshal(map[string]any{"endpoint": wpush.srv.URL + "/wp/sub-1", "keys": map[string]string{
		"p256dh": base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()), "auth": base64.RawURLEncoding.EncodeToString(uaAuth)}})
	s.mustPostEvents(t, "/v1/identify", map[string]any{"userId": "ch1", "messageId": "ch1-id", "traits": map[string]any{
		"first_name": "Ada", "email": "ada@test.example", "phone": "+15550101", "push_token": "devtok-1", "address": "1 Main St, Town",
		"webpush_subscription": string(subscription)}})
	pollUntil(t, 10*time.Second, "profile ch1", func() bool { code, _ := s.adminGet(t, "/api/profiles/user_id:ch1", nil); return code == 200 })

	for _, tm := range []map[string]any{
		{"id": "sms_code", "name": "Code", "channel": "sms", "body": "Hi {{ profile.traits.first_name }}, your code is {{ data.code }}"},
		{"id": "push_return", "name": "Return", "channel": "push", "title": "We miss you, {{ profile.traits.first_name }}", "body": "{{ data.text }}", "url": "{{ data.url }}"},
		{"id": "order_hook", "name": "Order hook", "channel": "webhook", "url": hook.srv.URL + "/hook", "json": `{"order_id":"{{ data.order_id }}","email":"{{ profile.traits.email }}"}`},
		{"id": "notice", "name": "Notice", "channel": "inapp", "title": "Hi {{ profile.traits.first_name }}", "body": "{{ data.text }}", "url": "{{ data.url }}"},
		{"id": "webpush_sale", "name": "Sale", "channel": "webpush", "title": "{{ data.title }}", "body": "Hi {{ profile.traits.first_name }}, {{ data.text }}", "url": "{{ data.url }}"},
		{"id": "letter", "name": "Letter", "channel": "mail", "title": "Dear {{ profile.traits.first_name }}", "body": "{{ data.text }}"},
	} {
		ensureTemplate(t, s, tm)
	}
	send := func(template, channel string, data map[string]any) string {
		code, body := s.adminSend(t, http.MethodPost, "/api/send", map[string]any{"template": template, "channel": channel, "profile": "user_id:ch1", "data": data})
		if code != http.StatusAccepted {
			t.Fatalf("send %s: %d %s", template, code, body)
		}
		var ans struct{ Key string }
		json.Unmarshal(body, &ans)
		return ans.Key
	}
	send("sms_code", "sms", map[string]any{"code": "4711"})
	send("push_return", "push", map[string]any{"text": "New arrivals", "url": "shop://new"})
	send("order_hook", "webhook", map[string]any{"order_id": "o-9"})
	send("notice", "inapp", map[string]any{"text": "Your order shipped", "url": "shop://orders"})
	send("letter", "mail", map[string]any{"text": "A gift for you"})
	send("webpush_sale", "webpush", map[string]any{"title": "Sale", "text": "today only", "url": "https://shop.example/sale"})

	r := sms.wait(t, "the SMS")
	form, _ := url.ParseQuery(string(r.Body))
	if r.Path != "/2010-04-01/Accounts/AC9/Messages.json" || form.Get("To") != "+15550101" || form.Get("From") != "+15550000" || form.Get("Body") != "Hi Ada, your code is 4711" {
		t.Errorf("SMS request %s %v", r.Path, form)
	}
	if r.Header.Get("Authorization") != "Basic "+basicAuthValue("AC9", "smstok") || r.Header.Get("Idempotency-Key") == "" {
		t.Errorf("SMS headers %v", r.Header)
	}

	r = push.wait(t, "the push")
	var fcm struct {
		Message struct {
			Token        string
			Notification struct{ Title, Body string }
			Data         map[string]string
		}
	}
	json.Unmarshal(r.Body, &fcm)
	if r.Path != "/v1/projects/p/messages:send" || fcm.Message.Token != "devtok-1" || fcm.Message.Notification.Title != "We miss you, Ada" || fcm.Message.Data["url"] != "shop://new" {
		t.Errorf("push request %s %s", r.Path, r.Body)
	}
	if r.Header.Get("Authorization") != "Bearer pushtok" {
		t.Errorf("push auth %q", r.Header.Get("Authorization"))
	}

	r = hook.wait(t, "the webhook")
	mac := hmac.New(sha256.New, []byte("whsec"))
	mac.Write([]byte(r.Header.Get("X-Tailor-Timestamp") + "."))
	mac.Write(r.Body)
	if r.Header.Get("X-Tailor-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("webhook signature %q does not verify over %q", r.Header.Get("X-Tailor-Signature"), r.Body)
	}
	var payload map[string]any
	if json.Unmarshal(r.Body, &payload); payload["order_id"] != "o-9" || payload["email"] != "ada@test.example" {
		t.Errorf("webhook payload %s", r.Body)
	}

	r = wpush.wait(t, "the web push")
	if r.Path != "/wp/sub-1" || r.Header.Get("Content-Encoding") != "aes128gcm" || !strings.HasPrefix(r.Header.Get("Authorization"), "vapid t=") {
		t.Errorf("web push request %s %v", r.Path, r.Header)
	}
	var wp map[string]string
	if err := json.Unmarshal(decryptAES128GCM(t, r.Body, ua, uaAuth), &wp); err != nil || wp["title"] != "Sale" || wp["body"] != "Hi Ada, today only" {
		t.Errorf("web push payload %v %v", wp, err)
	}

	// The app reads its inbox with the write key, and marks the message read.
	var inbox struct {
		Unread   int
		Messages []struct{ ID, Title, Body, URL string }
	}
	appGet := func() int {
		code, body, _ := s.do(http.MethodGet, "/v1/inbox?userId=ch1", nil, http.Header{"Authorization": {basicAuth(s.WriteKey)}})
		if code == 200 {
			json.Unmarshal(body, &inbox)
		}
		return code
	}
	pollUntil(t, 15*time.Second, "the in-app message", func() bool { return appGet() == 200 && len(inbox.Messages) == 1 })
	if m := inbox.Messages[0]; m.Title != "Hi Ada" || m.Body != "Your order shipped" || m.URL != "shop://orders" || inbox.Unread != 1 {
		t.Errorf("inbox %+v", inbox)
	}
	if code, _, _ := s.do(http.MethodGet, "/v1/inbox?userId=ch1", nil, http.Header{"Authorization": {basicAuth("wrong-key")}}); code != http.StatusUnauthorized {
		t.Errorf("a wrong write key read the inbox: %d", code)
	}
	code, body, _ := s.do(http.MethodPost, "/v1/inbox/"+inbox.Messages[0].ID+"/read?userId=ch1", nil, http.Header{"Authorization": {basicAuth(s.WriteKey)}})
	if code != 200 {
		t.Fatalf("mark read: %d %s", code, body)
	}
	if code, body := s.adminGet(t, "/api/profiles/user_id:ch1/inbox", &inbox); code != 200 || inbox.Unread != 0 || len(inbox.Messages) != 1 {
		t.Errorf("admin inbox after read: %d %s", code, body)
	}

	// The letter is a row of today's print file.
	var rows [][]string
	pollUntil(t, 15*time.Second, "the print file row", func() bool {
		f, err := os.Open(filepath.Join(dir, "mail", "print-"+time.Now().UTC().Format(time.DateOnly)+".csv"))
		if err != nil {
			return false
		}
		defer f.Close()
		rows, _ = csv.NewReader(f).ReadAll()
		return len(rows) == 2
	})
	if rows[1][2] != "1 Main St, Town" || rows[1][3] != "Dear Ada" || rows[1][4] != "A gift for you" {
		t.Errorf("print file row %q", rows[1])
	}

	// Every send is recorded on the profile.
	pollUntil(t, 15*time.Second, "six Message Sent events", func() bool {
		n := 0
		for _, e := range s.timeline(t, "user_id:ch1") {
			if e.Event == "Message Sent" {
				n++
			}
		}
		return n == 6
	})
	if strings.Contains(s.stderr.String(), "whsec") || strings.Contains(s.stderr.String(), "smstok") || strings.Contains(s.stdout.String(), "pushtok") {
		t.Error("a secret shows in the server's output")
	}
}

func basicAuthValue(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// decryptAES128GCM is a browser's side of web push (RFC 8291): it decrypts
// the one-record body for the user agent key ua and auth secret.
func decryptAES128GCM(t *testing.T, body []byte, ua *ecdh.PrivateKey, auth []byte) []byte {
	t.Helper()
	if len(body) < 21 || len(body) < 21+int(body[20]) {
		t.Fatalf("web push body of %d bytes", len(body))
	}
	salt, idlen := body[:16], int(body[20])
	asPub := body[21 : 21+idlen]
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
	if err != nil || len(plain) == 0 || plain[len(plain)-1] != 2 {
		t.Fatalf("web push body does not decrypt: %v", err)
	}
	return plain[:len(plain)-1]
}
