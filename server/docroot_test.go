package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cgihttpd/cgihttpd/executor"
)

// recordingExecutor answers every script with the bytes of the file it was handed, so a test
// sees which file would have run.
type recordingExecutor struct {
	mu   sync.Mutex
	runs []string
}

func (e *recordingExecutor) Run(_ context.Context, inv *executor.Invocation) error {
	if inv.File == nil {
		return fmt.Errorf("%w: no opened file for %s", executor.ErrStart, inv.Path)
	}
	src, err := io.ReadAll(io.NewSectionReader(inv.File, 0, 1<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", inv.Path, err)
	}
	e.mu.Lock()
	e.runs = append(e.runs, string(src))
	e.mu.Unlock()
	_, err = fmt.Fprintf(inv.Stdout, "Content-Type: text/plain\n\nRAN %s", src)
	return err
}

func (*recordingExecutor) Name() string { return "recording" }

// TestAliases: every other name for a script, a CGI directory or an executable outside the
// CGI directories. None serves a script's source or lists a CGI directory; nothing outside a
// CGI directory runs. The controls show that the same kinds of names work where allowed.
func TestAliases(t *testing.T) {
	root := t.TempDir()
	for name, body := range map[string]string{
		"cgi-bin/env.sh":      "SCRIPT-ENV",
		"cgi-bin/sub/deep.sh": "SCRIPT-DEEP",
		"static2/tool.sh":     "STATIC-TOOL",
		"static2/page.txt":    "STATIC-PAGE",
		"static2/shared.txt":  "STATIC-SHARED",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"src.txt":          "cgi-bin/env.sh",
		"alias":            "cgi-bin/sub",
		"abs-alias":        filepath.Join(root, "cgi-bin"),
		"cgi-bin/up":       "../static2",
		"cgi-bin/tool.sh":  "../static2/tool.sh",
		"cgi-bin/again.sh": "sub/deep.sh",
		"page-link.txt":    "static2/page.txt",
	} {
		symlinkOrSkip(t, filepath.FromSlash(target), filepath.Join(root, filepath.FromSlash(link)))
	}
	hardLinks := runtime.GOOS != "windows" // fstat there gives no link count
	if hardLinks {
		for link, target := range map[string]string{"hard.txt": "cgi-bin/env.sh", "cgi-bin/hl.sh": "static2/shared.txt"} {
			if err := os.Link(filepath.Join(root, filepath.FromSlash(target)), filepath.Join(root, filepath.FromSlash(link))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("openat2=%v", fast), func(t *testing.T) { testAliases(t, root, hardLinks, fast) })
	}
}

func testAliases(t *testing.T, root string, hardLinks, fast bool) {
	exec := &recordingExecutor{}
	s, err := New(Config{Root: root, Executor: exec, ExecutorMode: "native"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if !fast {
		s.docs.fast.close()
		s.docs.fast = noBeneath
	}
	get := func(target string) (int, string) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://x"+target, nil))
		return rec.Code, rec.Body.String()
	}
	refused := []string{
		"/src.txt", "/alias/", "/alias", "/alias/deep.sh", "/abs-alias/env.sh", "/abs-alias/",
		"/cgi-bin/up/tool.sh", "/cgi-bin/up/page.txt", "/cgi-bin/tool.sh",
	}
	if hardLinks {
		refused = append(refused, "/hard.txt", "/static2/shared.txt")
	}
	for _, target := range refused {
		code, body := get(target)
		if code != http.StatusNotFound || strings.Contains(body, "SCRIPT-") || strings.Contains(body, "STATIC-") ||
			strings.Contains(body, "Directory listing") {
			t.Errorf("GET %s: %d, want 404 revealing nothing:\n%s", target, code, body)
		}
	}
	if len(exec.runs) != 0 {
		t.Errorf("ran %q; nothing outside a CGI directory may run", exec.runs)
	}
	for target, want := range map[string]string{
		"/cgi-bin/env.sh":   "RAN SCRIPT-ENV",
		"/cgi-bin/again.sh": "RAN SCRIPT-DEEP", // a symlink that stays in the CGI directory
		"/page-link.txt":    "STATIC-PAGE",
		"/static2/tool.sh":  "STATIC-TOOL",
	} {
		if code, body := get(target); code != http.StatusOK || body != want {
			t.Errorf("GET %s: %d %q, want 200 %q", target, code, body, want)
		}
	}
	if hardLinks {
		// Both names of a hard link are real: the one in the CGI directory runs.
		if code, body := get("/cgi-bin/hl.sh"); code != http.StatusOK || body != "RAN STATIC-SHARED" {
			t.Errorf("GET /cgi-bin/hl.sh: %d %q", code, body)
		}
	}
}

// TestListingLeavesOutEscapingSymlinks: an entry whose symlink leaves the root is not listed,
// so nothing of what lies outside (not even its size or time) shows.
func TestListingLeavesOutEscapingSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "inside.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlinkOrSkip(t, filepath.Join(outside, "secret.txt"), filepath.Join(root, "out-abs"))
	symlinkOrSkip(t, filepath.Join("..", filepath.Base(outside)), filepath.Join(root, "out-dir"))
	symlinkOrSkip(t, "inside.txt", filepath.Join(root, "in-link"))
	symlinkOrSkip(t, filepath.Join(root, "inside.txt"), filepath.Join(root, "in-abs"))
	s, err := New(Config{Root: root, Executor: fakeExecutor{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	body := rec.Body.String()
	for _, name := range []string{"out-abs", "out-dir", "10 B"} {
		if strings.Contains(body, name) {
			t.Errorf("listing shows %q:\n%s", name, body)
		}
	}
	for _, name := range []string{"inside.txt", "in-link@", "in-abs@"} {
		if !strings.Contains(body, name) {
			t.Errorf("listing lacks %q:\n%s", name, body)
		}
	}
}

// TestCGIDirOutsideRoot: a CGI directory that is a symlink out of the root runs nothing and
// does not stop the rest of the site from being served.
func TestCGIDirOutsideRoot(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "x.sh"), []byte("SCRIPT-OUT"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "page.txt"), []byte("PAGE"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlinkOrSkip(t, outside, filepath.Join(root, "cgi-bin"))
	exec := &recordingExecutor{}
	s, err := New(Config{Root: root, Executor: exec, ExecutorMode: "native"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for target, want := range map[string]int{"/page.txt": http.StatusOK, "/cgi-bin/x.sh": http.StatusNotFound} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != want || strings.Contains(rec.Body.String(), "SCRIPT-OUT") {
			t.Errorf("GET %s: %d %q, want %d", target, rec.Code, rec.Body, want)
		}
	}
	if len(exec.runs) != 0 {
		t.Errorf("ran %q", exec.runs)
	}
}
