package server

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestFileCache checks that a cached file answers as an uncached one does, and that an
// edited, replaced or escaping file is never answered from the cache.
func TestFileCache(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "page.txt")
	write := func(body string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	write("first version\n", t0)
	srv, err := New(Config{Root: root, Executor: fakeExecutor{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.files.racy = 0 // the file was just written: keep it at once
	get := func(method string, header map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/page.txt", nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}

	first := get("GET", nil) // read from the file, and cached
	second := get("GET", nil)
	if srv.files.get(filepath.Base(file), mustStat(t, file)) == nil {
		t.Fatal("a small file was not cached")
	}
	for _, rec := range []*httptest.ResponseRecorder{first, second} {
		if rec.Code != 200 || rec.Body.String() != "first version\n" {
			t.Fatalf("%d %q", rec.Code, rec.Body)
		}
		for k, want := range map[string]string{"Content-Type": "text/plain; charset=utf-8", "Content-Length": "14",
			"Last-Modified": "Fri, 02 Jan 2026 03:04:05 GMT", "Accept-Ranges": "bytes"} {
			if got := rec.Header().Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
	}
	if rec := get("HEAD", nil); rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != "14" {
		t.Errorf("HEAD: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	if rec := get("GET", map[string]string{"If-Modified-Since": "Fri, 02 Jan 2026 03:04:05 GMT"}); rec.Code != 304 {
		t.Errorf("conditional GET: %d", rec.Code)
	}
	if rec := get("GET", map[string]string{"Range": "bytes=6-12"}); rec.Code != 206 || rec.Body.String() != "version" {
		t.Errorf("Range: %d %q", rec.Code, rec.Body)
	}

	// Same size and the same time set back, as an mmap write or "touch -r" can leave it:
	// the inode change time tells, where there is one.
	if changeTime(mustStat(t, file)) != 0 {
		time.Sleep(10 * time.Millisecond) // a new ctime tick
		write("FIRST VERSION\n", t0)
		if rec := get("GET", nil); rec.Body.String() != "FIRST VERSION\n" {
			t.Errorf("after an edit that kept size and mtime: %q", rec.Body)
		}
	}
	// Same size, new time: the new content.
	write("other version\n", t0.Add(time.Second))
	if rec := get("GET", nil); rec.Body.String() != "other version\n" {
		t.Errorf("after an edit: %q", rec.Body)
	}
	// Same size and time, another file put in its place.
	replacement := filepath.Join(root, "new.txt")
	if err := os.WriteFile(replacement, []byte("third version\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(replacement, t0.Add(time.Second), t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(replacement, file); err != nil {
		t.Fatal(err)
	}
	if rec := get("GET", nil); rec.Body.String() != "third version\n" {
		t.Errorf("after a replacement: %q", rec.Body)
	}
	t.Run("symlink out of the root in its place", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("making symlinks needs a privilege on Windows")
		}
		testSymlinkReplacesCachedFile(t, file, get)
	})
}

// testSymlinkReplacesCachedFile puts a symlink out of the root where the cached file was:
// it is refused, cached or not.
func testSymlinkReplacesCachedFile(t *testing.T, file string, get func(string, map[string]string) *httptest.ResponseRecorder) {
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, file); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if rec := get("GET", nil); rec.Code != http.StatusNotFound {
			t.Errorf("symlink out of the root: %d %q", rec.Code, rec.Body)
		}
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// TestCachedFileBehindNewCGIAlias: a directory whose file was cached is replaced by a symlink to
// the CGI directory. The path now names a script, another file, and is refused as an alias
// of the CGI directory: the cache does not answer for what it never checked.
func TestCachedFileBehindNewCGIAlias(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("making symlinks needs a privilege on Windows")
	}
	root := t.TempDir()
	for name, body := range map[string]string{"docs/x.sh": "the manual\n", "cgi-bin/x.sh": "#!/bin/sh\nsecret source\n"} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := New(Config{Root: root, Executor: fakeExecutor{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	srv.files.racy = 0
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/docs/x.sh", nil))
		return rec
	}
	for range 2 {
		if rec := get(); rec.Code != 200 || rec.Body.String() != "the manual\n" {
			t.Fatalf("before: %d %q", rec.Code, rec.Body)
		}
	}
	if err := os.RemoveAll(filepath.Join(root, "docs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("cgi-bin", filepath.Join(root, "docs")); err != nil {
		t.Fatal(err)
	}
	if rec := get(); rec.Code != http.StatusNotFound {
		t.Errorf("through the new alias: %d %q", rec.Code, rec.Body)
	}
}

// TestRecentlyModifiedFileNotKept: a file modified within racyWindow of being read is served
// but not kept, since an edit within the same timestamp tick would leave the stat as it was.
func TestRecentlyModifiedFileNotKept(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "fresh.txt")
	now := time.Now()
	if err := os.WriteFile(file, []byte("other version\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, now, now); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Root: root, Executor: fakeExecutor{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	get := func() string {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/fresh.txt", nil))
		return rec.Body.String()
	}
	if got := get(); got != "other version\n" {
		t.Fatalf("first GET: %q", got)
	}
	if srv.files.get(filepath.Base(file), mustStat(t, file)) != nil {
		t.Error("a file modified just now was kept")
	}
	if err := os.WriteFile(file, []byte("third version\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, now, now); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "third version\n" {
		t.Errorf("after a same-size edit in the same tick: %q", got)
	}
}
