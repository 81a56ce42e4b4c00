package platform_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// firstFactory is the platform's native executor, or the in-process one where there is none.
func firstFactory() executorFactory { return executorFactories()[0] }

func TestOverloadGets503AndStaticStillServes(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	env := startServer(t, f, func(c *server.Config) {
		c.MaxScripts = 1
		c.QueueTimeout = 300 * time.Millisecond
	})
	hanging := make(chan struct{})
	go func() {
		defer close(hanging)
		resp, err := env.client.Get(env.url + "/cgi-bin/hang" + f.ext)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}()
	if !waitFor(func() bool { return env.srv.Stats().ScriptsRunning == 1 }) {
		t.Fatal("the first script never started")
	}
	resp, body := getPath(t, env, "/cgi-bin/status"+f.ext)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("second script: %d, Retry-After %q; want 503 with Retry-After 1\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ := getPath(t, env, "/hello.txt"); resp.StatusCode != 200 {
		t.Errorf("static file while scripts are capped: %d", resp.StatusCode)
	}
	<-hanging // ends at the suite's script timeout, with a 504
	if resp, _ := getPath(t, env, "/cgi-bin/status"+f.ext); resp.StatusCode != 418 {
		t.Errorf("after the slot came free: %d", resp.StatusCode)
	}
}

func getPath(t *testing.T, env *suiteEnv, path string) (*reply, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return testutil.Do(t, env.client, req)
}

func TestTooLargeBodyGets413(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	env := startServer(t, f, func(c *server.Config) { c.MaxBodyBytes = 1 << 10 })
	big := strings.Repeat("x", 2<<20) // well past the 256 KiB Go resets a connection for
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
		req, _ := http.NewRequest("POST", env.url+"/cgi-bin/echo"+f.ext, body)
		resp, err := env.client.Do(req)
		if err != nil {
			t.Fatalf("chunked=%v: the 413 did not reach the client: %v", chunked, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: status %d, want 413", chunked, resp.StatusCode)
		}
	}
	if resp, _ := getPath(t, env, "/cgi-bin/status"+f.ext); resp.StatusCode != 418 {
		t.Errorf("after the 413s: %d", resp.StatusCode)
	}
}

func TestHeaderTimeoutGets504(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	env := startServer(t, f, func(c *server.Config) { c.HeaderTimeout = 300 * time.Millisecond; c.Timeout = time.Minute })
	start := time.Now()
	resp, _ := getPath(t, env, "/cgi-bin/hang"+f.ext)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("504 took %v: the header timeout did not apply", d)
	}
	if !waitFor(func() bool { return strings.Contains(env.logs.String(), "no complete header block in time") }) {
		t.Error("log does not name the header timeout")
	}
}

func TestIdleTimeoutCutsStalledBody(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	env := startServer(t, f, func(c *server.Config) { c.IdleTimeout = 300 * time.Millisecond; c.Timeout = time.Minute })
	resp, err := env.client.Get(env.url + "/cgi-bin/hangbody" + f.ext)
	if err != nil {
		t.Fatal(err)
	}
	b, readErr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if readErr == nil || !strings.Contains(string(b), "first part") {
		t.Errorf("body %q, read error %v: want the first part, then a cut", b, readErr)
	}
	if !waitFor(func() bool { return strings.Contains(env.logs.String(), "script output stalled") }) {
		t.Error("log does not name the stall")
	}
}

func TestRejectFunctionEnv(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	env := startServer(t, f, func(c *server.Config) { c.RejectFunctionEnv = true })
	req, _ := http.NewRequest("GET", env.url+"/cgi-bin/env"+f.ext, nil)
	req.Header.Set("User-Agent", "() { :; }; echo pwned")
	resp, err := env.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
	if resp, _ := getPath(t, env, "/cgi-bin/status"+f.ext); resp.StatusCode != 418 {
		t.Errorf("an ordinary request after it: %d", resp.StatusCode)
	}
}

func TestTrustedProxy(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	for _, trusted := range []bool{true, false} {
		t.Run(fmt.Sprintf("trusted=%v", trusted), func(t *testing.T) {
			env := startServer(t, f, func(c *server.Config) {
				if trusted {
					c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				}
			})
			req, _ := http.NewRequest("GET", env.url+"/cgi-bin/env"+f.ext, nil)
			req.Header.Set("X-Forwarded-For", "203.0.113.9, 127.0.0.5")
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, body := testutil.Do(t, env.client, req)
			want := map[string]string{"REMOTE_ADDR": "127.0.0.1", "HTTPS": unset}
			if trusted {
				want = map[string]string{"REMOTE_ADDR": "203.0.113.9", "HTTPS": "on", "REQUEST_SCHEME": "https"}
			}
			wantEnv(want)(t, env, resp, body)
		})
	}
}

func TestStatsCount(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	root := buildSite(t, f)
	// The deadline is the hanging script's wait, and must also be long enough that the quick
	// script never meets it: a process start under Wine on a cold machine took over 300 ms.
	cfg := server.Config{Root: root, ExecutorMode: f.mode, Timeout: 3 * time.Second,
		Env: []string{childVar + "=1", "GORACE=atexit_sleep_ms=0"}}
	if f.mode == "inproc" {
		cfg.InProcess = f.new(t)
	} else {
		cfg.Executor = f.new(t)
	}
	srv, err := server.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }() // after the http.Server's close below
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = hs.Serve(ln) }()
	defer func() { _ = hs.Close(); wg.Wait() }()
	for _, p := range []string{"/hello.txt", "/cgi-bin/status" + f.ext, "/cgi-bin/hang" + f.ext} {
		// Only the server's counters matter here; the hanging script's request times out.
		rawRequest(t, ln.Addr().String(), "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	}
	got := srv.Stats()
	if got.Requests != 3 || got.Timeouts != 1 || got.ScriptsRunning != 0 || got.Queued != 0 {
		t.Errorf("stats = %+v, want 3 requests, 1 timeout, nothing running", got)
	}
}

// TestSlowClientsHoldNoScriptSlot: clients that trickle their request headers, or a chunked
// body, hold no script slot, so a normal request still runs with one slot.
func TestSlowClientsHoldNoScriptSlot(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	env := startServer(t, f, func(c *server.Config) {
		c.MaxScripts = 1
		c.QueueTimeout = 200 * time.Millisecond
	})
	var slow []net.Conn
	defer func() {
		for _, c := range slow {
			_ = c.Close()
		}
	}()
	for i := 0; i < 5; i++ {
		for _, start := range []string{
			"GET /cgi-bin/status" + f.ext + " HTTP/1.1\r\nHost: x\r\nX-Slow: ",
			"POST /cgi-bin/echo" + f.ext + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
		} {
			c, err := net.Dial("tcp", env.addr)
			if err != nil {
				t.Fatal(err)
			}
			slow = append(slow, c)
			if _, err := io.WriteString(c, start); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // let the server read what they sent
	if resp, body := getPath(t, env, "/cgi-bin/status"+f.ext); resp.StatusCode != 418 {
		t.Errorf("with slow clients connected: %d %q", resp.StatusCode, body)
	}
}
