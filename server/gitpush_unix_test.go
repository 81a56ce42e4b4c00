//go:build unix

package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// TestGitPushThroughHTTPBackend pushes with git over HTTP through git-http-backend, installed
// as a .cgi file outside any CGI directory (--cgi-ext) and protected by --auth-file: without
// credentials, with a wrong password or an unknown user the push is refused with 401; with
// them it lands in the bare repository, and the script saw REMOTE_USER (and not the
// Authorization header), running as nobody when the test runs as root.
func TestGitPushThroughHTTPBackend(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	execPath, err := exec.Command(gitBin, "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("git-http-backend not installed: %v", err)
	}
	testutil.CheckLeaks(t)
	base := testutil.WorldDir(t)
	site, repos, work, home := filepath.Join(base, "site"), filepath.Join(base, "repos"), t.TempDir(), t.TempDir()
	seen := filepath.Join(base, "seen.log")
	for _, d := range []string{filepath.Join(site, "git"), repos} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(seen, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(seen, 0o666); err != nil { // past the umask: the script user appends
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s|%%s|%%s|%%s\\n' \"$REMOTE_USER\" \"$AUTH_TYPE\" \"${HTTP_AUTHORIZATION-unset}\" \"$(id -u)\" >>%s\nexec %s\n", seen, backend)
	if err := os.WriteFile(filepath.Join(site, "git", "repo.cgi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
			"GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	bare := filepath.Join(repos, "project.git")
	git(repos, "init", "--bare", "-q", "-b", "main", bare)
	scriptUID := os.Getuid()
	if os.Geteuid() == 0 {
		uid, gid := testutil.Nobody(t)
		scriptUID = uid
		if err := filepath.Walk(bare, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		}); err != nil {
			t.Fatal(err)
		}
	}
	git(work, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(work, "add", "hello.txt")
	git(work, "commit", "-q", "-m", "first")
	head := git(work, "rev-parse", "HEAD")

	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), 5)
	if err != nil {
		t.Fatal(err)
	}
	passwd := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(passwd, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Root:          site,
		CGIExtensions: []string{".cgi"},
		Auth:          server.AuthConfig{File: passwd, Paths: []string{"/git"}},
		Env:           []string{"GIT_PROJECT_ROOT=" + repos, "GIT_HTTP_EXPORT_ALL=1"},
		Timeout:       2 * time.Minute,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	repoURL := hs.URL + "/git/repo.cgi/project.git"

	// The requests git starts a push with, without and with bad credentials: 401.
	for _, creds := range [][2]string{{"", ""}, {"alice", "wrong"}, {"mallory", "s3cret"}} {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, repoURL+"/info/refs?service=git-receive-pack", nil)
		if err != nil {
			t.Fatal(err)
		}
		if creds[0] != "" {
			req.SetBasicAuth(creds[0], creds[1])
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
			t.Errorf("info/refs as %q: %d %q, want 401 with a Basic challenge", creds[0], resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	push := func(u string) error {
		cmd := exec.Command(gitBin, "push", "-q", u, "main")
		cmd.Dir = work
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/false"}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%w: %s", err, out.String())
		}
		return nil
	}
	withCreds := func(user, password string) string {
		u, err := url.Parse(repoURL)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(user, password)
		return u.String()
	}
	for _, u := range []string{repoURL, withCreds("alice", "wrong"), withCreds("mallory", "s3cret")} {
		if err := push(u); err == nil {
			t.Fatalf("push to %s succeeded", u)
		} else if !strings.Contains(err.Error(), "401") && !strings.Contains(err.Error(), "Authentication failed") &&
			!strings.Contains(err.Error(), "could not read Username") {
			t.Errorf("push to %s failed, but not for want of credentials: %v", u, err)
		}
	}
	if out, err := exec.Command(gitBin, "--git-dir", bare, "rev-parse", "--verify", "-q", "main").CombinedOutput(); err == nil {
		t.Fatalf("the bare repository has main (%s) before any accepted push", out)
	}
	if err := push(withCreds("alice", "s3cret")); err != nil {
		t.Fatalf("push with credentials: %v", err)
	}
	got, err := exec.Command(gitBin, "-c", "safe.directory=*", "--git-dir", bare, "rev-parse", "main").Output()
	if err != nil || strings.TrimSpace(string(got)) != head {
		t.Errorf("bare repository has main at %q (%v), want the pushed %s", got, err, head)
	}
	log, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	want := "alice|Basic|unset|" + strconv.Itoa(scriptUID)
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) < 2 {
		t.Fatalf("the script ran %d times, want the push's requests:\n%s", len(lines), log)
	}
	for _, line := range lines {
		if line != want {
			t.Errorf("the script saw %q, want %q (REMOTE_USER|AUTH_TYPE|HTTP_AUTHORIZATION|uid)", line, want)
		}
	}
}
