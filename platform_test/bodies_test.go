package platform_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// stalledRequest sends start on a new connection and then nothing more (a trickle, when
// trickle is set: one byte of it every 50 ms, for at most 20 s); it returns the response
// status the server sends (0 for none), how long after sending it came, and whether the
// server closed the connection after it. It gives up after 20 s.
func stalledRequest(t *testing.T, addr, start string, trickle bool) (status int, after time.Duration, closed bool) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Error(err)
		return 0, 0, false
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, start); err != nil {
		t.Error(err)
		return 0, 0, false
	}
	sent := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	if trickle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, time.Since(sent), true
	}
	after = time.Since(sent)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	_, err = br.ReadByte()
	return resp.StatusCode, after, err != nil
}

// TestStalledBodiesGet408 stalls a chunked and a Content-Length body and trickles one: each
// connection ends with 408 at the body deadline, and with one script slot, other scripts
// run once the stalled one is stopped.
func TestStalledBodiesGet408(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	const deadline = 500 * time.Millisecond
	env := startServer(t, f, func(c *server.Config) {
		c.Timeout = time.Minute
		c.MaxScripts = 1
		c.QueueTimeout = 10 * time.Second
		c.BodyTimeout = deadline
		c.BodyMinRate = 1000
	})
	echo := "POST /cgi-bin/echo" + f.ext + " HTTP/1.1\r\nHost: x\r\n"
	cases := []struct {
		name, start string
		trickle     bool
	}{
		{"chunked", echo + "Transfer-Encoding: chunked\r\n\r\n5\r\nab", false},
		{"content-length", echo + "Content-Length: 1000\r\n\r\n0123456789", false},
		{"trickle", echo + "Content-Length: 100000\r\n\r\n", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var wg sync.WaitGroup
			wg.Add(1)
			var status int
			var after time.Duration
			var closed bool
			go func() {
				defer wg.Done()
				status, after, closed = stalledRequest(t, env.addr, c.start, c.trickle)
			}()
			// Meanwhile a script still runs, once the stalled body gives up the slot.
			time.Sleep(100 * time.Millisecond)
			began := time.Now()
			resp, _ := getPath(t, env, "/cgi-bin/status"+f.ext)
			waited := time.Since(began)
			wg.Wait()
			if status != http.StatusRequestTimeout || !closed {
				t.Errorf("stalled body: status %d after %v, closed %v; want 408 and a closed connection", status, after, closed)
			}
			if after < deadline || after > 10*time.Second {
				t.Errorf("408 after %v; want it at the body deadline %v", after, deadline)
			}
			if resp.StatusCode != 418 || waited > 10*time.Second {
				t.Errorf("another script meanwhile: %d after %v", resp.StatusCode, waited)
			}
			t.Logf("408 after %v; the other script answered after %v", after, waited)
		})
	}
	if n := env.srv.Stats().SpooledBytes; n != 0 {
		t.Errorf("%d bytes still counted as spooled", n)
	}
}

// TestSpoolBudget: chunked bodies that together pass the spool budget are refused with 503,
// the spool never holds more than the budget, and other requests are served meanwhile.
func TestSpoolBudget(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	const budget = 3 << 20
	env := startServer(t, f, func(c *server.Config) {
		c.MaxBodyBytes = 2 << 20
		c.SpoolBudget = budget
		c.BodyTimeout = 3 * time.Second
	})
	part := strings.Repeat("x", 3<<19) // 1.5 MiB: two fit the budget, three do not
	start := "POST /cgi-bin/echo" + f.ext + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
		fmt.Sprintf("%x\r\n%s\r\n", len(part), part)
	const clients = 4
	statuses := make([]int, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _, _ = stalledRequest(t, env.addr, start, false)
		}()
	}
	peak := int64(0)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		peak = max(peak, env.srv.Stats().SpooledBytes)
	}
	if resp, body := getPath(t, env, "/cgi-bin/status"+f.ext); resp.StatusCode != 418 {
		t.Errorf("a script while the spool is full: %d %q", resp.StatusCode, body)
	}
	if resp, _ := getPath(t, env, "/hello.txt"); resp.StatusCode != 200 {
		t.Errorf("a static file while the spool is full: %d", resp.StatusCode)
	}
	wg.Wait()
	refused, timedOut := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusServiceUnavailable:
			refused++
		case http.StatusRequestTimeout:
			timedOut++
		}
	}
	if refused == 0 || refused+timedOut != clients {
		t.Errorf("statuses %v: want some 503 (past the budget) and 408 for the rest", statuses)
	}
	if peak > budget || peak == 0 {
		t.Errorf("spooled at most %d bytes; want some, within the budget %d", peak, budget)
	}
	if n := env.srv.Stats().SpooledBytes; n != 0 {
		t.Errorf("%d bytes still counted as spooled", n)
	}
	t.Logf("statuses %v, peak spool %d of %d", statuses, peak, budget)
}

// TestBodyDeadlineEndsWithTheBody: once the body is in, its deadline no longer applies, so
// a script that works longer than that after reading it still answers.
func TestBodyDeadlineEndsWithTheBody(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	env := startServer(t, f, func(c *server.Config) {
		c.Timeout = time.Minute
		c.BodyTimeout = 200 * time.Millisecond
	})
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader("some body")
		if chunked {
			body = io.MultiReader(body)
		}
		req, err := http.NewRequest(http.MethodPost, env.url+"/cgi-bin/readsleep"+f.ext, body)
		if err != nil {
			t.Fatal(err)
		}
		if resp, got := testutil.Do(t, env.client, req); resp.StatusCode != 200 || !strings.Contains(got, "read=9") {
			t.Errorf("chunked=%v: %d %q; want 200 with the body read", chunked, resp.StatusCode, got)
		}
	}
}

// TestSpoolFailureIsTheServers: a body that must be spooled to a file when the temporary
// directory cannot be written (a read-only container without a /tmp) is the server's
// failure: 500 and an error in the log, not a 400 that blames the client. A body that fits
// in memory still reaches its script.
func TestSpoolFailureIsTheServers(t *testing.T) {
	testutil.CheckLeaks(t)
	f := firstFactory()
	env := startServer(t, f, nil)
	missing := filepath.Join(t.TempDir(), "missing")
	for _, name := range []string{"TMPDIR", "TMP", "TEMP"} {
		t.Setenv(name, missing)
	}
	big := strings.Repeat("x", 3<<19) // past what is spooled in memory
	for _, c := range []struct {
		body   string
		status int
	}{{big, http.StatusInternalServerError}, {"small", http.StatusOK}} {
		req, err := http.NewRequest(http.MethodPost, env.url+"/cgi-bin/echo"+f.ext, io.MultiReader(strings.NewReader(c.body))) // chunked
		if err != nil {
			t.Fatal(err)
		}
		if resp, _ := testutil.Do(t, env.client, req); resp.StatusCode != c.status {
			t.Errorf("chunked body of %d bytes: %d, want %d", len(c.body), resp.StatusCode, c.status)
		}
	}
	if !strings.Contains(env.logs.String(), "cannot store the request body") {
		t.Errorf("log lacks the reason:\n%s", env.logs.String())
	}
}
