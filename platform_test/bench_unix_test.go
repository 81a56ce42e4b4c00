//go:build unix

package platform_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// helloScript is the trivial shell CGI script both benchmarks run.
const helloScript = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello\\n'\n"

// helloGo is the same program in Go, run in-process or compiled.
const helloGo = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Print(\"Content-Type: text/plain\\n\\nhello\\n\")\n}\n"

func benchSite(b *testing.B) (root, script string) {
	b.Helper()
	root = testutil.WorldDir(b)
	script = filepath.Join(root, "cgi-bin", "hello.sh")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		b.Fatal(err)
	}
	writeSettled(b, script, helloScript, 0o755)
	return root, script
}

// writeSettled writes a benchmark's file dated an hour back: cgihttpd neither caches a file
// nor trusts a script's compiled form while its mtime is under 2 s old, so a fresh file would
// put the first seconds of a benchmark on the paths that re-read it.
func writeSettled(b *testing.B, path, content string, perm os.FileMode) {
	b.Helper()
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		b.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkShellCGI runs the script through the whole cgihttpd server (as nobody when root).
func BenchmarkShellCGI(b *testing.B) {
	root, _ := benchSite(b)
	benchHandler(b, benchServer(b, root, "native"), "/cgi-bin/hello.sh")
}

// BenchmarkNetHTTPCGI runs the same script through the standard library's cgi.Handler, the
// fastest Go peer (it keeps the server's user and environment).
func BenchmarkNetHTTPCGI(b *testing.B) {
	_, script := benchSite(b)
	benchHandler(b, netHTTPCGI(script), "/cgi-bin/hello.sh")
}

// bigScript writes 10 MiB after its header, as workload (3) of bench/compare does.
const bigScript = "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\n\\n'\nexec head -c 10485760 /dev/zero\n"

// BenchmarkBigOutput streams 10 MiB from a script, one request at a time, through cgihttpd
// and through net/http/cgi.
func BenchmarkBigOutput(b *testing.B) { benchPair(b, bigScript, benchStream) }

// echoScript reads its whole body, then writes it back, as workload (2) of bench/compare does.
const echoScript = "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\n\\n'\n" +
	"exec dd bs=\"$CONTENT_LENGTH\" count=1 iflag=fullblock status=none\n"

// BenchmarkEcho1M posts 1 MiB to a script that echoes it, through cgihttpd and through
// net/http/cgi.
func BenchmarkEcho1M(b *testing.B) { benchPair(b, echoScript, benchEcho) }

// benchPair runs measure against script src served by cgihttpd, then by net/http/cgi.
func benchPair(b *testing.B, src string, measure func(*testing.B, http.Handler, string)) {
	b.Run("cgihttpd", func(b *testing.B) {
		root, _ := benchScript(b, src)
		measure(b, benchServer(b, root, "native"), "/cgi-bin/hello.sh")
	})
	b.Run("net-http-cgi", func(b *testing.B) {
		_, script := benchScript(b, src)
		measure(b, netHTTPCGI(script), "/cgi-bin/hello.sh")
	})
}

// benchScript is benchSite with src as the script.
func benchScript(b *testing.B, src string) (root, script string) {
	root, script = benchSite(b)
	writeSettled(b, script, src, 0o755)
	return root, script
}

// benchServer is cgihttpd over root with the executors of mode, logging through hclog at warn
// as the side-by-side run does: logging calls that write nothing cost something too.
func benchServer(b *testing.B, root, mode string) http.Handler {
	srv, err := server.New(server.Config{Root: root, ExecutorMode: mode}, hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Warn}))
	if err != nil {
		b.Fatal(err)
	}
	testutil.CloseAtEnd(b, srv)
	return srv
}

// netHTTPCGI is the standard library's handler for script at /cgi-bin/hello.sh.
func netHTTPCGI(script string) http.Handler {
	return &cgi.Handler{Path: script, Root: "/cgi-bin/hello.sh", Dir: filepath.Dir(script)}
}

// benchEcho posts 1 MiB bodies from 4 clients, as bench/compare does, and checks the echo.
func benchEcho(b *testing.B, h http.Handler, path string) {
	ts := httptest.NewServer(h)
	defer ts.Close()
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(i % 251)
	}
	b.SetBytes(int64(len(body)))
	b.SetParallelism(4 / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		c := dialBench(b, ts.Listener.Addr().String(), path)
		defer c.close()
		c.req = append([]byte(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: bench\r\nContent-Length: %d\r\n\r\n", path, len(body))), body...)
		for pb.Next() {
			if n := c.do(b); n != int64(len(body)) {
				b.Errorf("echoed %d bytes of %d", n, len(body))
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// benchStream measures one client reading whole large responses from h, in MiB/s.
func benchStream(b *testing.B, h http.Handler, path string) {
	ts := httptest.NewServer(h)
	defer ts.Close()
	c := dialBench(b, ts.Listener.Addr().String(), path)
	defer c.close()
	var total int64
	for b.Loop() {
		total += c.do(b)
	}
	b.SetBytes(total / int64(b.N))
	b.ReportMetric(float64(total)/(1<<20)/b.Elapsed().Seconds(), "MiB/s")
}

// BenchmarkSpawnShell is the spawn ceiling: os/exec of the same script in a loop, reading
// its output, with no HTTP and no privilege drop. No CGI server can beat it.
func BenchmarkSpawnShell(b *testing.B) {
	_, script := benchSite(b)
	spawn := func(b *testing.B) {
		out, err := exec.Command(script).Output()
		if err != nil || len(out) == 0 {
			b.Fatalf("spawn: %v (%d bytes)", err, len(out))
		}
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			spawn(b)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("parallel16", func(b *testing.B) {
		b.SetParallelism(16 / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				spawn(b)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

// BenchmarkInProcessHello runs helloGo in-process: in the interpreter worker when the
// server runs as root, else inside the server.
func BenchmarkInProcessHello(b *testing.B) {
	root := testutil.WorldDir(b)
	script := filepath.Join(root, "cgi-bin", "hello.go")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		b.Fatal(err)
	}
	writeSettled(b, script, helloGo, 0o644)
	benchHandler(b, benchServer(b, root, "inproc"), "/cgi-bin/hello.go")
	for _, pid := range testutil.ChildProcesses() {
		if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(status), "\n") {
				if strings.HasPrefix(line, "VmRSS:") || strings.HasPrefix(line, "VmHWM:") {
					b.Logf("interpreter worker %d %s", pid, strings.Join(strings.Fields(line), " "))
				}
			}
		}
	}
}

// BenchmarkInServerHello runs helloGo in the server's own process, as before interpreter
// workers: the difference to BenchmarkInProcessHello is the worker channel's cost.
func BenchmarkInServerHello(b *testing.B) {
	root := testutil.WorldDir(b)
	script := filepath.Join(root, "cgi-bin", "hello.go")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		b.Fatal(err)
	}
	writeSettled(b, script, helloGo, 0o644)
	e := executor.NewInProcess(executor.InProcessConfig{Isolation: "server", AllowRoot: true}, nil)
	testutil.CloseAtEnd(b, e.(io.Closer))
	srv, err := server.New(server.Config{Root: root, ExecutorMode: "inproc", InProcess: e}, hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Warn}))
	if err != nil {
		b.Fatal(err)
	}
	testutil.CloseAtEnd(b, srv)
	benchHandler(b, srv, "/cgi-bin/hello.go")
}

// BenchmarkCompiledHello runs helloGo compiled, as a process through the native executor.
func BenchmarkCompiledHello(b *testing.B) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		b.Skip("needs the go command")
	}
	root := testutil.WorldDir(b)
	build := testutil.WorldDir(b)
	if err := os.WriteFile(filepath.Join(build, "main.go"), []byte(helloGo), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(goTool, "build", "-o", filepath.Join(root, "cgi-bin", "hello"), "main.go")
	cmd.Dir = build
	cmd.Env = append(os.Environ(), "GO111MODULE=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	benchHandler(b, benchServer(b, root, "native"), "/cgi-bin/hello")
}

// BenchmarkPlainHandler answers like helloGo from a compiled http.HandlerFunc: the ceiling
// for anything served by net/http on this machine, in-process scripts included.
func BenchmarkPlainHandler(b *testing.B) {
	benchHandler(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello\n")
	}), "/hello")
}

// BenchmarkStatic4K serves a 4 KiB file through the whole cgihttpd server (small-file cache).
func BenchmarkStatic4K(b *testing.B) {
	benchHandler(b, benchServer(b, static4K(b), "native"), "/4k.bin")
}

// BenchmarkFileServer4K serves the same file with Go's http.FileServer.
func BenchmarkFileServer4K(b *testing.B) {
	benchHandler(b, http.FileServer(http.Dir(static4K(b))), "/4k.bin")
}

// BenchmarkPlain4K writes the same 4 KiB from memory: the ceiling on net/http.
func BenchmarkPlain4K(b *testing.B) {
	body := make([]byte, 4096)
	benchHandler(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	}), "/4k.bin")
}

func static4K(b *testing.B) string {
	b.Helper()
	root := b.TempDir()
	writeSettled(b, filepath.Join(root, "4k.bin"), string(make([]byte, 4096)), 0o644)
	return root
}

// benchHandler measures h serving path through a real HTTP server on loopback. The client
// is a lean keep-alive loop (one connection per concurrent client, a fixed request): the
// server's cost is what is measured, not net/http's client machinery.
func benchHandler(b *testing.B, h http.Handler, path string) {
	ts := httptest.NewServer(h)
	defer ts.Close()
	addr := ts.Listener.Addr().String()
	b.Run("serial", func(b *testing.B) {
		c := dialBench(b, addr, path)
		defer c.close()
		b.ReportAllocs()
		for b.Loop() {
			c.do(b)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("parallel16", func(b *testing.B) {
		var mu sync.Mutex
		var latencies []time.Duration
		b.ReportAllocs()
		b.SetParallelism(16 / runtime.GOMAXPROCS(0)) // 16 concurrent clients on this machine
		b.RunParallel(func(pb *testing.PB) {
			c := dialBench(b, addr, path)
			defer c.close()
			var mine []time.Duration
			for pb.Next() {
				start := time.Now()
				c.do(b)
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		slices.Sort(latencies)
		if n := len(latencies); n > 0 {
			b.ReportMetric(float64(latencies[n/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(latencies[n*99/100].Microseconds())/1000, "p99-ms")
		}
	})
}

// benchConn is one kept-alive client connection sending the same GET again and again.
type benchConn struct {
	conn net.Conn
	br   *bufio.Reader
	req  []byte
}

func dialBench(b *testing.B, addr, path string) *benchConn {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	return &benchConn{conn: conn, br: bufio.NewReader(conn), req: []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\n\r\n")}
}

func (c *benchConn) do(b *testing.B) int64 {
	if _, err := c.conn.Write(c.req); err != nil {
		b.Fatal(err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("status %d", resp.StatusCode)
	}
	return n
}

func (c *benchConn) close() { _ = c.conn.Close() }
