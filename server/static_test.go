package server

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 4096 + 512: "4.5 KiB",
		10 << 20: "10.0 MiB", 3 << 30: "3.0 GiB", 5 << 40: "5.0 TiB", 7 << 50: "7.0 PiB", 1 << 62: "4096.0 PiB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestPagesAreSelfContained checks the pages the server writes itself: the listing and an
// error page each have a charset, a phone-width viewport, a title that says what the page
// is, and nothing fetched from elsewhere.
func TestPagesAreSelfContained(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "sub", "four-k.bin"), make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Root: root, Executor: fakeExecutor{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	title := regexp.MustCompile(`<title>([^<]*)</title>`)
	for path, want := range map[string]struct {
		status int
		title  string
		body   []string
	}{
		"/sub/":    {200, "Directory listing for /sub/", []string{`<a href="four-k.bin">four-k.bin</a><span>4.0 KiB · `, `<a href="../">../</a>`}},
		"/missing": {404, "404 Not Found", []string{"<h1>404 Not Found</h1>"}},
	} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body := rec.Body.String()
		if rec.Code != want.status {
			t.Errorf("%s: status %d, want %d", path, rec.Code, want.status)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		for _, s := range append(want.body, "<!DOCTYPE html>", `<html lang="en">`, `<meta charset="utf-8">`,
			`<meta name="viewport" content="width=device-width, initial-scale=1">`) {
			if !strings.Contains(body, s) {
				t.Errorf("%s: page lacks %q:\n%s", path, s, body)
			}
		}
		if m := title.FindStringSubmatch(body); m == nil || m[1] != want.title {
			t.Errorf("%s: title %q, want %q", path, m, want.title)
		}
		for _, external := range []string{"src=", "http:", "https:", "@import", "url("} {
			if strings.Contains(body, external) {
				t.Errorf("%s: page refers to something outside itself (%q):\n%s", path, external, body)
			}
		}
	}
}
