package platform_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// nativeOrSkip returns the platform's native executor factory: the fault scripts are modes of
// the test binary.
func nativeOrSkip(t *testing.T) executorFactory {
	t.Helper()
	f := nativeFactories()
	if len(f) == 0 {
		t.Skip("no native executor on this platform")
	}
	return f[0]
}

func TestGigabyteIsStreamed(t *testing.T) {
	testutil.CheckLeaks(t)
	f := nativeOrSkip(t)
	env := startServer(t, f, func(c *server.Config) { c.Timeout = 2 * time.Minute })
	env.client.Timeout = 2 * time.Minute // as long as the script may run: Wine pipes move 1 GiB in ~25 s
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, err := env.client.Get(env.url + "/cgi-bin/gigabyte" + f.ext)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil || n != 1<<30 {
		t.Fatalf("got %d bytes (%v), want 1 GiB", n, err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapSys) - int64(before.HeapSys); grew > 64<<20 {
		t.Errorf("heap grew %d MiB while streaming 1 GiB", grew>>20)
	}
	if resp, _ := getPath(t, env, "/cgi-bin/status"+f.ext); resp.StatusCode != 418 {
		t.Errorf("server after the fault: %d", resp.StatusCode)
	}
}

// TestBodyReadAfterHeaders: a script that answers its headers first and reads its body
// after gets all of it, however late.
func TestBodyReadAfterHeaders(t *testing.T) {
	testutil.CheckLeaks(t)
	f := nativeOrSkip(t)
	env := startServer(t, f, nil)
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(i * 7)
	}
	want := fmt.Sprintf("read=%d sum=%x\n", len(body), sha256.Sum256(body))
	for range 5 {
		req, err := http.NewRequest(http.MethodPost, env.url+"/cgi-bin/echo-late"+f.ext, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if resp, got := testutil.Do(t, env.client, req); resp.StatusCode != 200 || got != want {
			t.Fatalf("%d %q, want %q", resp.StatusCode, got, want)
		}
	}
}

func TestHundredMiBOfStderr(t *testing.T) {
	testutil.CheckLeaks(t)
	f := nativeOrSkip(t)
	env := startServer(t, f, func(c *server.Config) { c.Timeout = 2 * time.Minute })
	env.client.Timeout = 2 * time.Minute // 100 MiB through Wine's pipes took over 20 s on a busy machine
	resp, body := getPath(t, env, "/cgi-bin/stderr100m"+f.ext)
	if resp.StatusCode != 200 || body != "survived\n" {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
	if !waitFor(func() bool { return strings.Contains(env.logs.String(), "script stderr truncated") }) {
		t.Error("no log line about the dropped stderr")
	}
	if n := len(env.logs.String()); n > 2<<20 {
		t.Errorf("the log took %d bytes of a 100 MiB stderr", n)
	}
	if resp, _ := getPath(t, env, "/cgi-bin/status"+f.ext); resp.StatusCode != 418 {
		t.Errorf("server after the fault: %d", resp.StatusCode)
	}
}

func TestUnreadHundredMiBBody(t *testing.T) {
	testutil.CheckLeaks(t)
	f := nativeOrSkip(t)
	env := startServer(t, f, func(c *server.Config) { c.MaxBodyBytes = 200 << 20 })
	body := io.LimitReader(zeros{}, 100<<20)
	req, _ := http.NewRequest("POST", env.url+"/cgi-bin/ignorebody"+f.ext, body)
	req.ContentLength = 100 << 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := env.client.Do(req)
		if err != nil {
			return // the server may close while the body is still being sent: allowed
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "not reading\n" {
			t.Errorf("%d %q", resp.StatusCode, b)
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("request with an unread body hung")
	}
	if resp, _ := getPath(t, env, "/cgi-bin/status"+f.ext); resp.StatusCode != 418 {
		t.Errorf("server after the unread body: %d", resp.StatusCode)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestClientDisconnectKillsScript(t *testing.T) {
	testutil.CheckLeaks(t)
	f := nativeOrSkip(t)
	env := startServer(t, f, func(c *server.Config) { c.Timeout = time.Minute })
	resp, err := env.client.Get(env.url + "/cgi-bin/stream" + f.ext)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(resp.Header.Get("X-Pid"))
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // hangs up mid-stream
	env.client.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Second)
	for testutil.Alive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if pid == 0 || testutil.Alive(pid) {
		t.Errorf("script %d still runs 2s after its client left", pid)
	}
	if resp, _ := getPath(t, env, "/cgi-bin/status"+f.ext); resp.StatusCode != 418 {
		t.Errorf("server after the fault: %d", resp.StatusCode)
	}
}

func TestTwoHundredClientsFourScripts(t *testing.T) {
	testutil.CheckLeaks(t)
	f := nativeOrSkip(t)
	env := startServer(t, f, func(c *server.Config) {
		c.MaxScripts = 4
		c.QueueTimeout = 500 * time.Millisecond
	})
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200, MaxConnsPerHost: 200}}
	defer client.CloseIdleConnections()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(env.url + "/cgi-bin/status" + f.ext)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			mu.Lock()
			counts[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if counts[418]+counts[503] != 200 || counts[418] == 0 {
		t.Errorf("statuses %v: want only 418 (the script's) and 503", counts)
	}
	t.Logf("statuses %v", counts)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapSys) - int64(before.HeapSys); grew > 64<<20 {
		t.Errorf("heap grew %d MiB over 200 concurrent requests", grew>>20)
	}
	if s := env.srv.Stats(); s.ScriptsRunning != 0 || s.Queued != 0 {
		t.Errorf("after the burst: %+v", s)
	}
}
