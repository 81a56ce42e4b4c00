//go:build windows

package platform_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

const exeSuffix = ".exe"

// defaultScriptPath is the PATH the server gives scripts (server/cgienv_windows.go).
var defaultScriptPath = func() string {
	root := os.Getenv("SystemRoot")
	return strings.Join([]string{
		filepath.Join(root, "System32"), root, filepath.Join(root, "System32", "Wbem"),
		filepath.Join(root, "System32", "WindowsPowerShell", "v1.0"),
	}, ";")
}()

// oddName is a file name that a directory listing must escape, in HTML and in its link;
// Windows allows neither '<' nor '>' in names.
const oddName = "b&'c'.txt"

// platformCaps is what the platform, whatever the executor, can do for the suite: symlinks
// need a privilege or developer mode on Windows, and Wine 8.0 reports success without
// making them, so the suite tries one.
var platformCaps = func() []capability {
	dir, err := os.MkdirTemp("", "cgihttpd-symlink-*")
	if err != nil {
		return nil
	}
	defer func() { _ = os.RemoveAll(dir) }()
	link := filepath.Join(dir, "link")
	if os.Symlink(dir, link) != nil {
		return nil
	}
	if _, err := os.Lstat(link); err != nil {
		return nil
	}
	return []capability{capSymlinks}
}()

// windowsFactory is the Windows executor with the suite's short grace, and the interpreters
// a test gives it.
func windowsFactory(interpreters map[string]string) executorFactory {
	return executorFactory{
		name: "windows",
		mode: "native",
		new: func(t *testing.T) executor.Executor {
			e, err := executor.NewNative(executor.Config{OutputGrace: 300 * time.Millisecond, Interpreters: interpreters}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return e
		},
		// Windows has no #! and no execute bits, and no nobody: scripts run as the server's
		// own account.
		caps:    []capability{capKillsTree, capWorkingDir},
		ext:     exeSuffix,
		install: linkChild,
	}
}

func nativeFactories() []executorFactory { return []executorFactory{windowsFactory(nil)} }

// batchScript is a batch file that answers with a plain-text body of its name, and a list of
// its arguments and its query, printed without letting cmd.exe parse them (set, not echo).
func batchScript(name string) string {
	return "@echo off\r\necho Content-Type: text/plain\r\necho.\r\necho hello from " + name + "\r\n" +
		"echo args=[%*]\r\nset QUERY_STRING\r\n"
}

// addPlatformFiles adds batch files and the other scripts that TestWindowsScripts runs.
func addPlatformFiles(t *testing.T, root string) {
	t.Helper()
	files := map[string]string{
		"cgi-bin/hello.bat":    batchScript("bat"),
		"cgi-bin/hello.cmd":    batchScript("cmd"),
		"cgi-bin/a&b (c).bat":  batchScript("a&b (c)"),
		"cgi-bin/pct%name.bat": batchScript("pct"),
		"cgi-bin/garbage.exe":  "MZ but not really a program\r\n",
		"cgi-bin/data.xyz":     "no interpreter for this\r\n",
		// Windows cannot run "#!" files: the executor finds what the line names on PATH.
		"cgi-bin/env-status.tool":     "#!/usr/bin/env status\n",
		"cgi-bin/versioned.tool":      "#!/usr/local/bin/status3 -x\r\n",
		"cgi-bin/missing-interp.tool": "#!/usr/bin/env cgihttpd-no-such-interpreter\n",
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		mkdirAll(t, filepath.Dir(p))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if slices.Contains(platformCaps, capSymlinks) {
		links := map[string]string{"escape.txt": `..\outside\secret.txt`, "inside-link.txt": "hello.txt"}
		for name, target := range links {
			if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestWindowsScripts runs what only Windows runs: batch files through cmd.exe, interpreters
// found from "#!" lines and from the operator's map, and what must be refused.
func TestWindowsScripts(t *testing.T) {
	testutil.CheckLeaks(t)
	// The interpreters of the "#!" lines: copies of the test binary that act as the
	// "status" script, in a directory on the server's PATH.
	bin := testutil.WorldDir(t)
	linkChild(t, filepath.Join(bin, "status.exe"))
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	// The operator's map: .envscript files run through a copy of the "env" script.
	envExe := filepath.Join(bin, "env.exe")
	linkChild(t, envExe)
	f := windowsFactory(map[string]string{".envscript": `"` + envExe + `"`})
	env := startServer(t, f, nil)
	if err := os.WriteFile(filepath.Join(env.root, "cgi-bin", "mapped.envscript"), []byte("data, not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, c := range []suiteCase{
		{name: "batch file", path: "/cgi-bin/hello.bat", wantStatus: 200, wantBody: []string{"hello from bat\r\n", "args=[]"},
			wantHeader: map[string]string{"Content-Type": "text/plain"}, notBody: []string{"@echo"}},
		{name: "cmd file", path: "/cgi-bin/hello.cmd", wantStatus: 200, wantBody: []string{"hello from cmd"}},
		{name: "batch file named in another case", path: "/cgi-bin/HELLO.BAT", wantStatus: 200, wantBody: []string{"hello from bat"}},
		{name: "batch path with cmd.exe's special characters", path: "/cgi-bin/a%26b%20(c).bat", wantStatus: 200,
			wantBody: []string{"hello from a"}},
		{name: "batch path with a percent sign is refused", path: "/cgi-bin/pct%25name.bat", wantStatus: 403,
			notBody: []string{"@echo", "hello"}, wantLog: []string{"would expand or split a path"}},
		// The query never reaches cmd.exe's command line: were it parsed there, "&echo
		// INJECTED" would print INJECTED on a line of its own.
		{name: "batch file with an injection in its query", path: "/cgi-bin/hello.bat?%26echo+INJECTED", wantStatus: 200,
			wantBody: []string{"args=[]", "QUERY_STRING=%26echo+INJECTED"},
			check:    noLine("INJECTED")},
		{name: "batch file with a raw ampersand query", path: `/cgi-bin/hello.bat?&echo+INJECTED&"&echo+INJECTED`, wantStatus: 200,
			wantBody: []string{"args=[]"}, check: noLine("INJECTED")},
		{name: "exe that is not a program", path: "/cgi-bin/garbage.exe", wantStatus: 502, wantLog: []string{"could not be started"}},
		{name: "no interpreter for the extension", path: "/cgi-bin/data.xyz", wantStatus: 403,
			notBody: []string{"no interpreter for this"}, wantLog: []string{`no interpreter known for \".xyz\"`}},
		{name: "#!/usr/bin/env NAME runs NAME from PATH", path: "/cgi-bin/env-status.tool", wantStatus: 418, wantBody: []string{"teapot"}},
		{name: "#!/path/NAME3 runs NAME when NAME3 is not on PATH", path: "/cgi-bin/versioned.tool", wantStatus: 418},
		{name: "#! interpreter not found", path: "/cgi-bin/missing-interp.tool", wantStatus: 403,
			wantLog: []string{"cgihttpd-no-such-interpreter: not found"}},
		{name: "operator's interpreter", path: "/cgi-bin/mapped.envscript/info", wantStatus: 200,
			check: wantEnv(map[string]string{"SCRIPT_NAME": "/cgi-bin/mapped.envscript", "PATH_INFO": "/info", childVar: "1"})},
	} {
		t.Run(c.name, func(t *testing.T) { runCase(t, env, c) })
	}

	t.Run("#! with a Windows path", func(t *testing.T) {
		script := filepath.Join(env.root, "cgi-bin", "winpath.tool")
		if err := os.WriteFile(script, []byte("#!"+filepath.Join(bin, "status.exe")+"\r\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		runCase(t, env, suiteCase{path: "/cgi-bin/winpath.tool", wantStatus: 418})
	})
}

// noLine checks that no line of the body is exactly s.
func noLine(s string) func(*testing.T, *suiteEnv, *reply, string) {
	return func(t *testing.T, _ *suiteEnv, _ *reply, body string) {
		for _, line := range strings.Split(body, "\n") {
			if strings.TrimRight(line, "\r ") == s {
				t.Errorf("body has the line %q: cmd.exe ran what the request sent\n%s", s, body)
			}
		}
	}
}

// TestWindowsPathRules requests the names under which Windows would open a script as a file
// (ARCHITECTURE.md, "Windows names"): each must be refused by the server's path rules, never answered with the
// script's source or a listing of the CGI directory.
func TestWindowsPathRules(t *testing.T) {
	testutil.CheckLeaks(t)
	f := nativeFactories()[0]
	env := startServer(t, f, func(c *server.Config) {
		c.CGIDirs = []string{"/cgi-bin", "/htbin", "/long-named-scripts"}
	})
	// A CGI directory whose name is no 8.3 name, so that it has a short one.
	long := filepath.Join(env.root, "long-named-scripts")
	mkdirAll(t, long)
	if err := os.WriteFile(filepath.Join(long, "hello.bat"), []byte(batchScript("the long-named CGI directory")), 0o644); err != nil {
		t.Fatal(err)
	}
	paths := []string{
		`/cgi-bin\hello.bat`,
		"/cgi-bin/hello.bat.",
		"/cgi-bin/hello.bat%20",
		"/cgi-bin/hello.bat.%20.",
		"/cgi-bin/hello.bat::$DATA",
		"/cgi-bin/hello.bat:$DATA",
		"/cgi-bin./hello.bat",
		"/cgi-bin%20/hello.bat",
		"/cgi-bin::$INDEX_ALLOCATION/hello.bat",
		"/CGI-BIN/hello.bat",
		"/Cgi-Bin/",
		"/C:/Windows/win.ini",
		"/c:/windows/system32/drivers/etc/hosts",
		"/nul",
		"/NUL.txt",
		"/con",
		"/aux.bat",
		"/cgi-bin/com1.bat",
		"/lpt1",
		"/cgi-bin/CONOUT$",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) { expectRefused(t, env, p, true) })
	}
	// The example of a short name: refused where the volume made it, else missing.
	t.Run("/CGI-BI~1/hello.bat", func(t *testing.T) {
		_, err := os.Stat(filepath.Join(env.root, "CGI-BI~1"))
		expectRefused(t, env, "/CGI-BI~1/hello.bat", err == nil)
	})

	// 8.3 short names, as the volume makes them (Windows: LONG-N~1, Wine: a hash).
	t.Run("short name of a CGI directory", func(t *testing.T) {
		short := testutil.ShortName(t, long)
		if strings.EqualFold(short, "long-named-scripts") {
			t.Skip("this volume makes no 8.3 short names")
		}
		expectRefused(t, env, "/"+short+"/hello.bat", true)
		expectRefused(t, env, "/"+short+"/", true)
	})
	// The directory's real name still runs the script.
	runCase(t, env, suiteCase{path: "/long-named-scripts/hello.bat", wantStatus: 200, wantBody: []string{"hello from the long-named CGI directory"}})
}

// underWine reports whether this is Wine rather than Windows.
var underWine = windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil

// expectRefused requests path and wants a 404 without a script's source; byRule: a 404 from
// the path rules, not because nothing has that name.
func expectRefused(t *testing.T, env *suiteEnv, path string, byRule bool) {
	t.Helper()
	before := len(env.logs.String())
	resp, body := rawRequest(t, env.addr, "GET "+strings.ReplaceAll(path, " ", "%20")+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s: status %d, want 404\n%s", path, resp.StatusCode, body)
	}
	for _, leak := range []string{"@echo", "Directory listing", "hello from", "[fonts]", "localhost"} {
		if strings.Contains(body, leak) {
			t.Errorf("GET %s: body has %q:\n%s", path, leak, body)
		}
	}
	// "request path refused" (a name Windows reads otherwise) or "static path refused" (another
	// name for a file in a CGI directory, found from where the opened file really is).
	if byRule && !waitFor(func() bool { return strings.Contains(env.logs.String()[before:], "path refused") }) {
		t.Errorf("GET %s: not refused by the path rules; log:\n%s", path, env.logs.String()[before:])
	}
}
