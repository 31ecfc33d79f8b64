package deliver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"tailor/internal/store"
)

func TestSMTPBuildMultipartWithHeaders(t *testing.T) {
	s, err := NewSMTP(SMTPOptions{Addr: "127.0.0.1:1", From: "Shop <news@shop.example>"})
	if err != nil {
		t.Fatal(err)
	}
	env := Envelope{Key: "t:1", Rendered: Rendered{Subject: "Grüße, Ann", Text: "Hello Ann\nline 2", HTML: "<p>Hello <b>Ann</b></p>",
		Headers: map[string]string{"List-Unsubscribe": "<https://x.example/u/1>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "Message-ID": "<theirs@x>"}}}
	raw, err := s.Build(env, &mail.Address{Name: "Ann", Address: "ann@example.com"}, time.Unix(1_700_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subj != "Grüße, Ann" {
		t.Errorf("subject %q", subj)
	}
	if got, want := m.Header.Get("Message-ID"), "<"+IdempotencyKey("t:1")+"@shop.example>"; got != want {
		t.Errorf("Message-ID %q, want %q (derived from the key, not the renderer's)", got, want)
	}
	if m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || m.Header.Get("List-Unsubscribe") == "" {
		t.Errorf("unsubscribe headers lost: %v", m.Header)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Type")+"|"+strings.ReplaceAll(string(b), "\r\n", "\n"))
	}
	want := []string{"text/plain; charset=utf-8|Hello Ann\nline 2", "text/html; charset=utf-8|<p>Hello <b>Ann</b></p>"}
	if strings.Join(parts, "#") != strings.Join(want, "#") {
		t.Errorf("parts %q, want %q", parts, want)
	}
	env.Headers = map[string]string{"X-Bad": "a\r\nBcc: x@y"}
	if _, err := s.Build(env, &mail.Address{Address: "ann@example.com"}, time.Now()); err == nil {
		t.Error("a header with a line break was accepted")
	}
}

func TestSMTPDKIMSignatureVerifies(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyFile := filepath.Join(t.TempDir(), "dkim.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	s, err := NewSMTP(SMTPOptions{Addr: "127.0.0.1:1", From: "news@shop.example", DKIMKeyFile: keyFile, DKIMSelector: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.Build(Envelope{Key: "k", Rendered: Rendered{Subject: "hi", Text: "body"}}, &mail.Address{Address: "a@b.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: func(d string) ([]string, error) {
		if d != "t1._domainkey.shop.example" {
			return nil, errors.New("unexpected lookup " + d)
		}
		return []string{record}, nil
	}})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("verify: %v %+v", err, vs)
	}
	// A changed body no longer verifies.
	tampered := bytes.Replace(raw, []byte("body"), []byte("b0dy"), 1)
	vs, _ = dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{LookupTXT: func(string) ([]string, error) { return []string{record}, nil }})
	if len(vs) != 1 || vs[0].Err == nil {
		t.Fatal("a tampered message verified")
	}
}

func TestSMTPErrorsClassified(t *testing.T) {
	for _, tc := range []struct {
		err             error
		temporary, bncd bool
	}{
		{errors.Join(errors.New("smtp RCPT TO"), &textproto.Error{Code: 550, Msg: "no such user"}), false, true},
		{errors.Join(errors.New("smtp DATA"), &textproto.Error{Code: 552, Msg: "too big"}), false, false},
		{errors.Join(errors.New("smtp RCPT TO"), &textproto.Error{Code: 451, Msg: "try later"}), true, false},
		{io.ErrUnexpectedEOF, true, false},
	} {
		got := classifySMTP(tc.err)
		if isTemporary(got) != tc.temporary || isBounce(got) != tc.bncd {
			t.Errorf("%v: temporary %v bounce %v, want %v %v", tc.err, isTemporary(got), isBounce(got), tc.temporary, tc.bncd)
		}
	}
}

func TestWebhookSignedPost(t *testing.T) {
	var got *http.Request
	var body []byte
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
		w.WriteHeader(status)
	}))
	defer srv.Close()
	w := &Webhook{URL: srv.URL, Secret: "s3cret", Now: func() time.Time { return time.Unix(1_700_000_000, 0) }}
	env := Envelope{Key: "k1", Profile: "p", Rendered: Rendered{JSON: []byte(`{"order":"o1"}`)}}
	if _, err := w.Send(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"order":"o1"}` || got.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("body %s type %s", body, got.Header.Get("Content-Type"))
	}
	if got.Header.Get(HeaderTimestamp) != "1700000000" || got.Header.Get(HeaderSignature) != Sign("s3cret", 1_700_000_000, body) {
		t.Fatalf("signature headers %v", got.Header)
	}
	if !strings.HasPrefix(got.Header.Get(HeaderSignature), "sha256=") || Sign("other", 1_700_000_000, body) == got.Header.Get(HeaderSignature) {
		t.Fatal("signature does not depend on the secret")
	}
	if got.Header.Get(HeaderIdemKey) != IdempotencyKey("k1") {
		t.Fatal("no idempotency key")
	}
	for code, temporary := range map[int]bool{503: true, 429: true, 400: false} {
		status = code
		_, err := w.Send(context.Background(), env)
		if err == nil || isTemporary(err) != temporary {
			t.Errorf("answer %d: err %v temporary %v, want %v", code, err, isTemporary(err), temporary)
		}
	}
}

func must[T any](v T, _ error) T { return v }

func TestSMSTwilioShape(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got = r
		w.WriteHeader(201)
		io.WriteString(w, `{"sid":"SM123","status":"queued"}`)
	}))
	defer srv.Close()
	s := &SMS{BaseURL: srv.URL, AccountSID: "AC1", AuthToken: "tok", From: "+15550001"}
	rc, err := s.Send(context.Background(), Envelope{Key: "k", Rendered: Rendered{To: "+15550002", Body: "Your code"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.URL.Path != "/2010-04-01/Accounts/AC1/Messages.json" || got.PostForm.Get("To") != "+15550002" || got.PostForm.Get("From") != "+15550001" || got.PostForm.Get("Body") != "Your code" {
		t.Fatalf("request %s %v", got.URL.Path, got.PostForm)
	}
	if u, p, ok := got.BasicAuth(); !ok || u != "AC1" || p != "tok" {
		t.Fatal("no basic auth with the account")
	}
	if rc.ProviderID != "SM123" || got.Header.Get(HeaderIdemKey) == "" {
		t.Fatalf("receipt %+v", rc)
	}
	if _, err := s.Send(context.Background(), Envelope{Key: "k"}); err == nil || isTemporary(err) {
		t.Fatal("a profile without a phone is not a permanent failure")
	}
}

func TestPushFCMShape(t *testing.T) {
	var got map[string]map[string]any
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, `{"name":"projects/p/messages/0:1"}`)
	}))
	defer srv.Close()
	p := &Push{URL: srv.URL + "/v1/projects/p/messages:send", Token: "ya29"}
	rc, err := p.Send(context.Background(), Envelope{Key: "k", Rendered: Rendered{To: "devtok", Title: "Hi", Body: "Back?", URL: "shop://cart"}})
	if err != nil {
		t.Fatal(err)
	}
	m := got["message"]
	n, _ := m["notification"].(map[string]any)
	d, _ := m["data"].(map[string]any)
	if m["token"] != "devtok" || n["title"] != "Hi" || n["body"] != "Back?" || d["url"] != "shop://cart" || d["message_key"] != "k" {
		t.Fatalf("message %v", m)
	}
	if auth != "Bearer ya29" || rc.ProviderID != "projects/p/messages/0:1" {
		t.Fatalf("auth %q receipt %+v", auth, rc)
	}
}

func TestInboxKeepsOneItemPerKey(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "pebble"), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ib := &Inbox{DB: db, Max: 3}
	ctx := context.Background()
	for _, k := range []string{"a", "a", "b", "c", "d"} {
		if _, err := ib.Send(ctx, Envelope{Key: k, Profile: "p", Rendered: Rendered{Title: "t " + k}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	items, unread, err := ib.List("p", 10)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, x := range items {
		keys = append(keys, x.Key)
	}
	if strings.Join(keys, ",") != "d,c,b" || unread != 3 {
		t.Fatalf("inbox %v unread %d, want d,c,b (a resent once, the oldest dropped past Max)", keys, unread)
	}
	if items, _, _ := ib.List("p", 1); len(items) != 1 {
		t.Fatalf("limit 1 gave %d", len(items))
	}
	x, err := ib.MarkRead("p", items[0].ID, time.Now())
	if err != nil || x.Read == nil {
		t.Fatalf("mark read: %v %+v", err, x)
	}
	if _, unread, _ := ib.List("p", 10); unread != 2 {
		t.Fatalf("unread %d after one read", unread)
	}
	if _, err := ib.MarkRead("other", items[0].ID, time.Now()); !errors.Is(err, ErrNoItem) {
		t.Fatalf("another profile's item: %v", err)
	}
}

func TestMailPrintFile(t *testing.T) {
	dir := t.TempDir()
	var hooked int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hooked++ }))
	defer srv.Close()
	m := &Mail{Dir: dir, WebhookURL: srv.URL}
	for _, k := range []string{"k1", "k2"} {
		if _, err := m.Send(context.Background(), Envelope{Key: k, Profile: "p", Rendered: Rendered{To: "1 Main St, Town", Body: "Hello, \"friend\""}}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(filepath.Join(dir, "print-"+time.Now().UTC().Format(time.DateOnly)+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(PrintHeader, ",") || rows[2][0] != "k2" || rows[1][2] != "1 Main St, Town" || rows[1][4] != `Hello, "friend"` {
		t.Fatalf("rows %q", rows)
	}
	if hooked != 2 {
		t.Fatalf("webhook called %d times", hooked)
	}
}

// BenchmarkSMTPBuild measures building one rendered email (two parts,
// unsubscribe headers), which every send pays.
func BenchmarkSMTPBuild(b *testing.B) {
	s, err := NewSMTP(SMTPOptions{Addr: "127.0.0.1:1", From: "Shop <news@shop.example>"})
	if err != nil {
		b.Fatal(err)
	}
	env := Envelope{Key: "k", Rendered: Rendered{Subject: "Thank you for your order, Ann", Text: "Hi Ann,\nyour order 1 is confirmed.\nTrack it: https://shop.example/orders/1",
		HTML:    `<p>Hi Ann,</p><p>your order 1 is confirmed.</p><p><a href="https://shop.example/t/fc/token">Track your order</a></p>`,
		Headers: map[string]string{"List-Unsubscribe": "<https://shop.example/t/fu/token>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}}}
	to := &mail.Address{Name: "Ann", Address: "ann@example.com"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Build(env, to, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
