package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// frontSite serves a hotSite twice: through Front, and through net/http alone (the
// reference that every answer of the front is compared with). handled counts the requests
// that reached the handler through the front's http.Server, that is, the ones handed on.
type frontSite struct {
	*hotSite
	front, plain string // addresses
	handled      atomic.Int64
	closeFront   func()
}

var testFrontConfig = FrontConfig{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second, MaxHeaderBytes: 8 << 10}

func newFrontSite(t *testing.T, cfg FrontConfig) *frontSite {
	t.Helper()
	f := &frontSite{hotSite: newHotSite(t, nil)}
	f.heat("/docs/page.txt", "first version\n")
	serve := func(ln net.Listener, count bool) func() {
		hs := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if count {
					f.handled.Add(1)
				}
				f.s.ServeHTTP(w, r)
			}),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    cfg.MaxHeaderBytes,
		}
		served := make(chan struct{})
		go func() { defer close(served); _ = hs.Serve(ln) }()
		return func() { _ = hs.Close(); <-served }
	}
	frontLn := f.s.Front(listen(t), cfg)
	f.front = frontLn.Addr().String()
	f.closeFront = serve(frontLn, true)
	plainLn := listen(t)
	f.plain = plainLn.Addr().String()
	closePlain := serve(plainLn, false)
	t.Cleanup(func() { f.closeFront(); closePlain() })
	return f
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// exchange sends raw on a new connection to addr and reads n answers (to HEAD requests
// where head[i]), each as its status line, its headers but Date, sorted, and its body.
func exchange(t *testing.T, addr, raw string, n int, head []bool) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []string
	for i := range n {
		method := http.MethodGet
		if i < len(head) && head[i] {
			method = http.MethodHead
		}
		resp, body, err := readAnswer(br, method)
		if err != nil {
			t.Fatalf("answer %d of %d to %q: %v", i+1, n, raw, err)
		}
		resp.Header.Del("Date")
		var lines []string
		for k, vs := range resp.Header {
			lines = append(lines, k+": "+strings.Join(vs, ", "))
		}
		sort.Strings(lines)
		out = append(out, fmt.Sprintf("%s\n%s\n\n%s", resp.Status, strings.Join(lines, "\n"), body))
	}
	return out
}

// readAnswer reads one answer, to a request of method, with its whole body.
func readAnswer(br *bufio.Reader, method string) (*testutil.Reply, string, error) {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	return testutil.ReadReply(resp)
}

const hotGet = "GET /docs/page.txt HTTP/1.1\r\nHost: example.test\r\n\r\n"

// frontCases are raw requests, with how many answers they get, which are to HEAD, and
// whether the front answers them all itself.
var frontCases = []struct {
	name    string
	raw     string
	answers int
	head    []bool
	byFront int // answers from the front itself
}{
	{"plain GET", hotGet, 1, nil, 1},
	{"HEAD", "HEAD /docs/page.txt HTTP/1.1\r\nHost: example.test\r\n\r\n", 1, []bool{true}, 1},
	{"browser headers", "GET /docs/page.txt HTTP/1.1\r\nhost: example.test:8000\r\nUser-Agent: x/1\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nCookie: a=b; c=d\r\nConnection: Keep-Alive\r\n\r\n", 1, nil, 1},
	{"three pipelined", hotGet + hotGet + "HEAD /docs/page.txt HTTP/1.1\r\nHost: h\r\n\r\n", 3, []bool{false, false, true}, 3},
	{"range", "GET /docs/page.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=0-4\r\n\r\n", 1, nil, 0},
	{"if-modified-since", "GET /docs/page.txt HTTP/1.1\r\nHost: h\r\nIf-Modified-Since: " + hotTime.Format(http.TimeFormat) + "\r\n\r\n", 1, nil, 0},
	{"connection close", "GET /docs/page.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 1, nil, 0},
	{"HTTP/1.0", "GET /docs/page.txt HTTP/1.0\r\n\r\n", 1, nil, 0},
	{"no host", "GET /docs/page.txt HTTP/1.1\r\n\r\n", 1, nil, 0},
	{"two hosts", "GET /docs/page.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 1, nil, 0},
	{"bad host", "GET /docs/page.txt HTTP/1.1\r\nHost: a/b\r\n\r\n", 1, nil, 0},
	{"space before colon", "GET /docs/page.txt HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n", 1, nil, 0},
	{"control byte", "GET /docs/page.txt HTTP/1.1\r\nHost: h\r\nX-A: 1\x01\r\n\r\n", 1, nil, 0},
	{"folded header", "GET /docs/page.txt HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n", 1, nil, 0},
	{"bare LF", "GET /docs/page.txt HTTP/1.1\nHost: h\n\n", 1, nil, 0},
	{"content-length body", "GET /docs/page.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" + hotGet, 2, nil, 0},
	{"chunked body", "GET /docs/page.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + hotGet, 2, nil, 0},
	{"query", "GET /docs/page.txt?v=2 HTTP/1.1\r\nHost: h\r\n\r\n", 1, nil, 0},
	{"escaped", "GET /docs/page%2etxt HTTP/1.1\r\nHost: h\r\n\r\n", 1, nil, 0},
	{"dot segments", "GET /docs/../docs/page.txt HTTP/1.1\r\nHost: h\r\n\r\n", 1, nil, 0},
	{"POST", "POST /docs/page.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", 1, nil, 0},
	{"lower-case method", "get /docs/page.txt HTTP/1.1\r\nHost: h\r\n\r\n", 1, nil, 0},
	{"not hot", "GET /docs/ HTTP/1.1\r\nHost: h\r\n\r\n", 1, nil, 0},
	{"missing", "GET /docs/nothing.txt HTTP/1.1\r\nHost: h\r\n\r\n", 1, nil, 0},
	{"hot, then handed on, then hot", hotGet + "GET /docs/page.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=2-3\r\n\r\n" + hotGet, 3, nil, 1},
	{"header beyond the front's buffer", "GET /docs/page.txt HTTP/1.1\r\nHost: h\r\nCookie: " + strings.Repeat("c", 6000) + "\r\n\r\n", 1, nil, 0},
	{"header beyond MaxHeaderBytes", "GET /docs/page.txt HTTP/1.1\r\nHost: h\r\nCookie: " + strings.Repeat("c", 40000) + "\r\n\r\n", 1, nil, 0},
}

// TestFrontAnswersAsNetHTTPDoes sends each request to the front and to net/http alone: the
// answers must be the same (but for Date), and the front must have answered exactly the
// simple requests itself.
func TestFrontAnswersAsNetHTTPDoes(t *testing.T) {
	f := newFrontSite(t, testFrontConfig)
	for _, tc := range frontCases {
		t.Run(tc.name, func(t *testing.T) {
			want := exchange(t, f.plain, tc.raw, tc.answers, tc.head)
			handled, requests := f.handled.Load(), f.s.Stats().Requests
			got := exchange(t, f.front, tc.raw, tc.answers, tc.head)
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("answer %d through the front:\n%s\nnet/http alone:\n%s", i+1, got[i], want[i])
				}
			}
			// The server counts every request it answers; those that reached it through
			// net/http were counted by the handler too.
			if byFront := (f.s.Stats().Requests - requests) - (f.handled.Load() - handled); byFront != int64(tc.byFront) {
				t.Errorf("the front answered %d of %d, want %d", byFront, tc.answers, tc.byFront)
			}
		})
	}
}

// FuzzFrontAnswersAsNetHTTPDoes: whatever a client sends, the front answers as net/http
// alone does.
func FuzzFrontAnswersAsNetHTTPDoes(f *testing.F) {
	for _, tc := range frontCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		site := newFrontSite(t, testFrontConfig)
		want := rawAnswer(t, site.plain, raw)
		got := rawAnswer(t, site.front, raw)
		if got != want {
			t.Errorf("%q through the front:\n%s\nnet/http alone:\n%s", raw, got, want)
		}
	})
}

// rawAnswer is everything a server sends back to raw before it closes or is quiet for a
// moment, less Date headers.
func rawAnswer(t *testing.T, addr, raw string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_, _ = io.WriteString(c, raw)
	_ = c.(*net.TCPConn).CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	var keep []string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasPrefix(line, "Date: ") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

// TestFrontSeesEveryChange: on one connection, each change is in the next answer.
func TestFrontSeesEveryChange(t *testing.T) {
	f := newFrontSite(t, testFrontConfig)
	c, err := net.Dial("tcp", f.front)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	br := bufio.NewReader(c)
	get := func() (int, string) {
		t.Helper()
		if _, err := io.WriteString(c, hotGet); err != nil {
			t.Fatal(err)
		}
		resp, body, err := readAnswer(br, http.MethodGet)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	if code, body := get(); code != 200 || body != "first version\n" {
		t.Fatalf("got %d %q", code, body)
	}
	f.write(f.file, "other version\n") // same size, same mtime
	if code, body := get(); code != 200 || body != "other version\n" {
		t.Fatalf("after an in-place edit: %d %q", code, body)
	}
	if err := os.Remove(f.file); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(); code != 404 {
		t.Fatalf("after delete: %d, want 404", code)
	}
}

// TestFrontRechecksAQuietPath: a hot path is trusted for hotTrust after its last check. A
// connection whose request comes later is still answered by the front, after the stat that
// the handler would make; a change in the meantime sends it to net/http, which reads the new
// file.
func TestFrontRechecksAQuietPath(t *testing.T) {
	f := newFrontSite(t, testFrontConfig)
	get := func(want string, handedOn bool) {
		t.Helper()
		handled := f.handled.Load()
		if got := exchange(t, f.front, hotGet, 1, nil)[0]; !strings.HasPrefix(got, "200 OK\n") || !strings.HasSuffix(got, "\n\n"+want) {
			t.Fatalf("got %q, want 200 with %q", got, want)
		}
		if n := f.handled.Load() - handled; n != map[bool]int64{false: 0, true: 1}[handedOn] {
			t.Fatalf("%d requests reached net/http, want handed on: %v", n, handedOn)
		}
	}
	get("first version\n", false)
	time.Sleep(hotTrust + 100*time.Millisecond)
	get("first version\n", false)
	f.write(f.file, "a longer second version\n")
	get("a longer second version\n", true)
	get("a longer second version\n", false)
}

// TestFrontDeadlines: the front closes a connection whose request does not come, or does not
// end, in time, as net/http would.
func TestFrontDeadlines(t *testing.T) {
	cfg := testFrontConfig
	cfg.ReadHeaderTimeout, cfg.IdleTimeout = 200*time.Millisecond, 300*time.Millisecond
	f := newFrontSite(t, cfg)
	for _, tc := range []struct{ name, raw string }{
		{"silent from the start", ""},
		{"request never ends", "GET /docs/page.txt HTTP/1.1\r\nHo"},
		{"idle after an answer", hotGet},
		{"next request never ends", hotGet + "GET /docs/pa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", f.front)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, _ = io.WriteString(c, tc.raw)
			b, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("the server did not close the connection: %v", err)
			}
			if answers := bytes.Count(b, []byte("HTTP/1.1 200 OK")); answers != strings.Count(tc.raw, hotGet) {
				t.Errorf("%d answers before the close: %q", answers, b)
			}
		})
	}
}

// TestFrontCloseLeavesNothing: closing the listener closes the connections waiting in the
// front, and no goroutine of it is left.
func TestFrontCloseLeavesNothing(t *testing.T) {
	testutil.CheckLeaks(t) // when the site, its servers and the front are closed
	f := newFrontSite(t, testFrontConfig)
	var conns []net.Conn
	for _, raw := range []string{hotGet, hotGet + "GET /doc", "", "GET /docs/ HTTP/1.1\r\nHost: h\r\n\r\n"} {
		c, err := net.Dial("tcp", f.front)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		_, _ = io.WriteString(c, raw)
		conns = append(conns, c)
	}
	// Each connection has its answers (the third none) before the close.
	for i, c := range conns[:2] {
		if _, _, err := readAnswer(bufio.NewReader(c), http.MethodGet); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	if _, _, err := readAnswer(bufio.NewReader(conns[3]), http.MethodGet); err != nil {
		t.Fatal(err)
	}
	f.closeFront()
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("connection %d still open after Close: %v", i, err)
		}
	}
}

// TestFrontLogsAsNetHTTPPathDoes: the access log line of an answer from the front is the one
// the handler writes.
func TestFrontLogsAsNetHTTPPathDoes(t *testing.T) {
	var logs testutil.SyncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info, DisableTime: true})
	h := newHotSite(t, nil)
	s, err := New(Config{Root: h.root, Executor: fakeExecutor{}}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	h.s = s
	h.heat("/docs/page.txt", "first version\n")
	ln := s.Front(listen(t), testFrontConfig)
	hs := &http.Server{Handler: s, ReadHeaderTimeout: time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	defer func() {
		_ = hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	}()
	heated := strings.Count(logs.String(), "access:")
	exchange(t, ln.Addr().String(), hotGet+"HEAD /docs/page.txt HTTP/1.1\r\nHost: h\r\n\r\n", 2, []bool{false, true})
	// The front logs after it answers: wait for the lines.
	var lines []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		lines = lines[:0]
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "access:") {
				lines = append(lines, l)
			}
		}
		if len(lines) >= heated+2 {
			break
		}
	}
	if len(lines) != heated+2 {
		t.Fatalf("access lines:\n%s", strings.Join(lines, "\n"))
	}
	for i, want := range []string{`"GET /docs/page.txt HTTP/1.1" 200 14:`, `"HEAD /docs/page.txt HTTP/1.1" 200 -:`} {
		if l := lines[heated+i]; !strings.Contains(l, "[INFO]  access: 127.0.0.1 - - [") || !strings.Contains(l, want) {
			t.Errorf("access line %q, want one with %q", l, want)
		}
	}
}

// TestHandedConnReadsPendingFirst: a connection handed on reads what the front had read, then
// the rest, through Read and through WriteTo.
func TestHandedConnReadsPendingFirst(t *testing.T) {
	for _, viaWriteTo := range []bool{false, true} {
		ln := listen(t)
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err == nil {
				_, _ = io.WriteString(c, " and the rest")
				_ = c.Close()
			}
		}()
		c, err := ln.Accept()
		_ = ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		h := handedConn(c, []byte("what was read"))
		var got bytes.Buffer
		if viaWriteTo {
			_, err = h.(io.WriterTo).WriteTo(&got)
		} else {
			_, err = io.Copy(&got, struct{ io.Reader }{h})
		}
		_ = h.Close()
		if err != nil || got.String() != "what was read and the rest" {
			t.Errorf("WriteTo %v: %q, %v", viaWriteTo, got.String(), err)
		}
	}
}
