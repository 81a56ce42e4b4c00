package server

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// The hot paths of one request, each alone, with allocations reported. CI runs every
// benchmark once (-benchtime=1x) to keep them compiling and working; figures come from
// "go test -run '^$' -bench . -benchmem ./server/".

// benchSite is a docroot with a script two directories down and a static file.
func benchSite(b *testing.B) string {
	b.Helper()
	root := b.TempDir()
	for name, body := range map[string]string{
		"cgi-bin/tools/v2/report.sh": "#!/bin/sh\n",
		"docs/guide/page.html":       "<p>guide</p>\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// BenchmarkResolveScript: a request path to its script and PATH_INFO, the script opened
// beneath the root and checked to lie in a CGI directory.
func BenchmarkResolveScript(b *testing.B) {
	s, err := New(Config{Root: benchSite(b), Executor: fakeExecutor{}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	b.ReportAllocs()
	for b.Loop() {
		clean, err := collapsePath("/cgi-bin/tools/./v2/report.sh/2026/q3")
		if err != nil {
			b.Fatal(err)
		}
		dir := cgiPrefix(clean, DefaultCGIDirs)
		t := s.docs.findScript(clean, dir)
		script, err := s.resolveScript(t, dir)
		if err != nil || t.pathInfo != "/2026/q3" {
			b.Fatalf("resolved %+v: %v", t, err)
		}
		script.close()
	}
}

// BenchmarkResolveStatic: a static path opened beneath the root and checked against every
// name of the CGI directories.
func BenchmarkResolveStatic(b *testing.B) {
	s, err := New(Config{Root: benchSite(b), Executor: fakeExecutor{}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	b.ReportAllocs()
	for b.Loop() {
		clean, err := collapsePath("/docs/guide/page.html")
		if err != nil || cgiPrefix(clean, DefaultCGIDirs) != "" {
			b.Fatal(clean, err)
		}
		o, ok := s.openServable(relPath(clean), 0)
		if !ok {
			b.Fatal("refused")
		}
		o.close()
	}
}

func BenchmarkBuildEnv(b *testing.B) {
	s, err := New(Config{Root: b.TempDir(), Executor: fakeExecutor{}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	r := envRequest("POST", "/cgi-bin/x.sh/extra?name=Zo%C3%AB&x=1")
	for k, v := range map[string]string{
		"Accept":          "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"Accept-Encoding": "gzip, deflate, br",
		"Accept-Language": "en-GB,en;q=0.9",
		"Content-Type":    "application/x-www-form-urlencoded",
		"Cookie":          "session=abc123; theme=dark",
		"Origin":          "http://example.com",
		"Referer":         "http://example.com/form.html",
		"User-Agent":      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
	} {
		r.Header.Set(k, v)
	}
	target := defaultTarget
	target.pathInfo = "/extra"
	b.ReportAllocs()
	for b.Loop() {
		if env := s.buildEnv(cgiRequest{r: r, root: s.root, target: target, bodyLength: 42}); len(env) < 20 {
			b.Fatalf("%d variables", len(env))
		}
	}
}

// BenchmarkParseCGIHeader: a script's typical header block (without its blank line) into
// status and response headers.
func BenchmarkParseCGIHeader(b *testing.B) {
	block := []byte("Status: 201 Created\r\nContent-Type: text/html; charset=utf-8\r\n" +
		"Set-Cookie: session=abc123; Path=/; HttpOnly\r\nCache-Control: no-store\r\nX-Request-Note: fine")
	b.ReportAllocs()
	for b.Loop() {
		h, err := parseCGIHeader(block)
		if err != nil || h.status != 201 {
			b.Fatal(h, err)
		}
	}
}

// BenchmarkCGIRoundTrip: a whole CGI request through the handler with a script that needs
// no process, so that what is measured is the server's own work around a script.
func BenchmarkCGIRoundTrip(b *testing.B) {
	root := benchSite(b)
	s, err := New(Config{Root: root, Executor: runsExecutor{}, FlushDelay: -1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	req := envRequest("GET", "/cgi-bin/tools/v2/report.sh/2026?q=1")
	req.Header.Set("User-Agent", "bench")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
