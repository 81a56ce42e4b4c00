package platform_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// TestCGIExtAndAuthEveryExecutor: a script by extension outside the CGI directories (the
// executor's own kind of file: the test binary, named .cgi where programs need no extension
// and .exe on Windows, or a .go script) runs through every executor of this platform with
// PATH_INFO, and behind --auth-path gets REMOTE_USER once the password is checked, never the
// Authorization header.
func TestCGIExtAndAuthEveryExecutor(t *testing.T) {
	factories := executorFactories()
	if len(factories) == 0 {
		t.Skip("this platform has no executor yet")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	passwd := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(passwd, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range factories {
		t.Run(f.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			ext := f.ext
			if ext == "" {
				ext = ".cgi"
			}
			env := startServer(t, f, func(c *server.Config) {
				c.CGIExtensions = []string{ext}
				c.Auth = server.AuthConfig{File: passwd, Paths: []string{"/app/private"}}
			})
			mkdirAll(t, filepath.Join(env.root, "app", "private"))
			// Each copy of the child acts on its name, minus the extension: these are "env".
			f.install(t, filepath.Join(env.root, "app", "env"+ext))
			f.install(t, filepath.Join(env.root, "app", "private", "env"+ext))
			get := func(path, user, password string) (int, []string) {
				t.Helper()
				req, err := http.NewRequest(http.MethodGet, env.url+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if user != "" {
					req.SetBasicAuth(user, password)
				}
				resp, err := env.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = resp.Body.Close() }()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode, strings.Split(string(body), "\n")
			}
			code, lines := get("/app/env"+ext+"/extra?x=1", "", "")
			for _, want := range []string{"PATH_INFO=/extra", "SCRIPT_NAME=/app/env" + ext, "QUERY_STRING=x=1"} {
				if code != http.StatusOK || !slices.Contains(lines, want) {
					t.Errorf("GET /app/env%s/extra?x=1: %d, no %s in\n%s", ext, code, want, strings.Join(lines, "\n"))
				}
			}
			for _, creds := range [][2]string{{"", ""}, {"alice", "wrong"}} {
				if code, _ := get("/app/private/env"+ext, creds[0], creds[1]); code != http.StatusUnauthorized {
					t.Errorf("protected script as %q: %d, want 401", creds[0], code)
				}
			}
			code, lines = get("/app/private/env"+ext+"/p", "alice", "s3cret")
			if code != http.StatusOK || !slices.Contains(lines, "REMOTE_USER=alice") || !slices.Contains(lines, "AUTH_TYPE=Basic") ||
				!slices.Contains(lines, "PATH_INFO=/p") {
				t.Errorf("protected script as alice: %d\n%s", code, strings.Join(lines, "\n"))
			}
			for _, l := range lines {
				if strings.HasPrefix(l, "HTTP_AUTHORIZATION=") {
					t.Errorf("the script got %s", l)
				}
			}
		})
	}
}
