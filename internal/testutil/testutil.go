// Package testutil holds helpers shared by cgihttpd's tests: directories an unprivileged
// script user can enter, a copy of the test binary to run as a CGI child, and leak checks.
package testutil

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// WorldDir makes a temporary directory that every user can enter and read, because scripts
// run as nobody when the tests run as root; it is removed when the test ends.
func WorldDir(tb testing.TB) string {
	tb.Helper()
	dir, err := MkdirWorld()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// MkdirWorld is WorldDir for TestMain, where there is no testing.TB: the caller removes it.
func MkdirWorld() (string, error) {
	dir, err := os.MkdirTemp("", "cgihttpd-test-*")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("chmod temp dir: %w", err)
	}
	return dir, nil
}

// CopySelf copies the running test binary to path with mode 0755, so that it can be run as a
// CGI script from a document root (go test builds in a directory only its owner may enter).
func CopySelf(path string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find test binary: %w", err)
	}
	src, err := os.Open(self)
	if err != nil {
		return fmt.Errorf("open test binary: %w", err)
	}
	defer func() { _ = src.Close() }()
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return fmt.Errorf("copy test binary: %w", err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return os.Chmod(path, 0o755)
}

// CheckLeaks fails the test if, when it ends, more goroutines run than when it started, a
// child process of this one is still alive, or a request-body spool file was left in the
// temp directory. Call it first, so its check runs last.
func CheckLeaks(tb testing.TB) {
	tb.Helper()
	before := runtime.NumGoroutine()
	spoolsBefore := spoolFiles()
	tb.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			kids := ChildProcesses()
			spools := spoolFiles()
			if n <= before && len(kids) == 0 && spools <= spoolsBefore {
				return
			}
			if spools > spoolsBefore && time.Now().After(deadline) {
				tb.Errorf("leak: %d request-body spool files left in %s", spools-spoolsBefore, os.TempDir())
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				tb.Errorf("leak: %d goroutines (started with %d), child processes %v\n%s", n, before, kids, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// CloseAtEnd closes v when the test ends, if it is an io.Closer (an executor that keeps
// interpreters or cgroups between runs, a server that made one).
func CloseAtEnd(tb testing.TB, v any) {
	tb.Helper()
	if c, ok := v.(io.Closer); ok {
		tb.Cleanup(func() {
			if err := c.Close(); err != nil {
				tb.Errorf("close %T: %v", v, err)
			}
		})
	}
}

// spoolFiles counts the server's request-body spool files in the temp directory.
func spoolFiles() int {
	m, _ := filepath.Glob(filepath.Join(os.TempDir(), "cgihttpd-body-*"))
	return len(m)
}

// ChildProcesses lists the live (not zombie) processes whose parent is this process: from
// /proc on Linux, from a process snapshot on Windows; elsewhere it finds none.
func ChildProcesses() []int { return childProcesses() }

// Alive reports whether pid names a live process (not a zombie). Where processes cannot be
// inspected (neither /proc nor Windows) it reports false.
func Alive(pid int) bool { return alive(pid) }

// WaitDead reports whether pid is dead (or a zombie) within five seconds: a killed process
// takes a moment to go.
func WaitDead(pid int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for Alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Nobody returns the uid and primary gid of the account scripts run as by default.
func Nobody(tb testing.TB) (uid, gid int) {
	tb.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		tb.Fatalf("look up nobody: %v", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		tb.Fatalf("nobody has uid %q gid %q", u.Uid, u.Gid)
	}
	return uid, gid
}

// SyncBuffer collects output (logs, a child's stderr) written from many goroutines.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Reply is what a test keeps of a response. Do and ReadReply read the body whole and the
// body is closed where the response was received, so no test leaves a connection open
// (and the bodyclose linter can see it).
type Reply struct {
	StatusCode int
	Status     string
	Header     http.Header
	Close      bool
	Request    *http.Request
}

// Do sends req with client and returns the reply and its body; any error ends the test.
func Do(t testing.TB, client *http.Client, req *http.Request) (*Reply, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	r, body, err := ReadReply(resp)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return r, body
}

// ReadReply reads resp's body whole; the caller closes it.
func ReadReply(resp *http.Response) (*Reply, string, error) {
	b, err := io.ReadAll(resp.Body)
	r := &Reply{StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header, Close: resp.Close, Request: resp.Request}
	if err != nil {
		err = fmt.Errorf("reading body: %w", err)
	}
	return r, string(b), err
}
