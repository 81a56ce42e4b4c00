package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/crypto/bcrypt"

	"github.com/cgihttpd/cgihttpd/executor"
)

// passwdLine returns an htpasswd line for user with a bcrypt hash of password.
func passwdLine(t testing.TB, user, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return user + ":" + string(h) + "\n"
}

func writePasswd(t testing.TB, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// authSite is a root with a script and a page under /app and the same outside it.
func authSite(t *testing.T, auth AuthConfig, passAuth bool) (*Server, *envExecutor) {
	t.Helper()
	root := t.TempDir()
	writeSite(t, root, map[string]string{
		"app/tool.cgi":        "APP-TOOL",
		"app/page.txt":        "APP-PAGE",
		"apple/page.txt":      "APPLE-PAGE",
		"cgi-bin/open.sh":     "OPEN-SCRIPT",
		"cgi-bin/app/deep.sh": "DEEP",
	})
	exec := &envExecutor{}
	s, err := New(Config{Root: root, Executor: exec, ExecutorMode: "native", CGIExtensions: []string{".cgi"}, Auth: auth, PassAuth: passAuth}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, exec
}

// request sends target from the client address with Basic credentials (user "" for none).
func request(s *Server, client, target, user, password string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = client + ":40000"
	if strings.Contains(client, ":") {
		r.RemoteAddr = "[" + client + "]:40000"
	}
	if user != "" {
		r.SetBasicAuth(user, password)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	return rec
}

// TestAuthProtectsPaths: protected paths (scripts and files) want credentials, verified ones
// reach the script as REMOTE_USER, and nothing else ever does.
func TestAuthProtectsPaths(t *testing.T) {
	file := writePasswd(t, passwdLine(t, "alice", "s3cret"), passwdLine(t, "bob", "other"))
	s, exec := authSite(t, AuthConfig{File: file, Paths: []string{"/app", "/cgi-bin/app/"}, Realm: `Team "A"`, MaxFailures: -1}, false)
	const client = "192.0.2.10"
	targets := []string{"/app/tool.cgi/x", "/app/page.txt", "/app/", "/app", "/APP/../app/page.txt", "/cgi-bin/app/deep.sh"}
	if caseInsensitiveNames {
		targets = append(targets, "/APP/page.txt", "/App/tool.cgi") // the same files there
	}
	for _, target := range targets {
		for _, creds := range [][2]string{{"", ""}, {"alice", "wrong"}, {"mallory", "s3cret"}, {"alice", ""}} {
			rec := request(s, client, target, creds[0], creds[1])
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("GET %s as %q: %d, want 401", target, creds[0], rec.Code)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="Team \"A\"", charset="UTF-8"` {
				t.Errorf("GET %s: WWW-Authenticate %q", target, got)
			}
			if strings.Contains(rec.Body.String(), "APP-") {
				t.Errorf("GET %s without valid credentials revealed %q", target, rec.Body)
			}
		}
	}
	if runs := exec.ran(); len(runs) != 0 {
		t.Fatalf("ran %q without valid credentials", runs)
	}
	rec := request(s, client, "/app/tool.cgi/x", "alice", "s3cret")
	env := strings.Split(rec.Body.String(), "\n")
	if rec.Code != http.StatusOK || !slices.Contains(env, "REMOTE_USER=alice") || !slices.Contains(env, "AUTH_TYPE=Basic") {
		t.Errorf("as alice: %d, env:\n%s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "HTTP_AUTHORIZATION") {
		t.Errorf("the Authorization header reached the script without --pass-auth:\n%s", rec.Body)
	}
	if rec := request(s, client, "/app/page.txt", "bob", "other"); rec.Code != http.StatusOK || rec.Body.String() != "APP-PAGE" {
		t.Errorf("page as bob: %d %q", rec.Code, rec.Body)
	}
	// Open paths need nothing, and a Basic header there (valid or not) is never believed.
	for _, creds := range [][2]string{{"", ""}, {"alice", "s3cret"}, {"alice", "wrong"}} {
		rec := request(s, client, "/cgi-bin/open.sh", creds[0], creds[1])
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "REMOTE_USER") || strings.Contains(rec.Body.String(), "AUTH_TYPE") {
			t.Errorf("open script with %q: %d\n%s", creds, rec.Code, rec.Body)
		}
	}
	if rec := request(s, client, "/apple/page.txt", "", ""); rec.Code != http.StatusOK {
		t.Errorf("/apple is not below /app: %d", rec.Code)
	}
}

// TestAuthPassAuth: with PassAuth the script also gets the header, and it protects all paths
// by default.
func TestAuthPassAuth(t *testing.T) {
	file := writePasswd(t, passwdLine(t, "alice", "s3cret"))
	s, _ := authSite(t, AuthConfig{File: file}, true)
	if rec := request(s, "192.0.2.1", "/apple/page.txt", "", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("every path is protected by default: %d", rec.Code)
	}
	rec := request(s, "192.0.2.1", "/cgi-bin/open.sh", "alice", "s3cret")
	if !strings.Contains(rec.Body.String(), "\nHTTP_AUTHORIZATION=Basic ") || !strings.Contains(rec.Body.String(), "\nREMOTE_USER=alice\n") {
		t.Errorf("with PassAuth: %d\n%s", rec.Code, rec.Body)
	}
}

// TestAuthFileReload: a changed file is re-read; one that cannot be read leaves the old users.
func TestAuthFileReload(t *testing.T) {
	file := writePasswd(t, passwdLine(t, "alice", "one"))
	s, _ := authSite(t, AuthConfig{File: file, MaxFailures: -1}, false)
	s.auth.file.poll = 0
	ok := func(user, password string) bool {
		return request(s, "192.0.2.1", "/app/page.txt", user, password).Code == http.StatusOK
	}
	if !ok("alice", "one") || ok("bob", "two") {
		t.Fatal("first version not in force")
	}
	// Replaced by rename, as editors and htpasswd-like tools do: a new identity.
	next := file + ".new"
	if err := os.WriteFile(next, []byte(passwdLine(t, "bob", "two")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, file); err != nil {
		t.Fatal(err)
	}
	if ok("alice", "one") || !ok("bob", "two") {
		t.Error("the renamed-over file was not re-read")
	}
	// Rewritten in place with the same size: the times tell.
	line := passwdLine(t, "carol", "two")
	if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(file, future, future); err != nil {
		t.Fatal(err)
	}
	if ok("bob", "two") || !ok("carol", "two") {
		t.Error("the file rewritten in place was not re-read")
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if !ok("carol", "two") {
		t.Error("a missing file dropped the users read before")
	}
}

// TestAuthFileLines: comments, blank lines, duplicates and refused forms.
func TestAuthFileLines(t *testing.T) {
	file := writePasswd(t, "# a comment\n\n", passwdLine(t, "alice", "first"), passwdLine(t, "alice", "second"),
		"plain:secret\n", "sha:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n", "des:rqXexS6ZhobKA\n", "nocolon\n", ":nouser\n")
	s, _ := authSite(t, AuthConfig{File: file, MaxFailures: -1}, false)
	for _, c := range []struct {
		user, password string
		want           int
	}{
		{"alice", "first", 200}, {"alice", "second", 401}, {"plain", "secret", 401}, {"sha", "secret", 401},
		{"des", "test", 401}, {"nocolon", "", 401}, {"", "nouser", 401},
	} {
		if rec := request(s, "192.0.2.1", "/app/page.txt", c.user, c.password); rec.Code != c.want {
			t.Errorf("%s:%s: %d, want %d", c.user, c.password, rec.Code, c.want)
		}
	}
}

// TestAuthConfig: what New refuses.
func TestAuthConfig(t *testing.T) {
	file := writePasswd(t, passwdLine(t, "alice", "x"))
	for name, auth := range map[string]AuthConfig{
		"missing file":      {File: filepath.Join(t.TempDir(), "none")},
		"directory":         {File: t.TempDir()},
		"relative path":     {File: file, Paths: []string{"app"}},
		"control in realm":  {File: file, Realm: "a\nb"},
		"paths and no file": {Paths: []string{"/app"}},
	} {
		s, err := New(Config{Root: t.TempDir(), Executor: fakeExecutor{}, Auth: auth}, nil)
		if err == nil {
			_ = s.Close()
			t.Errorf("%s: New accepted %+v", name, auth)
		}
	}
	empty := writePasswd(t, "# nobody yet\n")
	s, _ := authSite(t, AuthConfig{File: empty}, false)
	if rec := request(s, "192.0.2.1", "/app/page.txt", "alice", "x"); rec.Code != http.StatusUnauthorized {
		t.Errorf("a file without users: %d, want 401", rec.Code)
	}
}

// TestWarnIfCleartextAuth: the warning is for a listener off loopback without TLS, with auth.
func TestWarnIfCleartextAuth(t *testing.T) {
	var out strings.Builder
	file := writePasswd(t, passwdLine(t, "alice", "x"))
	s, err := New(Config{Root: t.TempDir(), Executor: fakeExecutor{}, Auth: AuthConfig{File: file}}, hclog.New(&hclog.LoggerOptions{Output: &out}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	loop := &net.TCPAddr{IP: net.IPv6loopback, Port: 8000}
	wild := &net.TCPAddr{IP: net.IPv4zero, Port: 8000}
	s.WarnIfCleartextAuth(loop, false)
	s.WarnIfCleartextAuth(wild, true)
	if strings.Contains(out.String(), "clear text") {
		t.Errorf("warned for loopback or TLS: %s", out.String())
	}
	s.WarnIfCleartextAuth(wild, false)
	if !strings.Contains(out.String(), "clear text") {
		t.Errorf("no warning for 0.0.0.0 without TLS: %q", out.String())
	}
}

// TestAuthByRealLocation: a protected directory's files want credentials by every name: a
// symlink from an open path to a file, a script or the directory itself, an index page.
func TestAuthByRealLocation(t *testing.T) {
	file := writePasswd(t, passwdLine(t, "alice", "s3cret"))
	s, exec := authSite(t, AuthConfig{File: file, Paths: []string{"/app"}, MaxFailures: -1}, false)
	root := s.Root()
	writeSite(t, root, map[string]string{"app/sub/index.html": "APP-INDEX", "open/page.txt": "OPEN-PAGE"})
	symlinkOrSkip(t, filepath.Join("..", "app", "page.txt"), filepath.Join(root, "open", "page-link"))
	symlinkOrSkip(t, filepath.Join("..", "app", "tool.cgi"), filepath.Join(root, "open", "tool.cgi"))
	symlinkOrSkip(t, filepath.Join("..", "app"), filepath.Join(root, "open", "dir"))
	symlinkOrSkip(t, filepath.Join("..", "app", "sub", "index.html"), filepath.Join(root, "open", "index.html"))
	for _, target := range []string{"/open/page-link", "/open/tool.cgi/x", "/open/dir/", "/open/dir/page.txt", "/open/dir/sub/", "/open/"} {
		rec := request(s, "192.0.2.1", target, "", "")
		if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "APP-") || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s without credentials: %d %q, want 401", target, rec.Code, rec.Body)
		}
		if rec := request(s, "192.0.2.1", target, "alice", "s3cret"); rec.Code != http.StatusOK {
			t.Errorf("GET %s as alice: %d, want 200", target, rec.Code)
		}
	}
	if runs := exec.ran(); len(runs) != 1 {
		t.Errorf("ran %q, want tool.cgi once (with credentials)", runs)
	}
	rec := request(s, "192.0.2.1", "/open/tool.cgi", "alice", "s3cret")
	if !strings.Contains(rec.Body.String(), "\nREMOTE_USER=alice\n") {
		t.Errorf("a script reached by a symlink into /app did not get REMOTE_USER:\n%s", rec.Body)
	}
	if rec := request(s, "192.0.2.1", "/open/page.txt", "", ""); rec.Code != http.StatusOK {
		t.Errorf("an open file: %d", rec.Code)
	}
}

// redirectExecutor answers every script with a local redirect to its source's text.
type redirectExecutor struct{}

func (redirectExecutor) Run(_ context.Context, inv *executor.Invocation) error {
	src, err := io.ReadAll(io.NewSectionReader(inv.File, 0, 1<<10))
	if err != nil {
		return fmt.Errorf("read %s: %w", inv.Path, err)
	}
	_, err = fmt.Fprintf(inv.Stdout, "Location: %s\n\n", src)
	return err
}

func (redirectExecutor) Name() string { return "redirect" }

// TestAuthLocalRedirect: an open script's local redirect into a protected path is checked
// like the client's own request.
func TestAuthLocalRedirect(t *testing.T) {
	root := t.TempDir()
	writeSite(t, root, map[string]string{"cgi-bin/go.sh": "/app/page.txt", "app/page.txt": "APP-PAGE"})
	s, err := New(Config{Root: root, Executor: redirectExecutor{}, ExecutorMode: "native",
		Auth: AuthConfig{File: writePasswd(t, passwdLine(t, "alice", "s3cret")), Paths: []string{"/app"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if rec := request(s, "192.0.2.1", "/cgi-bin/go.sh", "", ""); rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "APP-PAGE") {
		t.Errorf("redirect into /app without credentials: %d %q", rec.Code, rec.Body)
	}
	if rec := request(s, "192.0.2.1", "/cgi-bin/go.sh", "alice", "s3cret"); rec.Code != http.StatusOK || rec.Body.String() != "APP-PAGE" {
		t.Errorf("redirect into /app as alice: %d %q", rec.Code, rec.Body)
	}
}

// TestAuthAccessLog: the access line names the verified user (CLF's authuser field), quoted
// when the name has a space, and "-" when there is none.
func TestAuthAccessLog(t *testing.T) {
	var out strings.Builder
	file := writePasswd(t, passwdLine(t, "alice", "s3cret"), passwdLine(t, "bob smith", "x"))
	s, err := New(Config{Root: t.TempDir(), Executor: fakeExecutor{}, Auth: AuthConfig{File: file}},
		hclog.New(&hclog.LoggerOptions{Output: &out}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	request(s, "192.0.2.1", "/a", "alice", "s3cret")
	request(s, "192.0.2.1", "/b", "bob smith", "x")
	request(s, "192.0.2.1", "/c", "alice", "wrong")
	for _, want := range []string{`192.0.2.1 - alice [`, `192.0.2.1 - "bob smith" [`, `192.0.2.1 - - [`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("access log lacks %q:\n%s", want, out.String())
		}
	}
}

// TestAuthFileInsideRoot: a password file that could be downloaded is warned about.
func TestAuthFileInsideRoot(t *testing.T) {
	root := t.TempDir()
	inside := filepath.Join(root, ".htpasswd")
	if err := os.WriteFile(inside, []byte(passwdLine(t, "alice", "x")), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]bool{inside: true, writePasswd(t, passwdLine(t, "alice", "x")): false} {
		var out strings.Builder
		s, err := New(Config{Root: root, Executor: fakeExecutor{}, Auth: AuthConfig{File: file}}, hclog.New(&hclog.LoggerOptions{Output: &out}))
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		if got := strings.Contains(out.String(), "inside the document root"); got != want {
			t.Errorf("%s: warned %v, want %v:\n%s", file, got, want, out.String())
		}
	}
}
