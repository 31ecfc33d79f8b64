package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The credentials every test server runs with.
const (
	testWriteKey   = "wk_e2e_0123456789"
	testAdminToken = "admin_e2e_0123456789"
)

// tailorBin is the binary under test, set by TestMain.
var tailorBin string

// repoRoot is the module root (the directory holding go.mod).
var repoRoot string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot find the repository root:", err)
		return 1
	}
	repoRoot = root

	if bin := os.Getenv("TAILOR_E2E_BIN"); bin != "" {
		tailorBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "tailor-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	tailorBin = filepath.Join(dir, "tailor")
	start := time.Now()
	// The server is built without -race even when the tests run with it: the
	// race detector would slow the crash and import tests several-fold on a
	// small CI machine. Use TAILOR_E2E_BIN to test a race-enabled binary.
	build := exec.Command(goTool(), "build", "-o", tailorBin, "./cmd/tailor")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build ./cmd/tailor:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: built ./cmd/tailor in %v\n", time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// goTool finds the go command of the toolchain running the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// requirePrereqs reports whether missing prerequisites must fail the test
// instead of skipping it.
func requirePrereqs() bool { return os.Getenv("TAILOR_E2E_REQUIRE") == "1" }

// skipOrFail skips the test for a missing prerequisite, or fails it when
// TAILOR_E2E_REQUIRE=1: a skipped test must never pass CI.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if requirePrereqs() {
		t.Fatalf("missing prerequisite (TAILOR_E2E_REQUIRE=1): %s", msg)
	}
	t.Skipf("missing prerequisite: %s (run ./scripts/test.sh to install it)", msg)
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lineWatcher copies a process's output to out and sends the rest of the
// first line starting with prefix to found (capacity 1).
type lineWatcher struct {
	out     io.Writer
	prefix  string
	found   chan<- string
	partial []byte
	sent    bool
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.out.Write(p)
	if w.sent {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if rest, ok := strings.CutPrefix(line, w.prefix); ok {
			w.found <- strings.TrimSpace(rest)
			w.sent, w.partial = true, nil
			return len(p), nil
		}
	}
}

// server is one running `tailor serve` process.
type server struct {
	URL        string // http://127.0.0.1:PORT
	WriteKey   string
	AdminToken string
	DataDir    string

	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, valid after done
	killed bool          // the test SIGKILLed it on purpose
	client *http.Client
	// failure is what fatalf reported: repeated after the server's logs,
	// whose hundreds of lines would otherwise bury it at the end of a long
	// CI log that shows only its tail.
	failure string
}

// fatalf fails the test like t.Fatalf, and has the message said again,
// shortened to its last lines, after the server's logs when the test ends.
func (s *server) fatalf(t *testing.T, format string, args ...any) {
	t.Helper()
	s.failure = fmt.Sprintf(format, args...)
	t.Fatal(s.failure)
}

// startServer runs `tailor serve` on a free port with dataDir and waits until
// /readyz answers 200. The server is stopped (SIGTERM) when the test ends;
// its stderr is logged if the test failed.
func startServer(t *testing.T, dataDir string, extraArgs ...string) *server {
	t.Helper()
	args := append([]string{"serve",
		"--data-dir", dataDir,
		"--addr", "127.0.0.1:0",
		"--write-key", testWriteKey,
		"--admin-token", testAdminToken,
	}, extraArgs...)
	s := &server{
		WriteKey:   testWriteKey,
		AdminToken: testAdminToken,
		DataDir:    dataDir,
		stdout:     &lockedBuffer{},
		stderr:     &lockedBuffer{},
		done:       make(chan struct{}),
		client:     &http.Client{Timeout: 30 * time.Second},
	}
	listening := make(chan string, 1)
	s.cmd = exec.Command(tailorBin, args...)
	s.cmd.Stdout = &lineWatcher{out: s.stdout, prefix: "tailor: listening on ", found: listening}
	s.cmd.Stderr = s.stderr
	s.cmd.Env = serverEnv()
	dieWithTests(s.cmd)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", tailorBin, err)
	}
	t.Logf("started tailor serve (pid %d) on %s", s.cmd.Process.Pid, dataDir)
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		if err := s.stop(t); err != nil && !s.killed {
			t.Errorf("tailor serve (pid %d) exited with %v after SIGTERM, want a clean exit", s.cmd.Process.Pid, err)
		}
		if t.Failed() {
			t.Logf("tailor serve (pid %d) stdout:\n%s", s.cmd.Process.Pid, s.stdout.String())
			t.Logf("tailor serve (pid %d) stderr:\n%s", s.cmd.Process.Pid, tail(s.stderr.String(), 200))
			if s.failure != "" {
				t.Logf("the failure, again (end of the message above the server's logs):\n%s", tail(s.failure, 40))
			}
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	select {
	case u := <-listening:
		s.URL = strings.TrimRight(u, "/")
	case <-s.done:
		t.Fatalf("tailor serve exited (%v) without printing `tailor: listening on URL`\nstdout:\n%s\nstderr:\n%s",
			s.err, s.stdout.String(), tail(s.stderr.String(), 200))
	case <-time.After(time.Until(deadline)):
		t.Fatalf("tailor serve printed no `tailor: listening on URL` line in 60s\nstdout:\n%s\nstderr:\n%s",
			s.stdout.String(), tail(s.stderr.String(), 200))
	}
	if _, err := url.Parse(s.URL); err != nil || !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("listening line names %q, want http://127.0.0.1:PORT", s.URL)
	}

	for {
		code, _, err := s.do(http.MethodGet, "/readyz", nil, nil)
		if err == nil && code == http.StatusOK {
			break
		}
		select {
		case <-s.done:
			t.Fatalf("tailor serve exited (%v) before /readyz answered 200\nstderr:\n%s", s.err, tail(s.stderr.String(), 200))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not answer 200 within 60s (last: %d %v)\nstderr:\n%s", code, err, tail(s.stderr.String(), 200))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// serverEnv is the environment of the server: the test's, minus TAILOR_*
// settings that would override the flags.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TAILOR_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// stop sends SIGTERM and waits for the process to exit (up to 60 s, then
// SIGKILL). It returns the exit error (nil for a clean exit). Safe to call
// more than once.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	select {
	case <-s.done:
		return s.err
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		t.Errorf("tailor serve (pid %d) did not exit within 60s of SIGTERM; killing it", s.cmd.Process.Pid)
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return s.err
}

// stopClean stops the server with SIGTERM and fails the test unless it exits 0.
func (s *server) stopClean(t *testing.T) {
	t.Helper()
	if err := s.stop(t); err != nil {
		t.Fatalf("tailor serve did not exit cleanly after SIGTERM: %v\nstderr:\n%s", err, tail(s.stderr.String(), 100))
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill(t *testing.T) {
	t.Helper()
	s.killed = true
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-s.done
}

// runTailor runs a short-lived tailor sub-command and returns its combined
// output; it fails the test on a non-zero exit.
func runTailor(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	out, err := runTailorErr(t, timeout, args...)
	if err != nil {
		t.Fatalf("tailor %s: %v\n%s", strings.Join(args, " "), err, tail(out, 100))
	}
	return out
}

func runTailorErr(t *testing.T, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tailorBin, args...)
	cmd.Env = serverEnv()
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("tailor %s: %v (%v)", strings.Join(args, " "), exitStatus(err), time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	return out.String(), err
}

func exitStatus(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines omitted)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
