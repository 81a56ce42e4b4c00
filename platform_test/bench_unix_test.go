//go:build unix

package platform_test

import (
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// helloScript is the trivial shell CGI script both benchmarks run.
const helloScript = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello\\n'\n"

func benchSite(b *testing.B) (root, script string) {
	b.Helper()
	root = testutil.WorldDir(b)
	script = filepath.Join(root, "cgi-bin", "hello.sh")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(helloScript), 0o755); err != nil {
		b.Fatal(err)
	}
	return root, script
}

// BenchmarkShellCGI runs the script through the whole cgihttpd server (as nobody when root).
func BenchmarkShellCGI(b *testing.B) {
	root, _ := benchSite(b)
	exec, err := executor.NewNative(executor.Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Config{Root: root, Executor: exec}, nil)
	if err != nil {
		b.Fatal(err)
	}
	benchHandler(b, srv, "/cgi-bin/hello.sh")
}

// BenchmarkNetHTTPCGI runs the same script through the standard library's cgi.Handler, the
// fastest Go peer (it keeps the server's user and environment).
func BenchmarkNetHTTPCGI(b *testing.B) {
	_, script := benchSite(b)
	benchHandler(b, &cgi.Handler{Path: script, Root: "/cgi-bin/hello.sh", Dir: filepath.Dir(script)}, "/cgi-bin/hello.sh")
}

func benchHandler(b *testing.B, h http.Handler, path string) {
	ts := httptest.NewServer(h)
	defer ts.Close()
	url := ts.URL + path
	b.Run("serial", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		b.ReportAllocs()
		for b.Loop() {
			get(b, client, url)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("parallel16", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		defer client.CloseIdleConnections()
		b.ReportAllocs()
		b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 concurrent clients here
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get(b, client, url)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

func get(b *testing.B, client *http.Client, url string) {
	resp, err := client.Get(url)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("status %d", resp.StatusCode)
	}
}
