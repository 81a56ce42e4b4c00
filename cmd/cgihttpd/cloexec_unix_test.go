//go:build unix

package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// startServer runs the test binary as cgihttpd with args on a free port of 127.0.0.1, with
// extra as descriptors 3 and up, and returns its base URL; the server is killed when the
// test ends.
func startServer(t *testing.T, args []string, extra []*os.File) (base string, logs *testutil.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append(args, "-b", "127.0.0.1", "0")...)
	cmd.Env = append(os.Environ(), runMainVar+"=1")
	cmd.ExtraFiles = extra
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs = &testutil.SyncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no startup line: %v; log:\n%s", err, logs.String())
	}
	base = regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(line)
	if base == "" {
		t.Fatalf("startup line %q names no URL", line)
	}
	return base, logs
}

// TestInheritedDescriptorsDoNotReachScripts starts the server with descriptors 3 to 7 open,
// 7 on a file only root may write, and has a script try to use descriptor 7.
func TestInheritedDescriptorsDoNotReachScripts(t *testing.T) {
	testutil.CheckLeaks(t)
	root := testutil.WorldDir(t)
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "root-only.log")
	var extra []*os.File
	for i := 3; i <= 7; i++ {
		f, err := os.OpenFile(secret, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		extra = append(extra, f)
	}
	script := "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n" +
		"if ( echo leaked >&7 ) 2>/dev/null; then echo fd7=open; else echo fd7=closed; fi\n" +
		// On Linux descriptor 3 is the script itself (it runs from the descriptor the server
		// checked): it must not be the server's descriptor 3.
		"echo fd3=$(readlink /proc/self/fd/3 2>/dev/null || echo closed)\n"
	if err := os.Mkdir(filepath.Join(root, "cgi-bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "cgi-bin", "fd.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	base, logs := startServer(t, []string{"-d", root}, extra)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(base + "/cgi-bin/fd.sh")
	if err != nil {
		t.Fatal(err)
	}
	r, body, err := testutil.ReadReply(resp)
	_ = resp.Body.Close()
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("fd.sh: %v %d %q; log:\n%s", err, r.StatusCode, body, logs.String())
	}
	if !strings.Contains(body, "fd7=closed") {
		t.Errorf("descriptor 7 of the server is open in a script: %q", body)
	}
	if _, err := os.Stat("/proc/self/fd"); err == nil && strings.Contains(body, secret) {
		t.Errorf("descriptor 3 of the server is open in a script: %q", body)
	}
	if b, err := os.ReadFile(secret); err != nil || len(b) != 0 {
		t.Errorf("the root-only file holds %q (%v); want it untouched", b, err)
	}
}

// TestMarkUpToLimit checks the fallback used where close_range is missing.
func TestMarkUpToLimit(t *testing.T) {
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Close(fds[0]); _ = unix.Close(fds[1]) }()
	if _, err := unix.FcntlInt(uintptr(fds[1]), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	if err := markUpToLimit(); err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("descriptor %d: flags %#x, %v; want close-on-exec", fd, flags, err)
		}
	}
}
