package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mailpit is the real SMTP server the delivery tests send to. It is built
// from tools/mailpit (whose go.mod pins the version) with go build, once per
// go.sum, into the temporary directory; TAILOR_E2E_MAILPIT names a binary
// built beforehand (scripts/test.sh does that).
var (
	mailpitOnce sync.Once
	mailpitPath string
	mailpitErr  error
)

func mailpitBinary(t *testing.T) string {
	t.Helper()
	mailpitOnce.Do(func() {
		if p := os.Getenv("TAILOR_E2E_MAILPIT"); p != "" {
			mailpitPath = p
			return
		}
		mod := filepath.Join(repoRoot, "tools", "mailpit")
		sum, err := os.ReadFile(filepath.Join(mod, "go.sum"))
		if err != nil {
			mailpitErr = err
			return
		}
		h := sha256.Sum256(sum)
		dir := filepath.Join(os.TempDir(), "tailor-e2e-mailpit-"+hex.EncodeToString(h[:6]))
		mailpitPath = filepath.Join(dir, "mailpit")
		if _, err := os.Stat(mailpitPath); err == nil {
			return
		}
		start := time.Now()
		tmp := mailpitPath + fmt.Sprint(".", os.Getpid())
		build := exec.Command(goTool(), "build", "-o", tmp, "github.com/axllent/mailpit")
		build.Dir = mod
		out, err := build.CombinedOutput()
		if err != nil {
			mailpitErr = fmt.Errorf("go build mailpit: %v\n%s", err, out)
			return
		}
		mailpitErr = os.Rename(tmp, mailpitPath)
		t.Logf("built mailpit in %v", time.Since(start).Round(time.Millisecond))
	})
	if mailpitErr != nil {
		skipOrFail(t, "mailpit: %v", mailpitErr)
	}
	return mailpitPath
}

// mailpit is a running Mailpit: SMTP on SMTP, its HTTP API on API.
type mailpit struct {
	SMTP string // host:port
	API  string // http://host:port
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startMailpit runs Mailpit on free local ports, keeping every message
// (no pruning, duplicates kept). With starttls it offers STARTTLS with a
// self-signed certificate and takes any AUTH.
func startMailpit(t *testing.T, starttls bool) *mailpit {
	t.Helper()
	bin := mailpitBinary(t)
	dir := t.TempDir()
	m := &mailpit{SMTP: freePort(t)}
	httpAddr := freePort(t)
	m.API = "http://" + httpAddr
	args := []string{"--smtp", m.SMTP, "--listen", httpAddr, "--max", "0", "--database", filepath.Join(dir, "mailpit.db"),
		"--disable-version-check", "--smtp-disable-rdns", "--quiet"}
	if starttls {
		cert, key := selfSigned(t, dir)
		args = append(args, "--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls", "--smtp-auth-accept-any")
	}
	cmd := exec.Command(bin, args...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	dieWithTests(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mailpit: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("mailpit output:\n%s", tail(out.String(), 40))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(m.API + "/api/v1/info")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not answer on %s within 20s: %v\n%s", m.API, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return m
}

func selfSigned(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	cert, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, kf
}

// mailSummary is a message in Mailpit's list.
type mailSummary struct {
	ID        string
	MessageID string
	Subject   string
	To        []struct{ Address string }
}

// messages lists every message in the mailbox, each once. Pages are
// newest first by offset, so a message stored while they are read shifts
// the next page: the same stored message (same Mailpit ID) can come back
// twice and a newer one not at all. Callers that wait for a count poll
// again; what this returns is never a false duplicate.
func (m *mailpit) messages(t *testing.T) []mailSummary {
	t.Helper()
	var all []mailSummary
	seen := map[string]bool{}
	for start := 0; ; {
		var page struct {
			Total    int `json:"total"`
			Messages []mailSummary
		}
		m.get(t, fmt.Sprintf("/api/v1/messages?start=%d&limit=1000", start), &page)
		for _, msg := range page.Messages {
			if !seen[msg.ID] {
				seen[msg.ID] = true
				all = append(all, msg)
			}
		}
		start += len(page.Messages)
		if len(page.Messages) == 0 || start >= page.Total {
			return all
		}
	}
}

// count is how many messages the mailbox holds.
func (m *mailpit) count(t *testing.T) int {
	t.Helper()
	var page struct {
		Total int `json:"total"`
	}
	m.get(t, "/api/v1/messages?limit=1", &page)
	return page.Total
}

func (m *mailpit) get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(m.API + path)
	if err != nil {
		t.Fatalf("mailpit GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("mailpit GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("mailpit GET %s: %v", path, err)
	}
}

// idempotencyMessageID is the Message-ID deliver gives the send with key
// (see deliver.Envelope.MessageID), without angle brackets.
func idempotencyMessageID(key, domain string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:16]) + "@" + domain
}

func trimAngle(s string) string { return strings.Trim(strings.TrimSpace(s), "<>") }
