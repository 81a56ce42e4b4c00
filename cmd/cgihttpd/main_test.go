package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/executor"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// runMainVar makes the test binary act as cgihttpd itself, for the end-to-end test.
const runMainVar = "CGIHTTPD_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	executor.RunWorkerIfRequested() // main's workers run this test binary, without runMainVar
	if os.Getenv(runMainVar) != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestBadCommandLinesExit2WithOneLine(t *testing.T) {
	dir := t.TempDir()
	cases := [][]string{
		{"--no-such-flag"},
		{"notaport"},
		{"70000"},
		{"8000", "8001"},
		{"--timeout", "-1s"},
		{"--timeout", "soon"},
		{"--log-level", "loud"},
		{"--executor", "fastest"},
		{"--max-header-bytes", "10"},
		{"--read-header-timeout", "0s"},
		{"--env", "NOEQUALS"},
		{"--uid-range", "70000-60000"},
		{"--uid-range", "0-10"},
		{"--uid-range", "60000"},
		{"--spool-budget", "100"},
		{"--max-body", "lots"},
		{"--max-body", "-1"},
		{"--interpreter", "py=python"},
		{"--body-timeout", "-1s"},
		{"--max-scripts", "-1"},
		{"--directory", filepath.Join(dir, "missing")},
		{"--directory", filepath.Join(dir, "file")},
		{"--cgi-dir", "relative", "-d", dir},
		{"--auth-path", "/private", "-d", dir},
		{"--auth-file", filepath.Join(dir, "missing"), "-d", dir},
		{"--auth-file", filepath.Join(dir, "file"), "--auth-path", "relative", "-d", dir},
		{"--cgi-ext", "cgi", "-d", dir},
		{"--index", "a/index.cgi", "-d", dir},
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 && runtime.GOOS != "windows" {
		cases = append(cases, []string{"--user", "no-such-user-cgihttpd", "-d", dir}, []string{"--user", "root", "-d", dir})
	}
	for _, args := range cases {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
		if code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "cgihttpd: ") {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line", args, code, stderr.String())
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, flag := range []string{"--bind", "--directory", "--cgi\n", "--cgi-dir", "--user", "--timeout", "--shutdown-grace", "--pass-env", "--env",
		"--pass-auth", "--limit-cpu", "--limit-memory", "--limit-nofile", "--max-scripts", "--read-header-timeout", "--keepalive-timeout", "--max-header-bytes", "--header-timeout", "--trusted-proxy", "--status-addr", "--executor", "--inproc-allow-goroutines", "--log-level", "--log-json", "--version", "[port]"} {
		if !strings.Contains(stdout.String(), flag) {
			t.Errorf("--help does not explain %s", flag)
		}
	}
	stdout.Reset()
	if code := run([]string{"--version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "cgihttpd ") {
		t.Errorf("--version: exit %d, %q", code, stdout.String())
	}
}

// TestExampleSite runs the README's first command (cgihttpd on examples/site, here on a free
// port) and walks the example site as a browser would, then stops it with SIGTERM.
func TestExampleSite(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the example site's scripts are POSIX shell scripts")
	}
	testutil.CheckLeaks(t)
	site, err := filepath.Abs(filepath.Join("..", "..", "examples", "site"))
	if err != nil {
		t.Fatal(err)
	}
	// Copy the site where nobody can reach it: the checkout may sit under a private directory.
	root := filepath.Join(testutil.WorldDir(t), "site")
	if err := os.CopyFS(root, os.DirFS(site)); err != nil {
		t.Fatal(err)
	}
	fixModes(t, site, root)

	// A script that answers, then hangs with a child: the shutdown must kill both.
	hang := "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nsleep 60 &\necho $$ $!\nwait\n"
	if err := os.WriteFile(filepath.Join(root, "cgi-bin", "hang.sh"), []byte(hang), 0o755); err != nil {
		t.Fatal(err)
	}

	// A long grace: the second SIGINT below must cut it short.
	cmd := exec.Command(os.Args[0], "--directory", root, "--shutdown-grace", "1m", "0")
	cmd.Env = append(os.Environ(), runMainVar+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs testutil.SyncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no startup line: %v; log:\n%s", err, logs.String())
	}
	base := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(line)
	if base == "" {
		t.Fatalf("startup line %q names no URL", line)
	}
	base = strings.TrimSuffix(base, "/")
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	get := func(path string) (*testutil.Reply, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return testutil.Do(t, client, req)
	}
	if resp, body := get("/"); resp.StatusCode != 200 || !strings.Contains(body, "cgihttpd example site") {
		t.Errorf("index: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("/cgi-bin/hello.sh"); resp.StatusCode != 200 || !strings.Contains(body, "Hello, world!") {
		t.Errorf("hello.sh: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("/htbin/hello.sh"); resp.StatusCode != 200 || !strings.Contains(body, "htbin") {
		t.Errorf("htbin: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("/cgi-bin/env.sh"); resp.StatusCode != 200 || !strings.Contains(body, "GATEWAY_INTERFACE=CGI/1.1") ||
		strings.Contains(body, runMainVar) {
		t.Errorf("env.sh: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("/cgi-bin/nph-hello.sh"); resp.StatusCode != 200 || !strings.Contains(body, "nph") {
		t.Errorf("nph: %d %q", resp.StatusCode, body)
	}
	if resp, body := get("/files/"); resp.StatusCode != 200 || !strings.Contains(body, "hello.txt") {
		t.Errorf("listing: %d %q", resp.StatusCode, body)
	}
	form := url.Values{"name": {"<Ada>"}, "message": {"hi & bye"}}
	post := func(path string) (*testutil.Reply, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return testutil.Do(t, client, req)
	}
	if resp, b := post("/cgi-bin/form.sh"); resp.StatusCode != 200 || !strings.Contains(b, "&lt;Ada&gt;") || strings.Contains(b, "<Ada>") {
		t.Errorf("form.sh: %d %q", resp.StatusCode, b)
	}
	// The Go guestbook runs in-process.
	if resp, b := post("/cgi-bin/guestbook.go"); resp.StatusCode != 200 || !strings.Contains(b, "Thanks, <strong>&lt;Ada&gt;</strong>") {
		t.Errorf("guestbook.go: %d %q", resp.StatusCode, b)
	}
	// Redirect-after-POST: 303 to the thanks page, which the client follows with a GET.
	if resp, b := post("/cgi-bin/guestbook-redirect.sh"); resp.StatusCode != 200 || resp.Request.Method != "GET" ||
		!strings.Contains(resp.Request.URL.Path, "thanks.sh") || !strings.Contains(b, "&lt;Ada&gt;") {
		t.Errorf("redirect after POST ended at %s %s: %d %q", resp.Request.Method, resp.Request.URL, resp.StatusCode, b)
	}

	// Shutdown with a script still running: it gets the grace, then its group is killed.
	// Ten of them, each with a child.
	var pids []int
	for i := 0; i < 10; i++ {
		hanging, err := client.Get(base + "/cgi-bin/hang.sh")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = hanging.Body.Close() }()
		var shPID, sleepPID int
		if _, err := fmt.Fscan(hanging.Body, &shPID, &sleepPID); err != nil {
			t.Fatalf("hang.sh did not report its pids: %v", err)
		}
		pids = append(pids, shPID, sleepPID)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if !waitForText(&logs, "shutting down") {
		t.Fatalf("no shutdown after SIGINT; log:\n%s", logs.String())
	}
	stopping := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGINT: %v (want exit 0); log:\n%s", err, logs.String())
	}
	if d := time.Since(stopping); d > 20*time.Second {
		t.Errorf("the second SIGINT took %v to end the server, not at once", d)
	}
	for _, pid := range pids {
		if !testutil.WaitDead(pid) {
			t.Errorf("script process %d outlived the server's shutdown", pid)
		}
	}
	if !strings.Contains(logs.String(), `"GET /cgi-bin/hello.sh HTTP/1.1" 200`) {
		t.Errorf("no access log line in:\n%s", logs.String())
	}
}

// fixModes gives the copy the permissions of the original (os.CopyFS drops them), made
// world-readable so that nobody can run the scripts.
func fixModes(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		mode := info.Mode().Perm() | 0o444
		if info.IsDir() || info.Mode().Perm()&0o100 != 0 {
			mode |= 0o111
		}
		return os.Chmod(filepath.Join(to, rel), mode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitForText polls b for s for up to ten seconds.
func waitForText(b *testutil.SyncBuffer, s string) bool {
	return waitForTextWithin(b, s, 10*time.Second)
}

// waitForTextWithin polls b for s for up to d.
func waitForTextWithin(b *testutil.SyncBuffer, s string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(b.String(), s) {
			return true
		}
	}
	return false
}
