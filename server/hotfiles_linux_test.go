package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/executor"
)

// hotSite is a document root with docs/page.txt, last modified long ago (a file modified
// within racyWindow is never kept), and a server on it.
type hotSite struct {
	t    *testing.T
	root string
	file string
	s    *Server
}

var hotTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newHotSite(t *testing.T, exec executor.Executor) *hotSite {
	t.Helper()
	h := &hotSite{t: t, root: t.TempDir()}
	h.file = filepath.Join(h.root, "docs", "page.txt")
	if err := os.Mkdir(filepath.Dir(h.file), 0o755); err != nil {
		t.Fatal(err)
	}
	h.write(h.file, "first version\n")
	if exec == nil {
		exec = fakeExecutor{}
	}
	s, err := New(Config{Root: h.root, Executor: exec}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	h.s = s
	return h
}

// write puts body in path with the old modification time, as an in-place edit that keeps
// size and mtime would (rsync --inplace --times).
func (h *hotSite) write(path, body string) {
	h.t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := io.WriteString(f, body); err != nil {
		h.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Chtimes(path, hotTime, hotTime); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hotSite) get(path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

// heat requests path until it is hot: the first request reads the file and adds the
// watches, which came after that read; the second reads it again under them.
func (h *hotSite) heat(path, want string) {
	h.t.Helper()
	for range 3 {
		if rec := h.get(path); rec.Code != 200 || rec.Body.String() != want {
			h.t.Fatalf("GET %s: %d %q, want %q", path, rec.Code, rec.Body, want)
		}
		if h.s.hot.lookup(path, time.Now()) != nil {
			return
		}
	}
	h.t.Fatalf("%s is not hot after 3 requests", path)
}

func (h *hotSite) expect(path string, code int, body string) {
	h.t.Helper()
	if rec := h.get(path); rec.Code != code || (body != "" && rec.Body.String() != body) {
		h.t.Errorf("GET %s: %d %q, want %d %q", path, rec.Code, rec.Body, code, body)
	}
}

// TestHotFileSeesEveryChange: a hot path answers without a stat, so every change that a stat
// would show, and some it would not, must reach it through the watches, and be seen by the
// very next request (no sleeping here: the events are read before a hot answer).
func TestHotFileSeesEveryChange(t *testing.T) {
	const page = "/docs/page.txt"
	t.Run("in-place edit keeping size and mtime", func(t *testing.T) {
		h := newHotSite(t, nil)
		h.heat(page, "first version\n")
		h.write(h.file, "other version\n") // a stat sees nothing new
		h.expect(page, 200, "other version\n")
	})
	t.Run("touched", func(t *testing.T) {
		h := newHotSite(t, nil)
		h.heat(page, "first version\n")
		later := hotTime.Add(time.Hour)
		if err := os.Chtimes(h.file, later, later); err != nil {
			t.Fatal(err)
		}
		if got := h.get(page).Header().Get("Last-Modified"); got != later.Format(http.TimeFormat) {
			t.Errorf("Last-Modified %q after touch", got)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		h := newHotSite(t, nil)
		h.heat(page, "first version\n")
		if err := os.Remove(h.file); err != nil {
			t.Fatal(err)
		}
		h.expect(page, 404, "")
	})
	t.Run("replaced by rename", func(t *testing.T) {
		h := newHotSite(t, nil)
		h.heat(page, "first version\n")
		tmp := filepath.Join(h.root, "docs", ".new")
		h.write(tmp, "third version\n")
		if err := os.Rename(tmp, h.file); err != nil {
			t.Fatal(err)
		}
		h.expect(page, 200, "third version\n")
	})
	t.Run("written through a hard link elsewhere", func(t *testing.T) {
		h := newHotSite(t, nil)
		h.heat(page, "first version\n")
		other := filepath.Join(t.TempDir(), "link.txt")
		if err := os.Link(h.file, other); err != nil {
			t.Skip("no hard links here:", err)
		}
		h.write(other, "linked version\n")
		h.expect(page, 200, "linked version\n")
	})
	t.Run("directory on the way renamed", func(t *testing.T) {
		h := newHotSite(t, nil)
		h.heat(page, "first version\n")
		if err := os.Rename(filepath.Dir(h.file), filepath.Join(h.root, "old")); err != nil {
			t.Fatal(err)
		}
		h.expect(page, 404, "")
		h.expect("/old/page.txt", 200, "first version\n")
	})
	t.Run("directory on the way swapped for a symlink out of the root", func(t *testing.T) {
		h := newHotSite(t, nil)
		h.heat(page, "first version\n")
		outside := t.TempDir()
		h.write(filepath.Join(outside, "page.txt"), "secret version\n")
		if err := os.Rename(filepath.Dir(h.file), filepath.Join(h.root, "old")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(h.root, "docs")); err != nil {
			t.Fatal(err)
		}
		h.expect(page, 404, "")
	})
}

// TestHotPathNeverThroughSymlinks: a path with a symlink below the root stays validated by a
// stat per request, since a watch on the link's directory does not see the target change.
func TestHotPathNeverThroughSymlinks(t *testing.T) {
	h := newHotSite(t, nil)
	if err := os.Symlink("docs", filepath.Join(h.root, "alias")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("page.txt", filepath.Join(h.root, "docs", "link.txt")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/alias/page.txt", "/docs/link.txt"} {
		for range 3 {
			h.expect(p, 200, "first version\n")
		}
		if h.s.hot.lookup(p, time.Now()) != nil {
			t.Errorf("%s became hot", p)
		}
	}
}

// TestHotPathTrustedForASecond: a hot path is checked by a stat again after hotTrust, for
// the changes that no event reports.
func TestHotPathTrustedForASecond(t *testing.T) {
	h := newHotSite(t, nil)
	h.heat("/docs/page.txt", "first version\n")
	if h.s.hot.lookup("/docs/page.txt", time.Now().Add(hotTrust)) != nil {
		t.Error("still hot a second on")
	}
}

// TestScriptWritesFileThenRedirectsToIt: a script that writes a static file and answers
// with a local redirect to it gets the new content, not the hot old one.
func TestScriptWritesFileThenRedirectsToIt(t *testing.T) {
	var h *hotSite
	h = newHotSite(t, funcExecutor(func(inv *executor.Invocation) error {
		h.write(h.file, "fresh version\n")
		_, err := io.WriteString(inv.Stdout, "Location: /docs/page.txt\n\n")
		return err
	}))
	script := filepath.Join(h.root, "cgi-bin", "update.sh")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.heat("/docs/page.txt", "first version\n")
	h.expect("/cgi-bin/update.sh", 200, "fresh version\n")
}

type funcExecutor func(*executor.Invocation) error

func (f funcExecutor) Run(_ context.Context, inv *executor.Invocation) error { return f(inv) }
func (funcExecutor) Name() string                                            { return "func" }

// TestHotFilesAfterQueueOverflow: when more events come than the kernel queues, some are
// lost, so nothing cached before is trusted.
func TestHotFilesAfterQueueOverflow(t *testing.T) {
	h := newHotSite(t, nil)
	h.heat("/docs/page.txt", "first version\n")
	max := 16384
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		_, _ = fmt.Sscan(string(b), &max)
	}
	if max > 1<<17 {
		t.Skipf("max_queued_events %d: too many to overflow in a test", max)
	}
	// Events alternate between two files, since the kernel merges repeats of the last one.
	other := filepath.Join(h.root, "docs", "other.txt")
	h.write(other, "x")
	h.heat("/docs/other.txt", "x")
	for i := range max + 10 {
		p := []string{h.file, other}[i%2]
		if err := os.Chtimes(p, hotTime, hotTime); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.s.files.entries) == 0 {
		t.Fatal("the cache was emptied before the events were read")
	}
	h.s.hot.lookup("/docs/page.txt", time.Now()) // reads the events
	if n := len(h.s.files.entries); n != 0 {
		t.Errorf("%d cache entries trusted after an overflow", n)
	}
}

// TestHotHitAllocatesNothing: a hot hit allocates nothing of its own, so that a static file
// costs what net/http costs for any answer. (The recorder is made once and reset; net/http's
// own response writer is not part of what is counted.)
func TestHotHitAllocatesNothing(t *testing.T) {
	h := newHotSite(t, nil)
	h.heat("/docs/page.txt", "first version\n")
	req := httptest.NewRequest("GET", "/docs/page.txt", nil)
	w := &reusableWriter{header: make(http.Header)}
	allocs := testing.AllocsPerRun(200, func() {
		clear(w.header)
		w.code, w.n = 0, 0
		h.s.ServeHTTP(w, req)
	})
	if w.code != 200 || w.n != len("first version\n") {
		t.Fatalf("answered %d with %d bytes", w.code, w.n)
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per hot hit", allocs)
	}
}

// reusableWriter is a ResponseWriter that allocates nothing once made.
type reusableWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *reusableWriter) Header() http.Header { return w.header }
func (w *reusableWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *reusableWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}

// TestHotFilesWatchesBounded: past its bound of watches the index removes them all and
// starts over, rather than spend root's inotify allowance on files that left the cache.
func TestHotFilesWatchesBounded(t *testing.T) {
	h := newHotSite(t, nil)
	hot := h.s.hot.(*inotifyHotFiles)
	hot.maxWatches = 6 // the root, docs, and four files
	for i := range 4 {
		p := filepath.Join(h.root, "docs", fmt.Sprintf("f%d.txt", i))
		h.write(p, "x")
		h.heat(fmt.Sprintf("/docs/f%d.txt", i), "x")
	}
	if n := len(hot.watches); n != 6 {
		t.Fatalf("%d watches, want 6", n)
	}
	h.expect("/docs/page.txt", 200, "first version\n") // a seventh watch: start over
	if n := len(hot.watches); n != 0 {
		t.Errorf("%d watches after the bound was passed", n)
	}
	if hot.lookup("/docs/f0.txt", time.Now()) != nil {
		t.Error("a path stayed hot after its watches were removed")
	}
	h.heat("/docs/page.txt", "first version\n")
	if n := len(hot.watches); n != 3 {
		t.Errorf("%d watches after starting over, want 3", n)
	}
}

// scriptSite is a hotSite with cgi-bin/run.sh, run by runsExecutor.
func newScriptSite(t *testing.T) (*hotSite, string) {
	t.Helper()
	h := newHotSite(t, runsExecutor{})
	script := filepath.Join(h.root, "cgi-bin", "run.sh")
	if err := os.Mkdir(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	h.write(script, "#!/bin/sh\n")
	return h, script
}

// heatScript requests path until its resolution is hot.
func (h *hotSite) heatScript(path string) scriptTarget {
	h.t.Helper()
	for range 3 {
		h.expect(path, 200, "the script ran\n")
		if t, ok := h.s.hot.lookupScript(path, time.Now()); ok {
			return t
		}
	}
	h.t.Fatalf("%s is not hot after 3 requests", path)
	return scriptTarget{}
}

// TestHotScriptSeesEveryChange: a kept CGI resolution is dropped by any change on its way,
// and the next request resolves it again.
func TestHotScriptSeesEveryChange(t *testing.T) {
	t.Run("PATH_INFO kept with it", func(t *testing.T) {
		h, _ := newScriptSite(t)
		got := h.heatScript("/cgi-bin/run.sh/a/b")
		if got.scriptName != "/cgi-bin/run.sh" || got.pathInfo != "/a/b" {
			t.Errorf("kept %+v", got)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		h, script := newScriptSite(t)
		h.heatScript("/cgi-bin/run.sh")
		if err := os.Remove(script); err != nil {
			t.Fatal(err)
		}
		h.expect("/cgi-bin/run.sh", 404, "")
	})
	t.Run("replaced by a symlink out of the root", func(t *testing.T) {
		h, script := newScriptSite(t)
		h.heatScript("/cgi-bin/run.sh")
		outside := filepath.Join(t.TempDir(), "evil.sh")
		h.write(outside, "#!/bin/sh\n")
		tmp := script + ".new"
		if err := os.Symlink(outside, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, script); err != nil {
			t.Fatal(err)
		}
		h.expect("/cgi-bin/run.sh", 404, "")
	})
	t.Run("made a directory", func(t *testing.T) {
		h, script := newScriptSite(t)
		h.heatScript("/cgi-bin/run.sh/x")
		if err := os.Remove(script); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(script, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		h.write(filepath.Join(script, "x", "inner.sh"), "#!/bin/sh\n")
		h.expect("/cgi-bin/run.sh/x", 403, "") // now a directory: not a plain file
	})
	t.Run("mode changed", func(t *testing.T) {
		h, script := newScriptSite(t)
		h.heatScript("/cgi-bin/run.sh")
		if err := os.Chmod(script, 0o600); err != nil {
			t.Fatal(err)
		}
		h.s.hot.readPending()
		if _, ok := h.s.hot.lookupScript("/cgi-bin/run.sh", time.Now()); ok {
			t.Error("still kept after a chmod")
		}
	})
	t.Run("CGI directory renamed", func(t *testing.T) {
		h, script := newScriptSite(t)
		h.heatScript("/cgi-bin/run.sh")
		if err := os.Rename(filepath.Dir(script), filepath.Join(h.root, "old-bin")); err != nil {
			t.Fatal(err)
		}
		h.expect("/cgi-bin/run.sh", 404, "")
	})
	t.Run("trusted for a second", func(t *testing.T) {
		h, _ := newScriptSite(t)
		h.heatScript("/cgi-bin/run.sh")
		if _, ok := h.s.hot.lookupScript("/cgi-bin/run.sh", time.Now().Add(hotTrust)); ok {
			t.Error("still kept a second on")
		}
	})
}

// TestHotScriptNeverThroughSymlinks: a CGI directory reached through a symlink is resolved
// with a stat on every request.
func TestHotScriptNeverThroughSymlinks(t *testing.T) {
	h := newHotSite(t, runsExecutor{})
	real := filepath.Join(h.root, "scripts")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	h.write(filepath.Join(real, "run.sh"), "#!/bin/sh\n")
	if err := os.Symlink("scripts", filepath.Join(h.root, "cgi-bin")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		h.expect("/cgi-bin/run.sh", 200, "the script ran\n")
	}
	if _, ok := h.s.hot.lookupScript("/cgi-bin/run.sh", time.Now()); ok {
		t.Error("a path through a symlink was kept")
	}
}

// TestInotifyMadeWhenFirstNeeded: a server holds no inotify instance (128 per user, shared
// with the user's other programs) until a path can become hot, and gives it back on Close.
func TestInotifyMadeWhenFirstNeeded(t *testing.T) {
	h := newHotSite(t, nil)
	hot := h.s.hot.(*inotifyHotFiles)
	h.expect("/missing.txt", 404, "")
	h.s.hot.readPending()
	if fd := hot.fd.Load(); fd >= 0 {
		t.Fatalf("inotify instance %d before any file was served", fd)
	}
	h.heat("/docs/page.txt", "first version\n")
	fd := hot.fd.Load()
	if fd < 0 {
		t.Fatal("no inotify instance for a hot path")
	}
	if target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err != nil || target != "anon_inode:inotify" {
		t.Fatalf("descriptor %d is %q (%v), not an inotify instance", fd, target, err)
	}
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	// The number may have been reused since, but not for an inotify instance of this test.
	if target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && target == "anon_inode:inotify" {
		t.Errorf("descriptor %d is still the inotify instance after Close", fd)
	}
}

// TestHotPathConditionalRequests: a hot path answers conditional and Range requests from
// memory too, and they see a change as the next request does.
func TestHotPathConditionalRequests(t *testing.T) {
	h := newHotSite(t, nil)
	h.heat("/docs/page.txt", "first version\n")
	do := func(header, value string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/docs/page.txt", nil)
		req.Header.Set(header, value)
		rec := httptest.NewRecorder()
		h.s.ServeHTTP(rec, req)
		return rec
	}
	since := hotTime.Format(http.TimeFormat)
	if rec := do("If-Modified-Since", since); rec.Code != http.StatusNotModified {
		t.Errorf("If-Modified-Since: %d", rec.Code)
	}
	if rec := do("Range", "bytes=6-12"); rec.Code != http.StatusPartialContent || rec.Body.String() != "version" {
		t.Errorf("Range: %d %q", rec.Code, rec.Body)
	}
	later := hotTime.Add(time.Hour)
	if err := os.Chtimes(h.file, later, later); err != nil {
		t.Fatal(err)
	}
	if rec := do("If-Modified-Since", since); rec.Code != http.StatusOK || rec.Body.String() != "first version\n" {
		t.Errorf("If-Modified-Since after a touch: %d %q", rec.Code, rec.Body)
	}
}
