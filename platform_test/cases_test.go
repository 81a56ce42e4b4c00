package platform_test

import (
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// suiteCases are the cases for an executor whose scripts end in ext.
func suiteCases(ext string) []suiteCase {
	sc := func(script string) string { return script + ext }
	return append(append(staticCases(), resolutionCases(sc)...), append(cgiCases(sc), processCases(sc)...)...)
}

// staticCases: files and directories, as Python's SimpleHTTPRequestHandler serves them.
func staticCases() []suiteCase {
	return []suiteCase{
		{name: "static file", path: "/hello.txt", wantStatus: 200, wantBody: []string{"hello, static world"},
			check: func(t *testing.T, _ *suiteEnv, resp *reply, _ string) {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type = %q", ct)
				}
				if resp.Header.Get("Last-Modified") == "" {
					t.Error("no Last-Modified")
				}
			}},
		{name: "static HEAD", method: "HEAD", path: "/hello.txt", wantStatus: 200, wantHeader: map[string]string{"Content-Length": "20"},
			check: func(t *testing.T, _ *suiteEnv, _ *reply, body string) {
				if body != "" {
					t.Errorf("HEAD body = %q", body)
				}
			}},
		{name: "static if-modified-since", path: "/hello.txt",
			check: func(t *testing.T, env *suiteEnv, resp *reply, _ string) {
				req, _ := http.NewRequest("GET", env.url+"/hello.txt", nil)
				req.Header.Set("If-Modified-Since", resp.Header.Get("Last-Modified"))
				again, err := env.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_ = again.Body.Close()
				if again.StatusCode != http.StatusNotModified {
					t.Errorf("status = %d, want 304", again.StatusCode)
				}
			}},
		{name: "static range", path: "/hello.txt", header: http.Header{"Range": {"bytes=0-4"}}, wantStatus: 206,
			check: func(t *testing.T, _ *suiteEnv, _ *reply, body string) {
				if body != "hello" {
					t.Errorf("range body = %q", body)
				}
			}},
		{name: "static symlink inside root", needs: []capability{capSymlinks}, path: "/inside-link.txt", wantStatus: 200, wantBody: []string{"hello, static world"}},
		{name: "static symlink out of root", needs: []capability{capSymlinks}, path: "/escape.txt", wantStatus: 404, notBody: []string{"outside the root"}},
		{name: "static missing", path: "/missing.txt", wantStatus: 404},
		{name: "static file with trailing slash", path: "/hello.txt/", wantStatus: 404},
		{name: "directory redirect keeps query", path: "/dir?x=1", wantStatus: 301, wantHeader: map[string]string{"Location": "/dir/?x=1"}},
		{name: "directory index", path: "/sub/", wantStatus: 200, wantBody: []string{"sub index"}},
		{name: "directory listing", path: "/dir/", wantStatus: 200,
			wantBody:   []string{"Directory listing for /dir/", `href="a.txt"`, html.EscapeString(oddName), `href="` + html.EscapeString(url.PathEscape(oddName)) + `"`, "Zeta/"},
			notBody:    []string{oddName},
			wantHeader: map[string]string{"Content-Type": "text/html; charset=utf-8"},
			check: func(t *testing.T, _ *suiteEnv, _ *reply, body string) {
				a, b, z := strings.Index(body, "a.txt"), strings.Index(body, "b&amp;"), strings.Index(body, "Zeta/")
				if a >= b || b >= z {
					t.Errorf("listing not sorted case-insensitively: a=%d b=%d Zeta=%d", a, b, z)
				}
			}},
		{name: "POST to a static file", method: "POST", path: "/hello.txt", body: "x=1", wantStatus: 501, wantBody: []string{"Can only POST to CGI scripts"}},
		{name: "PUT to a static file", method: "PUT", path: "/hello.txt", body: "x", wantStatus: 501},
		{name: "DELETE to a static file", method: "DELETE", path: "/hello.txt", wantStatus: 501},
	}
}

// resolutionCases: URL to file or script, ARCHITECTURE.md, "From URL to script".
func resolutionCases(sc func(string) string) []suiteCase {
	raw := func(name, target string, status int, notBody ...string) suiteCase {
		return suiteCase{name: name, check: func(t *testing.T, env *suiteEnv, _ *reply, _ string) {
			resp, body := rawRequest(t, env.addr, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != status {
				t.Errorf("GET %s: status = %d, want %d\n%s", target, resp.StatusCode, status, body)
			}
			for _, s := range notBody {
				if strings.Contains(body, s) {
					t.Errorf("GET %s: body has %q", target, s)
				}
			}
		}}
	}
	return []suiteCase{
		raw("dot-dot above the root", "/../hello.txt", 400),
		raw("encoded dot-dot above the root", "/%2e%2e/hello.txt", 400),
		raw("dot-dot inside the root", "/dir/../hello.txt", 200),
		raw("NUL in the path", "/hello.txt%00", 400),
		// CVE-2014-4650: encoded slashes are decoded before the CGI match, so this is the
		// script, run, never its source.
		raw("encoded slash and dot-dot to a script", "/cgi-bin/%2e%2e%2fcgi-bin%2f"+sc("env"), 200, "\x7fELF", "ELF"),
		raw("encoded slash out of cgi-bin", "/cgi-bin%2f..%2fhello.txt", 200),
		raw("double slashes collapse", "//cgi-bin//"+sc("env"), 200, "ELF"),
		raw("backslash is not a separator", `/cgi-bin\`+sc("env"), 404),
		raw("CGI directory match is case-sensitive", "/CGI-BIN/"+sc("env"), 404, "ELF", "cannot be run in DOS mode"),
		{name: "CGI directory itself", path: "/cgi-bin/", wantStatus: 403},
		{name: "CGI directory without slash", path: "/cgi-bin", wantStatus: 403},
		{name: "directory in CGI directory", path: "/cgi-bin/subdir/", wantStatus: 403},
		{name: "missing script", path: "/cgi-bin/missing", wantStatus: 404},
		{name: "missing script with path info", path: "/cgi-bin/missing/x/y", wantStatus: 404},
		{name: "script not executable", needs: []capability{capExecBits}, path: "/cgi-bin/noexec.sh", wantStatus: 403, notBody: []string{"echo nope"}},
		{name: "script symlinked out of the root", needs: []capability{capShellScripts}, path: "/cgi-bin/escape.sh", wantStatus: 404, notBody: []string{"escaped"}},
		{name: "directory symlinked out of the root", needs: []capability{capShellScripts}, path: "/cgi-bin/linkdir/script.sh", wantStatus: 404, notBody: []string{"escaped"}},
		{name: "nested script with path info", path: sc("/cgi-bin/subdir/nested/env") + "/extra/path/?q=1", wantStatus: 200,
			check: wantEnv(map[string]string{"SCRIPT_NAME": sc("/cgi-bin/subdir/nested/env"), "PATH_INFO": "/extra/path/", "QUERY_STRING": "q=1"})},
		{name: "htbin", path: sc("/htbin/env"), wantStatus: 200, check: wantEnv(map[string]string{"SCRIPT_NAME": sc("/htbin/env")})},
		{name: "encoded question mark is path info", path: sc("/cgi-bin/env") + "/a%3Fb?x=%41+b", wantStatus: 200,
			check: wantEnv(map[string]string{"PATH_INFO": "/a?b", "QUERY_STRING": "x=%41+b", "REQUEST_URI": sc("/cgi-bin/env") + "/a%3Fb?x=%41+b"})},
	}
}

// wantEnv checks the "env" script's output.
func wantEnv(want map[string]string) func(*testing.T, *suiteEnv, *reply, string) {
	return func(t *testing.T, _ *suiteEnv, _ *reply, body string) {
		got := envOf(body)
		for k, v := range want {
			g, ok := got[k]
			switch {
			case v == "\x00" && ok:
				t.Errorf("%s is set (%q), want unset", k, g)
			case v != "\x00" && g != v:
				t.Errorf("%s = %q, want %q", k, g, v)
			}
		}
	}
}

const unset = "\x00"

// cgiCases: the environment and the script's response, RFC 3875 §4 and §6.
func cgiCases(sc func(string) string) []suiteCase {
	return []suiteCase{
		{name: "environment", path: sc("/cgi-bin/env"), wantStatus: 200,
			header: http.Header{
				"X-Foo": {"one"}, "X_foo": {"spoofed"}, "Accept-Language": {"en", "fr"}, "Cookie": {"a=1", "b=2"},
				"Proxy": {"http://evil"}, "Authorization": {"Basic dXNlcjpwdw=="},
			},
			notBody: []string{serverSecret, "spoofed", "evil", "dXNlcjpwdw"},
			check: func(t *testing.T, env *suiteEnv, _ *reply, body string) {
				wantEnv(map[string]string{
					"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "cgihttpd/test", "SERVER_PROTOCOL": "HTTP/1.1",
					"REQUEST_METHOD": "GET", "SCRIPT_NAME": sc("/cgi-bin/env"), "QUERY_STRING": "", "PATH_INFO": unset,
					"PATH_TRANSLATED": unset, "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "127.0.0.1",
					"SERVER_PORT": portOf(env.addr), "HTTP_X_FOO": "one", "HTTP_ACCEPT_LANGUAGE": "en, fr",
					"HTTP_COOKIE": "a=1; b=2", "HTTP_PROXY": unset, "HTTP_AUTHORIZATION": unset, "REMOTE_USER": unset,
					"AUTH_TYPE": unset, "CONTENT_LENGTH": unset, "CONTENT_TYPE": unset, "REDIRECT_STATUS": "200",
					"PATH": defaultScriptPath,
				})(t, env, nil, body)
			}},
		{name: "path info and translated", path: sc("/cgi-bin/env") + "/some/where", wantStatus: 200,
			check: func(t *testing.T, env *suiteEnv, resp *reply, body string) {
				wantEnv(map[string]string{"PATH_INFO": "/some/where", "PATH_TRANSLATED": filepath.Join(env.root, "some", "where")})(t, env, resp, body)
			}},
		{name: "working directory is the script's", needs: []capability{capWorkingDir}, path: sc("/cgi-bin/subdir/nested/env"), wantStatus: 200,
			check: func(t *testing.T, env *suiteEnv, resp *reply, body string) {
				wantEnv(map[string]string{"CWD": filepath.Join(env.root, "cgi-bin", "subdir", "nested")})(t, env, resp, body)
			}},
		{name: "HTTP/1.0 request protocol", check: func(t *testing.T, env *suiteEnv, _ *reply, _ string) {
			resp, body := rawRequest(t, env.addr, "GET "+sc("/cgi-bin/env")+" HTTP/1.0\r\nHost: Example.COM:8080\r\n\r\n")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			wantEnv(map[string]string{"SERVER_PROTOCOL": "HTTP/1.0", "SERVER_NAME": "example.com", "HTTP_HOST": "Example.COM:8080"})(t, env, resp, body)
		}},
		{name: "bad Host falls back to the listening address", check: func(t *testing.T, env *suiteEnv, _ *reply, _ string) {
			resp, body := rawRequest(t, env.addr, "GET "+sc("/cgi-bin/env")+" HTTP/1.1\r\nHost: bad..host\r\nConnection: close\r\n\r\n")
			wantEnv(map[string]string{"SERVER_NAME": "127.0.0.1"})(t, env, resp, body)
		}},
		{name: "POST body with length", method: "POST", path: sc("/cgi-bin/echo"), body: "name=value&x=y",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, wantStatus: 200,
			wantBody: []string{"CONTENT_LENGTH=14 read=14\nname=value&x=y"}},
		{name: "chunked body gets CONTENT_LENGTH", check: func(t *testing.T, env *suiteEnv, _ *reply, _ string) {
			resp, body := rawRequest(t, env.addr, "POST "+sc("/cgi-bin/echo")+" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+
				"5\r\nhello\r\n7\r\n chunks\r\n0\r\n\r\n")
			if resp.StatusCode != 200 || !strings.Contains(body, "CONTENT_LENGTH=12 read=12\nhello chunks") {
				t.Errorf("status %d body %q", resp.StatusCode, body)
			}
		}},
		{name: "large chunked body spooled to disk", check: func(t *testing.T, env *suiteEnv, _ *reply, _ string) {
			big := strings.Repeat("z", 3<<20)
			req, _ := http.NewRequest("POST", env.url+sc("/cgi-bin/echo"), io.MultiReader(strings.NewReader(big))) // unknown length: chunked
			resp, err := env.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if !strings.HasPrefix(string(b), "CONTENT_LENGTH=3145728 read=3145728\n") || len(b) < 3<<20 {
				t.Errorf("status %d, body starts %q", resp.StatusCode, string(b[:min(len(b), 60)]))
			}
		}},
		{name: "expect 100-continue", method: "POST", path: sc("/cgi-bin/echo"), body: "after continue",
			header: http.Header{"Expect": {"100-continue"}}, wantStatus: 200, wantBody: []string{"read=14\nafter continue"}},
		{name: "Status header", path: sc("/cgi-bin/status"), wantStatus: 418, wantBody: []string{"teapot"}},
		{name: "Status header in lower case", path: sc("/cgi-bin/lowerstatus"), wantStatus: 201, wantBody: []string{"created"}},
		{name: "CRLF header lines", path: sc("/cgi-bin/crlf"), wantStatus: 200, wantHeader: map[string]string{"X-Crlf": "1"}, wantBody: []string{"crlf body"}},
		{name: "local redirect re-dispatches as GET", method: "POST", path: sc("/cgi-bin/redirect-local"), body: "dropped",
			header: http.Header{"Content-Type": {"text/plain"}}, wantStatus: 200, notBody: []string{"ignored body"},
			check: wantEnv(map[string]string{"REQUEST_METHOD": "GET", "QUERY_STRING": "from=redirect", "SCRIPT_NAME": sc("/cgi-bin/env"),
				"CONTENT_LENGTH": unset, "CONTENT_TYPE": unset})},
		{name: "local redirect to a static file", path: sc("/cgi-bin/redirect-static"), wantStatus: 200, wantBody: []string{"hello, static world"}},
		{name: "local redirect loop ends", path: sc("/cgi-bin/redirect-loop"), wantStatus: 500, wantLog: []string{"too many local redirects"}},
		{name: "client redirect", path: sc("/cgi-bin/redirect-client"), wantStatus: 302, wantHeader: map[string]string{"Location": "http://example.com/elsewhere"}},
		{name: "client redirect with status", path: sc("/cgi-bin/redirect-301"), wantStatus: 301, wantHeader: map[string]string{"Location": "http://example.com/moved"}},
		{name: "several Set-Cookie kept apart", path: sc("/cgi-bin/setcookie"), wantStatus: 200, wantHeader: map[string]string{"X-Custom": "yes"},
			check: func(t *testing.T, _ *suiteEnv, resp *reply, _ string) {
				if got := resp.Header.Values("Set-Cookie"); len(got) != 2 || got[0] != "a=1" || got[1] != "b=2" {
					t.Errorf("Set-Cookie = %q", got)
				}
			}},
		{name: "script Content-Length not trusted", path: sc("/cgi-bin/lying-length"), wantStatus: 200,
			wantBody: []string{"the whole body, longer than five bytes"}},
		{name: "keep-alive across CGI responses", check: func(t *testing.T, env *suiteEnv, _ *reply, _ string) {
			conn, err := net.Dial("tcp", env.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			r := newReader(conn)
			for _, p := range []string{sc("/cgi-bin/lying-length"), sc("/cgi-bin/status"), "/hello.txt", sc("/cgi-bin/env")} {
				if _, err := io.WriteString(conn, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Fatalf("%s on a kept-alive connection: %v", p, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.Close {
					t.Fatalf("%s closed the connection", p)
				}
			}
		}},
		{name: "HEAD on a script", method: "HEAD", path: sc("/cgi-bin/status"), wantStatus: 418,
			check: func(t *testing.T, _ *suiteEnv, _ *reply, body string) {
				if body != "" {
					t.Errorf("HEAD body = %q", body)
				}
			}},
		{name: "nph script output is raw", path: sc("/cgi-bin/nph-raw"), wantStatus: 299, wantHeader: map[string]string{"X-Nph": "raw"}, wantBody: []string{"raw body"}},
		{name: "bad header line", path: sc("/cgi-bin/badheader"), wantStatus: 502, notBody: []string{"script-body-text"}, wantLog: []string{"malformed header line"}},
		{name: "no blank line after headers", path: sc("/cgi-bin/noheaderend"), wantStatus: 502, wantLog: []string{"no blank line"}},
		{name: "no output", path: sc("/cgi-bin/nooutput"), wantStatus: 502, wantLog: []string{"produced no output"}},
		{name: "header block too long", path: sc("/cgi-bin/longheader"), wantStatus: 502, wantLog: []string{"header block exceeds"}},
		{name: "non-zero exit after a full response", path: sc("/cgi-bin/exitfail"), wantStatus: 200, wantBody: []string{"partial but complete"},
			wantLog: []string{"exit status 7"}},
		{name: "interpreter missing", needs: []capability{capShellScripts}, path: "/cgi-bin/badinterp", wantStatus: 502, wantLog: []string{"could not be started"}},
		{name: "not a program", needs: []capability{capShellScripts}, path: "/cgi-bin/garbage", wantStatus: 502, wantLog: []string{"could not be started"}},
		{name: "shell script", needs: []capability{capShellScripts}, path: "/cgi-bin/hello.sh", wantStatus: 200, wantBody: []string{"hello from sh"}},
		{name: "stderr goes to the log, bounded", path: sc("/cgi-bin/stderrflood"), wantStatus: 200, wantBody: []string{"flooded"},
			notBody: []string{"eeee"}, wantLog: []string{"script stderr", "eeeeeeee", "script stderr truncated"}},
	}
}

// processCases: deadlines, trees and privileges.
func processCases(sc func(string) string) []suiteCase {
	return []suiteCase{
		{name: "timeout before headers is 504", path: sc("/cgi-bin/hang"), wantStatus: 504, wantLog: []string{"timed out before sending its headers"}},
		{name: "timeout after headers cuts the body", path: sc("/cgi-bin/hangbody"), wantStatus: 200,
			check: func(t *testing.T, env *suiteEnv, resp *reply, body string) {
				if !strings.Contains(body, "first part") {
					t.Errorf("the part sent before the stall was not streamed: %q", body)
				}
				if !waitFor(func() bool { return strings.Contains(env.logs.String(), "script stopped during its body") }) {
					t.Error("no log line for the cut response")
				}
			}},
		{name: "grandchild dies with its timed-out parent", needs: []capability{capKillsTree}, path: sc("/cgi-bin/grandchild"),
			check: func(t *testing.T, _ *suiteEnv, resp *reply, _ string) {
				pid, err := strconv.Atoi(resp.Header.Get("X-Grandchild"))
				if err != nil {
					t.Fatalf("no grandchild pid: %v", err)
				}
				if !testutil.WaitDead(pid) {
					t.Errorf("grandchild %d is still alive", pid)
				}
			}},
		{name: "background child holding stdout does not hold the response", needs: []capability{capKillsTree},
			path: sc("/cgi-bin/background"), wantStatus: 200, wantBody: []string{"done"},
			check: func(t *testing.T, _ *suiteEnv, resp *reply, _ string) {
				pid, err := strconv.Atoi(resp.Header.Get("X-Grandchild"))
				if err != nil {
					t.Fatalf("no background pid: %v", err)
				}
				if !testutil.WaitDead(pid) {
					t.Errorf("background child %d outlived its script", pid)
				}
			}},
		{name: "script runs as nobody with no groups", needs: []capability{capDropsPrivileges}, path: sc("/cgi-bin/ids"), wantStatus: 200,
			check: func(t *testing.T, _ *suiteEnv, _ *reply, body string) {
				var id identity
				if err := json.Unmarshal([]byte(body), &id); err != nil {
					t.Fatalf("%v: %q", err, body)
				}
				uid, gid := testutil.Nobody(t)
				if id.UID != uid || id.EUID != uid || id.GID != gid || id.EGID != gid {
					t.Errorf("identity = %+v, want nobody's uid %d and gid %d", id, uid, gid)
				}
				for _, g := range id.Groups {
					if g == 0 || g != id.GID {
						t.Errorf("supplementary groups = %v", id.Groups)
					}
				}
			}},
	}
}
