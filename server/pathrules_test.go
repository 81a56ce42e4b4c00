package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cgihttpd/cgihttpd/executor"
)

// TestWindowsPathProblem: ARCHITECTURE.md, "Windows names", one row a rule. The function is pure, so it is
// tested on every platform; only Windows servers apply it.
func TestWindowsPathProblem(t *testing.T) {
	refused := []struct{ path, why string }{
		{`/cgi-bin\x.bat`, "backslash"},
		{`/cgi-bin/..\..\secret`, "backslash"},
		{"/C:/Windows/win.ini", "colon"},
		{"/c:", "colon"},
		{"/cgi-bin/x.bat::$DATA", "colon"},
		{"/cgi-bin/x.bat:$DATA", "colon"},
		{"/cgi-bin::$INDEX_ALLOCATION/x.bat", "colon"},
		{"/cgi-bin/x.bat.", "trailing dot"},
		{"/cgi-bin/x.bat ", "trailing dot or space"},
		{"/cgi-bin/x.bat. . ", "trailing dot or space"},
		{"/cgi-bin./x.bat", "trailing dot"},
		{"/cgi-bin /x.bat", "trailing dot or space"},
		{"/...", "trailing dot"},
		{"/CON", "device"},
		{"/con", "device"},
		{"/nul", "device"},
		{"/NUL.txt", "device"},
		{"/dir/aux.tar.gz", "device"},
		{"/prn", "device"},
		{"/cgi-bin/com1.bat", "device"},
		{"/COM9", "device"},
		{"/com0", "device"},
		{"/lpt1", "device"},
		{"/LPT9.log", "device"},
		{"/lpt¹", "device"},
		{"/nul .txt", "device"},
		{"/CONIN$", "device"},
		{"/conout$.x", "device"},
	}
	for _, tt := range refused {
		if got := windowsPathProblem(tt.path); !strings.Contains(got, strings.Fields(tt.why)[0]) {
			t.Errorf("windowsPathProblem(%q) = %q, want it refused (%s)", tt.path, got, tt.why)
		}
	}
	allowed := []string{
		"/", "/cgi-bin/x.bat", "/cgi-bin/", "/dir/a.txt", "/.hidden", "/a..b", "/file~1.txt",
		"/console.txt", "/null", "/nul-not", "/com10", "/lpt", "/comx", "/auxiliary/x", "/con-tent",
		"/cgi-bin/x.bat/path/info", "/%41", "/dir name/x y.txt", "/été.txt",
	}
	for _, p := range allowed {
		if got := windowsPathProblem(p); got != "" {
			t.Errorf("windowsPathProblem(%q) = %q, want it allowed", p, got)
		}
	}
}

// aliasSite makes a root with cgi-bin/x.bat, a nested CGI directory app/scripts, and a static
// directory, and returns it with the CGI directories as the server has them.
func aliasSite(t *testing.T) (string, []string) {
	t.Helper()
	root := t.TempDir()
	for _, f := range []string{"cgi-bin/x.bat", "app/scripts/y.bat", "static/z.txt"} {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("SOURCE-OF-"+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, []string{"/cgi-bin", "/app/scripts"}
}

// symlinkOrSkip makes a symlink or skips where the platform cannot (Windows without the
// privilege; Wine 8.0 reports success and makes nothing).
func symlinkOrSkip(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Skipf("symlinks unavailable: created %s, but it is not there", link)
	}
}

// TestCGIDirHolding: the CGI directory that holds a file is found from where the opened file
// really is, whatever name reached it.
func TestCGIDirHolding(t *testing.T) {
	root, dirs := aliasSite(t)
	var cleaned []string
	for _, d := range dirs {
		c, err := collapsePath(d)
		if err != nil {
			t.Fatal(err)
		}
		cleaned = append(cleaned, strings.TrimSuffix(c, "/"))
	}
	d, err := openDocRoot(root, cleaned)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	cgiDirAlias := func(_, p string, _ []string) string {
		o, err := d.open(relPath(p))
		if err != nil {
			return ""
		}
		defer o.close()
		dir, err := d.cgiDirHolding(o)
		if err != nil {
			t.Errorf("cgiDirHolding(%s): %v", p, err)
		}
		return dir
	}
	for _, p := range []string{"/static/z.txt", "/static/", "/", "/missing/x", "/app/", "/app/other"} {
		if got := cgiDirAlias(root, p, dirs); got != "" {
			t.Errorf("cgiDirAlias(%q) = %q, want none", p, got)
		}
	}
	// The exact names: dispatch sends them to the CGI side before asking, but the location
	// check knows them too.
	if got := cgiDirAlias(root, "/app/scripts/y.bat", dirs); got != "/app/scripts" {
		t.Errorf("cgiDirAlias(/app/scripts/y.bat) = %q", got)
	}

	t.Run("symlink", func(t *testing.T) {
		symlinkOrSkip(t, filepath.Join(root, "cgi-bin"), filepath.Join(root, "linked"))
		for p, want := range map[string]string{"/linked/x.bat": "/cgi-bin", "/linked/": "/cgi-bin", "/linked": "/cgi-bin"} {
			if got := cgiDirAlias(root, p, dirs); got != want {
				t.Errorf("cgiDirAlias(%q) = %q, want %q", p, got, want)
			}
		}
	})
	t.Run("case", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(root, "CGI-BIN")); err != nil {
			t.Skip("this file system tells names apart by case")
		}
		for p, want := range map[string]string{"/CGI-BIN/x.bat": "/cgi-bin", "/App/Scripts/y.bat": "/app/scripts", "/APP/scripts/": "/app/scripts"} {
			if got := cgiDirAlias(root, p, dirs); got != want {
				t.Errorf("cgiDirAlias(%q) = %q, want %q", p, got, want)
			}
		}
	})
}

// runsExecutor answers every script with a body that says it ran.
type runsExecutor struct{}

func (runsExecutor) Run(_ context.Context, inv *executor.Invocation) error {
	_, err := io.WriteString(inv.Stdout, "Content-Type: text/plain\n\nthe script ran\n")
	return err
}
func (runsExecutor) Name() string { return "runs" }

// TestScriptSourceNeverServed: whatever spelling of a script's path a request uses, the answer
// is the script run or a refusal, never the file's bytes. On Linux most of these names do not
// exist and are simply 404; on Windows and macOS they are the script under another name.
func TestScriptSourceNeverServed(t *testing.T) {
	root, dirs := aliasSite(t)
	if runtime.GOOS != "windows" {
		if err := os.Symlink("cgi-bin", filepath.Join(root, "linked")); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(Config{Root: root, CGIDirs: dirs, Executor: runsExecutor{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for _, target := range []string{
		"/cgi-bin/x.bat", "/CGI-BIN/x.bat", "/Cgi-Bin/", "/cgi-bin./x.bat", "/cgi-bin%20/x.bat",
		"/cgi-bin/x.bat.", "/cgi-bin/x.bat%20", "/cgi-bin/x.bat::$DATA", "/cgi-bin::$INDEX_ALLOCATION/x.bat",
		`/cgi-bin\x.bat`, "/static/..%5Ccgi-bin%5Cx.bat", "/linked/x.bat", "/linked/", "/APP/SCRIPTS/y.bat",
		"/app/scripts./y.bat", "/CGI-BI~1/x.bat",
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://x"+target, nil))
		body := rec.Body.String()
		if strings.Contains(body, "SOURCE-OF-") || strings.Contains(body, "Directory listing") {
			t.Errorf("GET %s: %d reveals the CGI directory:\n%s", target, rec.Code, body)
		}
		if rec.Code == http.StatusOK && !strings.Contains(body, "the script ran") {
			t.Errorf("GET %s: 200 without running the script:\n%s", target, body)
		}
	}
}
