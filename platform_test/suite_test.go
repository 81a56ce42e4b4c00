// Package platform_test is cgihttpd's behaviour suite: one table of requests and expected
// responses, run through server.New and httptest against every executor this platform has.
// The test binary itself is the CGI script (see child_test.go), so the suite needs no Perl.
package platform_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// serverSecret is in the server's environment and must never reach a script.
const serverSecret = "CGIHTTPD_SERVER_SECRET"

// master is the test binary copied where every user may run it; sites link to it.
var master string

func TestMain(m *testing.M) {
	executor.RunWorkerIfRequested()
	if os.Getenv(childVar) != "" {
		os.Exit(childMain())
	}
	if pairs := os.Getenv(flipperVar); pairs != "" {
		os.Exit(flipperMain(pairs))
	}
	if err := os.Setenv(serverSecret, "must-not-leak"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := testutil.MkdirWorld()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	master = filepath.Join(dir, "child"+exeSuffix)
	if err := testutil.CopySelf(master); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// capability is something an executor may or may not be able to do.
type capability string

const (
	capDropsPrivileges capability = "run scripts as an unprivileged user"
	capKillsTree       capability = "kill a script's whole process tree"
	capShellScripts    capability = "run #! shell scripts"
	capExecBits        capability = "refuse files without execute permission"
	capWorkingDir      capability = "give each script its own working directory"
	capSymlinks        capability = "make symlinks on this platform (see platformCaps)"
)

// executorFactory makes one kind of executor for the suite and says what it can do.
type executorFactory struct {
	name string
	mode string // server.Config.ExecutorMode
	new  func(t *testing.T) executor.Executor
	caps []capability
	// ext is the suffix of the suite's scripts for this executor ("", ".exe", ".go");
	// install puts the script for one mode at path+ext.
	ext     string
	install func(t *testing.T, pathWithExt string)
}

// executorFactories are the native executors of this platform and the in-process one.
func executorFactories() []executorFactory {
	return append(nativeFactories(), inProcessFactories()...)
}

func (f executorFactory) can(c capability) bool {
	for _, have := range f.caps {
		if have == c {
			return true
		}
	}
	return slices.Contains(platformCaps, c)
}

// suiteEnv is one running server under test.
type suiteEnv struct {
	srv    *server.Server
	url    string
	addr   string
	root   string
	logs   *testutil.SyncBuffer
	client *http.Client
}

// suiteTimeout is the per-script deadline in the suite: long for a script that answers, short
// enough for the cases that hang.
const suiteTimeout = 2 * time.Second

// startServer builds a test site for f and serves it with f's executor on 127.0.0.1.
func startServer(t *testing.T, f executorFactory, mutate func(*server.Config)) *suiteEnv {
	t.Helper()
	root := buildSite(t, f)
	logs := &testutil.SyncBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
	cfg := server.Config{
		Root:         root,
		ExecutorMode: f.mode,
		Timeout:      suiteTimeout,
		// A race-enabled child otherwise sleeps a second at exit (GORACE atexit_sleep_ms).
		Env:     []string{childVar + "=1", "GORACE=atexit_sleep_ms=0"},
		Version: "test",
	}
	if f.mode == "inproc" {
		cfg.InProcess = f.new(t)
	} else {
		cfg.Executor = f.new(t)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := server.New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ts.Close()
		_ = srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &suiteEnv{
		srv:  srv,
		url:  ts.URL,
		addr: ts.Listener.Addr().String(),
		root: root,
		logs: logs,
		client: &http.Client{
			Transport:     tr,
			Timeout:       20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// buildSite lays out a document root with static files, CGI scripts (f's script for each
// mode), and traps: symlinks out of the root, a non-executable script, a directory.
func buildSite(t *testing.T, f executorFactory) string {
	t.Helper()
	base := testutil.WorldDir(t)
	root := filepath.Join(base, "site")
	files := map[string]string{
		"hello.txt":             "hello, static world\n",
		"dir/a.txt":             "a\n",
		"dir/" + oddName:        "b\n",
		"dir/Zeta/keep":         "",
		"sub/index.html":        "<p>sub index</p>\n",
		"cgi-bin/noexec.sh":     "#!/bin/sh\necho nope\n",
		"cgi-bin/subdir/.keep":  "",
		"../outside/secret.txt": "outside the root\n",
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		mkdirAll(t, filepath.Dir(p))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for mode := range childModes {
		f.install(t, filepath.Join(root, "cgi-bin", mode+f.ext))
	}
	mkdirAll(t, filepath.Join(root, "cgi-bin", "subdir", "nested"))
	mkdirAll(t, filepath.Join(root, "htbin"))
	f.install(t, filepath.Join(root, "cgi-bin", "subdir", "nested", "env"+f.ext))
	f.install(t, filepath.Join(root, "htbin", "env"+f.ext))
	addPlatformFiles(t, root)
	return root
}

func mkdirAll(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// linkChild makes path run the test binary: a hard link when possible, else a copy.
func linkChild(t *testing.T, path string) {
	t.Helper()
	if err := os.Link(master, path); err == nil {
		return
	}
	if err := testutil.CopySelf(path); err != nil {
		t.Fatal(err)
	}
}

// suiteCase is one request and what must come back.
type suiteCase struct {
	name   string
	needs  []capability
	method string
	path   string // escaped as it goes on the wire
	header http.Header
	body   string

	wantStatus int
	wantBody   []string // substrings of the body
	notBody    []string
	wantHeader map[string]string // "" means the header must be absent
	wantLog    []string
	check      func(t *testing.T, env *suiteEnv, resp *reply, body string)
}

// TestBehaviour runs the suite against every executor of this platform.
func TestBehaviour(t *testing.T) {
	factories := executorFactories()
	if len(factories) == 0 {
		t.Skip("this platform has no executor yet")
	}
	for _, f := range factories {
		t.Run(f.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			env := startServer(t, f, nil)
			for _, c := range suiteCases(f.ext) {
				t.Run(c.name, func(t *testing.T) {
					for _, need := range c.needs {
						if !f.can(need) {
							t.Skipf("executor %s cannot %s", f.name, need)
						}
					}
					runCase(t, env, c)
				})
			}
		})
	}
}

func runCase(t *testing.T, env *suiteEnv, c suiteCase) {
	t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(method, env.url+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	httpResp, err := env.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = httpResp.Body.Close() }()
	resp, got, readErr := testutil.ReadReply(httpResp)
	if c.check == nil && readErr != nil {
		t.Fatalf("reading body: %v", readErr)
	}
	if c.wantStatus != 0 && resp.StatusCode != c.wantStatus {
		t.Errorf("status = %d, want %d; body:\n%s", resp.StatusCode, c.wantStatus, got)
	}
	for _, s := range c.wantBody {
		if !strings.Contains(got, s) {
			t.Errorf("body lacks %q:\n%s", s, got)
		}
	}
	for _, s := range c.notBody {
		if strings.Contains(got, s) {
			t.Errorf("body has %q:\n%s", s, got)
		}
	}
	for k, v := range c.wantHeader {
		if g := resp.Header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	for _, s := range c.wantLog {
		if !waitFor(func() bool { return strings.Contains(env.logs.String(), s) }) {
			t.Errorf("log lacks %q", s)
		}
	}
	if c.check != nil {
		c.check(t, env, resp, got)
	}
}

// waitFor polls cond for up to five seconds: log lines are written as the handler finishes,
// which can be just after the client has its response.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// rawRequest sends req exactly as written and reads one response.
func rawRequest(t *testing.T, addr, req string) (*reply, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v", req, err)
	}
	defer func() { _ = resp.Body.Close() }()
	r, body, _ := testutil.ReadReply(resp)
	return r, body
}

// reply is what a test keeps of a response, its body already read and closed.
type reply = testutil.Reply

// envOf parses the "env" script's output into a map.
func envOf(body string) map[string]string {
	m := make(map[string]string)
	for _, line := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	if _, err := strconv.Atoi(p); err != nil {
		return ""
	}
	return p
}

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
