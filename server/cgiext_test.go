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
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cgihttpd/cgihttpd/executor"
)

// envExecutor answers every script with "RAN <its source>" and then its environment, one
// NAME=value a line, so a test sees which file ran and what it was told.
type envExecutor struct {
	mu   sync.Mutex
	runs []string
}

func (e *envExecutor) Run(_ context.Context, inv *executor.Invocation) error {
	src, err := io.ReadAll(io.NewSectionReader(inv.File, 0, 1<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", inv.Path, err)
	}
	e.mu.Lock()
	e.runs = append(e.runs, string(src))
	e.mu.Unlock()
	_, err = fmt.Fprintf(inv.Stdout, "Content-Type: text/plain\n\nRAN %s\n%s\n", src, strings.Join(inv.Env, "\n"))
	return err
}

func (e *envExecutor) Name() string { return "env" }

func (e *envExecutor) ran() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.runs)
}

// writeSite writes files (slash-separated names to contents) below root, executable.
func writeSite(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func serve(s *Server, method, target string) (int, string) {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Code, rec.Body.String()
}

func newExtServer(t *testing.T, root string, exec executor.Executor, indexes []string) *Server {
	t.Helper()
	s, err := New(Config{Root: root, Executor: exec, ExecutorMode: "native", CGIExtensions: []string{".cgi"}, Indexes: indexes}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestCGIExtRuns: a .cgi file runs wherever it lies, PATH_INFO after it, by any method a
// script takes; index.cgi answers for its directory when --index names it.
func TestCGIExtRuns(t *testing.T) {
	root := t.TempDir()
	writeSite(t, root, map[string]string{
		"app/tool.cgi":        "TOOL",
		"app/index.cgi":       "INDEX",
		"app/d.cgi/page.txt":  "PAGE-IN-DIR",
		"index.cgi":           "ROOT-INDEX",
		"both/index.html":     "HTML-INDEX",
		"both/index.cgi":      "BOTH-INDEX",
		"deep/a/b/Upper.CGI":  "UPPER",
		"cgi-bin/inside.cgi":  "IN-CGI-DIR",
		"plain/notes.txt":     "NOTES",
		"plain/not-a-cgi.sh":  "SHELL",
		"plain/readme.cgi.md": "MARKDOWN",
	})
	exec := &envExecutor{}
	s := newExtServer(t, root, exec, []string{"index.html", "index.cgi"})
	for _, c := range []struct {
		method, target, ran string
		env                 []string
	}{
		{"GET", "/app/tool.cgi/extra?x=1", "TOOL", []string{"PATH_INFO=/extra", "SCRIPT_NAME=/app/tool.cgi", "QUERY_STRING=x=1"}},
		{"GET", "/app/tool.cgi", "TOOL", []string{"SCRIPT_NAME=/app/tool.cgi"}},
		{"POST", "/app/tool.cgi/a/b/", "TOOL", []string{"PATH_INFO=/a/b/", "REQUEST_METHOD=POST"}},
		{"GET", "/app/", "INDEX", []string{"SCRIPT_NAME=/app/index.cgi", "REQUEST_URI=/app/"}},
		{"POST", "/app/", "INDEX", []string{"REQUEST_METHOD=POST"}},
		{"GET", "/", "ROOT-INDEX", []string{"SCRIPT_NAME=/index.cgi"}},
		{"GET", "/deep/a/b/Upper.CGI/x", "UPPER", []string{"PATH_INFO=/x"}},
		{"GET", "/app/tool%2ecgi/y", "TOOL", []string{"PATH_INFO=/y"}},
		{"GET", "/app/./x/../tool.cgi", "TOOL", nil},
		{"GET", "/cgi-bin/inside.cgi", "IN-CGI-DIR", []string{"SCRIPT_NAME=/cgi-bin/inside.cgi"}},
	} {
		code, body := serve(s, c.method, c.target)
		if code != http.StatusOK || !strings.HasPrefix(body, "RAN "+c.ran+"\n") {
			t.Errorf("%s %s: %d %q, want it to run %s", c.method, c.target, code, body, c.ran)
			continue
		}
		lines := strings.Split(body, "\n")
		for _, kv := range c.env {
			if !slices.Contains(lines, kv) {
				t.Errorf("%s %s: no %s in\n%s", c.method, c.target, kv, body)
			}
		}
		wantPathInfo := slices.ContainsFunc(c.env, func(kv string) bool { return strings.HasPrefix(kv, "PATH_INFO=") })
		if hasPathInfo := strings.Contains(body, "\nPATH_INFO="); hasPathInfo != wantPathInfo {
			t.Errorf("%s %s: PATH_INFO set is %v, want %v:\n%s", c.method, c.target, hasPathInfo, wantPathInfo, body)
		}
	}
	for target, want := range map[string]string{
		"/both/":               "HTML-INDEX", // the first index name found wins
		"/app/d.cgi/page.txt":  "PAGE-IN-DIR",
		"/plain/notes.txt":     "NOTES",
		"/plain/not-a-cgi.sh":  "SHELL",
		"/plain/readme.cgi.md": "MARKDOWN",
	} {
		if code, body := serve(s, "GET", target); code != http.StatusOK || body != want {
			t.Errorf("GET %s: %d %q, want content %q", target, code, body, want)
		}
	}
	if code, _ := serve(s, "GET", "/app"); code != http.StatusMovedPermanently {
		t.Errorf("GET /app: %d, want 301 to /app/", code)
	}
	if code, body := serve(s, "GET", "/app/d.cgi/"); code != http.StatusOK || !strings.Contains(body, "Directory listing") {
		t.Errorf("GET /app/d.cgi/ (a directory): %d %q, want its listing", code, body)
	}
	if code, _ := serve(s, "GET", "/app/missing.cgi/x"); code != http.StatusNotFound {
		t.Errorf("GET /app/missing.cgi/x: %d, want 404", code)
	}
}

// TestCGIExtNeverContent attacks "a file with a CGI extension is never served as content":
// every other name that reaches app/tool.cgi, and a link named .cgi that leads to a file
// that is not one, which must not run.
func TestCGIExtNeverContent(t *testing.T) {
	root := t.TempDir()
	writeSite(t, root, map[string]string{
		"app/tool.cgi":     "SECRET-SOURCE",
		"app/solo.cgi":     "SECRET-SOLO", // no hard link: only its real name tells
		"plain/notes.txt":  "NOTES",
		"plain/shared.txt": "SHARED",
	})
	hardLinks := runtime.GOOS != "windows" // fstat there gives no link count
	if hardLinks {
		if err := os.Link(filepath.Join(root, "app", "tool.cgi"), filepath.Join(root, "plain", "copy.txt")); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(root, "plain", "shared.txt"), filepath.Join(root, "app", "shared.cgi")); err != nil {
			t.Fatal(err)
		}
	}
	symlinkOrSkip(t, "tool.cgi", filepath.Join(root, "app", "tool.txt"))
	symlinkOrSkip(t, filepath.Join("..", "app", "tool.cgi"), filepath.Join(root, "plain", "link"))
	symlinkOrSkip(t, "solo.cgi", filepath.Join(root, "app", "solo.txt"))
	symlinkOrSkip(t, filepath.Join("..", "app", "solo.cgi"), filepath.Join(root, "plain", "solo"))
	symlinkOrSkip(t, "app", filepath.Join(root, "alias"))
	symlinkOrSkip(t, filepath.Join(root, "app", "tool.cgi"), filepath.Join(root, "abs.txt"))
	symlinkOrSkip(t, filepath.Join("..", "plain", "notes.txt"), filepath.Join(root, "app", "fake.cgi"))
	exec := &envExecutor{}
	s := newExtServer(t, root, exec, nil)
	refused := []string{"/app/solo.txt", "/plain/solo", "/app/SOLO.CGI", "/app/tool.txt", "/plain/link", "/abs.txt", "/app/tool.cgi.", "/app/TOOL.CGI", "/app/tool.cgi%00"}
	if hardLinks {
		refused = append(refused, "/plain/copy.txt", "/plain/shared.txt")
	}
	for _, target := range refused {
		for _, method := range []string{"GET", "HEAD"} {
			code, body := serve(s, method, target)
			if strings.Contains(body, "SECRET-") || strings.Contains(body, "SHARED") || code == http.StatusOK {
				t.Errorf("%s %s: %d %q, want a refusal revealing nothing", method, target, code, body)
			}
		}
	}
	if runs := exec.ran(); len(runs) != 0 {
		t.Errorf("ran %q: none of these names is a script's", runs)
	}
	// The names that are the script's run it, and never show its source.
	for _, target := range []string{"/app/tool.cgi", "/alias/tool.cgi"} {
		if code, body := serve(s, "GET", target); code != http.StatusOK || !strings.HasPrefix(body, "RAN SECRET-SOURCE\n") {
			t.Errorf("GET %s: %d %q, want it run", target, code, body)
		}
	}
	// A .cgi link to a file that is not a script does not run it: the file decides.
	if code, body := serve(s, "GET", "/app/fake.cgi"); code != http.StatusNotFound || strings.Contains(body, "NOTES") {
		t.Errorf("GET /app/fake.cgi (a link to notes.txt): %d %q, want 404", code, body)
	}
	if code, body := serve(s, "GET", "/plain/notes.txt"); code != http.StatusOK || body != "NOTES" {
		t.Errorf("GET /plain/notes.txt: %d %q", code, body)
	}
	if runs := exec.ran(); len(runs) != 2 {
		t.Errorf("ran %q, want tool.cgi twice", runs)
	}
}

// TestCGIExtWithoutTheFlag: without --cgi-ext a .cgi file is a file like any other (as
// before), and index.cgi is not an index unless named.
func TestCGIExtWithoutTheFlag(t *testing.T) {
	root := t.TempDir()
	writeSite(t, root, map[string]string{"app/tool.cgi": "TOOL", "app/index.cgi": "INDEX"})
	exec := &envExecutor{}
	s, err := New(Config{Root: root, Executor: exec, ExecutorMode: "native"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if code, body := serve(s, "GET", "/app/tool.cgi"); code != http.StatusOK || body != "TOOL" {
		t.Errorf("GET /app/tool.cgi: %d %q, want the file", code, body)
	}
	if code, body := serve(s, "GET", "/app/"); code != http.StatusOK || !strings.Contains(body, "Directory listing") {
		t.Errorf("GET /app/: %d %q, want the listing", code, body)
	}
	if runs := exec.ran(); len(runs) != 0 {
		t.Errorf("ran %q", runs)
	}
}

// TestCGIExtInProcess: an extension whose files the in-process executor runs (.go) goes to
// it, as under a CGI directory.
func TestCGIExtInProcess(t *testing.T) {
	root := t.TempDir()
	writeSite(t, root, map[string]string{"app/hello.go": "package main", "app/tool.cgi": "TOOL"})
	native, inproc := &envExecutor{}, &envExecutor{}
	s, err := New(Config{Root: root, Executor: native, InProcess: inproc, CGIExtensions: []string{".go", ".CGI"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for _, target := range []string{"/app/hello.go/x", "/app/tool.cgi"} {
		if code, body := serve(s, "GET", target); code != http.StatusOK || !strings.HasPrefix(body, "RAN ") {
			t.Errorf("GET %s: %d %q", target, code, body)
		}
	}
	if got := inproc.ran(); !slices.Equal(got, []string{"package main"}) {
		t.Errorf("in-process ran %q", got)
	}
	if got := native.ran(); !slices.Equal(got, []string{"TOOL"}) {
		t.Errorf("native ran %q", got)
	}
}

// TestCGIExtConfig: extensions and index names that cannot be meant are refused by New.
func TestCGIExtConfig(t *testing.T) {
	for _, c := range []struct{ exts, indexes []string }{
		{[]string{"cgi"}, nil}, {[]string{"."}, nil}, {[]string{".a.b"}, nil}, {[]string{".a/b"}, nil},
		{[]string{`.a\b`}, nil}, {[]string{".cgi"}, []string{"a/index.cgi"}}, {nil, []string{".."}}, {nil, []string{""}},
	} {
		s, err := New(Config{Root: t.TempDir(), Executor: fakeExecutor{}, CGIExtensions: c.exts, Indexes: c.indexes}, nil)
		if err == nil {
			_ = s.Close()
			t.Errorf("New accepted extensions %q, indexes %q", c.exts, c.indexes)
		}
	}
}

// TestCGIExtOtherSpellings: other spellings of a .cgi file's name, without links (so this
// runs where symlinks cannot be made, as under Wine). Where names are compared without
// regard to case the other case is the script and runs; nowhere is the source served.
func TestCGIExtOtherSpellings(t *testing.T) {
	root := t.TempDir()
	writeSite(t, root, map[string]string{"app/tool.cgi": "SECRET-SOURCE"})
	exec := &envExecutor{}
	s := newExtServer(t, root, exec, nil)
	for _, target := range []string{"/app/TOOL.CGI", "/app/Tool.Cgi/x", "/app/tool.cgi.", "/app/tool.cgi%20", "/app/tool.cgi::$DATA",
		"/app/tool.cgi%3a%3a$DATA", "/app/tool%2Ecgi", "/app//tool.cgi", "/app/./tool.cgi", "/x/../app/tool.cgi"} {
		for _, method := range []string{"GET", "HEAD", "POST"} {
			code, body := serve(s, method, target)
			if strings.Contains(body, "SECRET-SOURCE") && !strings.HasPrefix(body, "RAN SECRET-SOURCE\n") {
				t.Errorf("%s %s: %d, served the source:\n%s", method, target, code, body)
			}
			if code == http.StatusOK && !strings.HasPrefix(body, "RAN ") && method != "HEAD" {
				t.Errorf("%s %s: 200 without running: %q", method, target, body)
			}
		}
	}
	if caseInsensitiveNames {
		if code, body := serve(s, "GET", "/app/TOOL.CGI"); code != http.StatusOK || !strings.HasPrefix(body, "RAN SECRET-SOURCE\n") {
			t.Errorf("GET /app/TOOL.CGI, the same file here: %d %q, want it run", code, body)
		}
	}
}
