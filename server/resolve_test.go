package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// collapseTests holds CPython's test_url_collapse_path vectors (Lib/test/test_httpservers.py)
// and this server's own cases. Where Python answers "//" or "//a" we answer "/" and "/a":
// Python joins an empty head with "/" + tail and so doubles the slash, a quirk with no meaning.
// Python accepts relative paths; a URL path from net/http always starts with "/", so a relative
// one is malformed here.
var collapseTests = []struct {
	name string
	in   string
	want string
	err  error
}{
	// CPython's vectors (Python's answer in the comment where it differs).
	{"py root", "/", "/", nil},                // Python: "//"
	{"py double slash", "//", "/", nil},       // Python: "//"
	{"py backslash", "/\\", "/\\", nil},       // Python: "//\\"
	{"py dot double slash", "/.//", "/", nil}, // Python: "//"
	{"py script", "/cgi-bin/file1.py", "/cgi-bin/file1.py", nil},
	{"py one segment", "/a", "/a", nil},          // Python: "//a"
	{"py one segment doubled", "//a", "/a", nil}, // Python: "//a"
	{"py two segments", "/a/b", "/a/b", nil},
	{"py trailing slash", "/a/b/", "/a/b/", nil},
	{"py trailing dot", "/a/b/.", "/a/b/", nil},
	{"py trailing dotdot", "/a/b/c/..", "/a/b/", nil},
	{"py dotdot then segment", "/a/b/c/../d", "/a/b/d", nil},
	{"py two dotdots", "/a/b/c/../d/e/../f", "/a/b/d/f", nil},
	{"py double dotdot", "/a/b/c/../d/e/../../f", "/a/b/f", nil},
	{"py dots and slashes", "/a/b/c/../d/e/.././././..//f", "/a/b/f", nil},
	{"py triple dotdot", "/a/b/c/../d/e/../../../f", "/a/f", nil},
	{"py back to root", "/a/b/c/../d/e/../../../../f", "/f", nil}, // Python: "//f"
	{"py above root", "/a/b/c/../d/e/../../../../../f", "", errAboveRoot},
	{"py root after dotdot", "/a/b/c/../d/e/../../../../f/..", "/", nil}, // Python: "//"
	{"py root after dot", "/a/b/c/../d/e/../../../../f/../.", "/", nil},  // Python: "//"
	{"py dot then above root", "/.//..", "", errAboveRoot},
	{"py relative", "cgi-bin/file1.py", "", errBadPath}, // Python: "/cgi-bin/file1.py"
	{"py relative dot", "./a", "", errBadPath},          // Python: "//a"
	{"py relative dotdot", "..", "", errBadPath},        // Python: IndexError

	// Encoded slashes and dots arrive here decoded: /cgi-bin%2f..%2fsecret must leave cgi-bin.
	{"decoded %2f", "/cgi-bin/../secret", "/secret", nil},
	{"decoded %2e%2e", "/..", "", errAboveRoot},
	{"decoded %2e%2e under cgi-bin", "/cgi-bin/../../etc/passwd", "", errAboveRoot},
	{"dotdot inside cgi-bin", "/cgi-bin/sub/../x.sh", "/cgi-bin/x.sh", nil},
	// A backslash is an ordinary byte in a URL path: on Unix it stays inside one segment.
	{"backslash segment", "/cgi-bin\\..\\x", "/cgi-bin\\..\\x", nil},
	{"backslash after cgi-bin", "/cgi-bin/..\\x", "/cgi-bin/..\\x", nil},
	{"three dots", "/a/.../b", "/a/.../b", nil},
	{"dot-prefixed names", "/.a/..b/.", "/.a/..b/", nil},
	{"NUL", "/cgi-bin/x.sh\x00.txt", "", errBadPath},
	{"NUL alone", "/\x00", "", errBadPath},
	{"empty", "", "", errBadPath},
	{"asterisk", "*", "", errBadPath},
	{"relative", "relative", "", errBadPath},
}

func TestCollapsePath(t *testing.T) {
	for _, tc := range collapseTests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := collapsePath(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("collapsePath(%q) = %q, %v; want error %v", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("collapsePath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestCGIPrefix(t *testing.T) {
	dirs := []string{"/cgi-bin", "/htbin", "/a/cgi-bin", "/a"}
	tests := []struct {
		name  string
		clean string
		dirs  []string
		want  string
	}{
		{"script", "/cgi-bin/x", DefaultCGIDirs, "/cgi-bin"},
		{"directory alone", "/cgi-bin", DefaultCGIDirs, "/cgi-bin"},
		{"directory with slash", "/cgi-bin/", DefaultCGIDirs, "/cgi-bin"},
		{"second default", "/htbin/x.py/info", DefaultCGIDirs, "/htbin"},
		{"case-sensitive", "/CGI-BIN/x", DefaultCGIDirs, ""},
		{"longer segment", "/cgi-binx/y", DefaultCGIDirs, ""},
		{"longer segment alone", "/cgi-binx", DefaultCGIDirs, ""},
		{"not a prefix", "/x/cgi-bin/y", DefaultCGIDirs, ""},
		{"root", "/", DefaultCGIDirs, ""},
		{"static", "/index.html", DefaultCGIDirs, ""},
		{"multi-segment", "/a/cgi-bin/x", []string{"/a/cgi-bin"}, "/a/cgi-bin"},
		{"multi-segment parent only", "/a/x", []string{"/a/cgi-bin"}, ""},
		{"longest wins", "/a/cgi-bin/x", dirs, "/a/cgi-bin"},
		{"longest wins, listed first", "/a/cgi-bin/x", []string{"/a", "/a/cgi-bin"}, "/a/cgi-bin"},
		{"shorter when longer misses", "/a/cgi-binx", dirs, "/a"},
		{"no dirs", "/cgi-bin/x", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cgiPrefix(tc.clean, tc.dirs); got != tc.want {
				t.Errorf("cgiPrefix(%q, %q) = %q, want %q", tc.clean, tc.dirs, got, tc.want)
			}
		})
	}
}

// mkTree creates dirs and files (slash-separated, relative) under root.
func mkTree(t *testing.T, root string, dirs, files []string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(f)), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindScript(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, []string{"cgi-bin/sub", "a/cgi-bin"}, []string{"cgi-bin/x.sh", "cgi-bin/sub/y.sh", "a/cgi-bin/z.sh", "htbin"})
	empty := t.TempDir() // a root with no cgi-bin at all

	tests := []struct {
		name       string
		root       string
		clean      string
		cgiDir     string
		scriptName string
		pathInfo   string
		file       string // slash-separated, relative to root
		exists     bool
		isDir      bool
	}{
		{"script", root, "/cgi-bin/x.sh", "/cgi-bin", "/cgi-bin/x.sh", "", "cgi-bin/x.sh", true, false},
		{"path info", root, "/cgi-bin/x.sh/a/b/", "/cgi-bin", "/cgi-bin/x.sh", "/a/b/", "cgi-bin/x.sh", true, false},
		{"path info slash", root, "/cgi-bin/x.sh/", "/cgi-bin", "/cgi-bin/x.sh", "/", "cgi-bin/x.sh", true, false},
		{"nested", root, "/cgi-bin/sub/y.sh/z", "/cgi-bin", "/cgi-bin/sub/y.sh", "/z", "cgi-bin/sub/y.sh", true, false},
		{"multi-segment dir", root, "/a/cgi-bin/z.sh/q", "/a/cgi-bin", "/a/cgi-bin/z.sh", "/q", "a/cgi-bin/z.sh", true, false},
		{"dir with slash", root, "/cgi-bin/", "/cgi-bin", "/cgi-bin", "", "cgi-bin", true, true},
		{"dir alone", root, "/cgi-bin", "/cgi-bin", "/cgi-bin", "", "cgi-bin", true, true},
		{"subdir", root, "/cgi-bin/sub/", "/cgi-bin", "/cgi-bin/sub", "", "cgi-bin/sub", true, true},
		{"missing script", root, "/cgi-bin/nope.sh", "/cgi-bin", "/cgi-bin/nope.sh", "", "cgi-bin/nope.sh", false, false},
		{"missing dir", root, "/cgi-bin/missing/a", "/cgi-bin", "/cgi-bin/missing", "", "cgi-bin/missing", false, false},
		{"missing cgi dir", empty, "/cgi-bin/x.sh", "/cgi-bin", "/cgi-bin", "", "cgi-bin", false, false},
		// The CGI directory itself is never a script, even when a plain file has its name.
		{"cgi dir is a file", root, "/htbin/x", "/htbin", "/htbin", "", "htbin", false, false},
		{"cgi dir is a file alone", root, "/htbin", "/htbin", "/htbin", "", "htbin", false, false},
	}
	docs := map[string]*docRoot{}
	for _, r := range []string{root, empty} {
		d, err := openDocRoot(r, DefaultCGIDirs)
		if err != nil {
			t.Fatal(err)
		}
		defer d.close()
		docs[r] = d
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := docs[tc.root].findScript(tc.clean, tc.cgiDir)
			defer got.release() // the script it may have opened; an open file cannot be removed on Windows
			wantFile := filepath.Join(tc.root, filepath.FromSlash(tc.file))
			if got.scriptName != tc.scriptName || got.pathInfo != tc.pathInfo || got.file != wantFile {
				t.Errorf("findScript(%q) = {scriptName %q, pathInfo %q, file %q}; want {%q, %q, %q}",
					tc.clean, got.scriptName, got.pathInfo, got.file, tc.scriptName, tc.pathInfo, wantFile)
			}
			if (got.info != nil) != tc.exists {
				t.Fatalf("findScript(%q).info = %v, want exists=%v", tc.clean, got.info, tc.exists)
			}
			if got.info != nil && got.info.IsDir() != tc.isDir {
				t.Errorf("findScript(%q).info.IsDir() = %v, want %v", tc.clean, got.info.IsDir(), tc.isDir)
			}
		})
	}
}

// symlink makes a symlink or skips the test where the platform does not allow it.
func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	if _, err := os.Lstat(link); err != nil { // Wine 8.0 reports success and makes nothing
		t.Skipf("symlinks unavailable: created %s, but it is not there: %v", link, err)
	}
}

// TestDocRootOpen: what opens beneath the root, symlinks included, and where it really is.
func TestDocRootOpen(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	mkTree(t, base, []string{"root/sub", "outside", "rootother"},
		[]string{"root/file", "root/sub/f", "root/..foo", "outside/secret", "rootother/file"})
	symlink(t, filepath.Join(root, "file"), filepath.Join(root, "in-abs"))
	symlink(t, filepath.FromSlash("sub/f"), filepath.Join(root, "in-rel"))
	symlink(t, filepath.FromSlash("sub/../file"), filepath.Join(root, "in-dotdot"))
	symlink(t, filepath.Join(root, "sub"), filepath.Join(root, "in-abs-dir"))
	symlink(t, filepath.Join(base, "outside", "secret"), filepath.Join(root, "out-abs"))
	symlink(t, filepath.FromSlash("../outside/secret"), filepath.Join(root, "out-rel"))
	symlink(t, filepath.Join(base, "outside"), filepath.Join(root, "out-dir"))
	symlink(t, filepath.FromSlash("../rootother/file"), filepath.Join(root, "out-sibling"))
	symlink(t, filepath.Join(root, "nowhere"), filepath.Join(root, "dangling"))
	symlink(t, filepath.FromSlash("sub/loop"), filepath.Join(root, "sub", "loop"))
	symlink(t, root, filepath.Join(base, "root-link"))

	for i, dir := range []string{root, filepath.Join(base, "root-link"), root} {
		d, err := openDocRoot(dir, DefaultCGIDirs)
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 { // again, with os.Root alone, as where there is no openat2
			d.fast.close()
			d.fast = noBeneath
		}
		rootLoc, err := filepath.EvalSymlinks(root)
		if err != nil {
			t.Fatal(err)
		}
		for rel, want := range map[string]string{
			".": ".", "file": "file", "sub/f": "sub/f", "sub": "sub", "..foo": "..foo",
			"in-abs": "file", "in-rel": "sub/f", "in-dotdot": "file", "in-abs-dir/f": "sub/f",
			"out-abs": "", "out-rel": "", "out-dir/secret": "", "out-dir": "", "out-sibling": "",
			"../outside/secret": "", "../rootother/file": "", "..": "",
			"nope": "", "dangling": "", "sub/loop": "", "file/below": "",
		} {
			o, err := d.open(rel)
			if want == "" {
				if err == nil {
					t.Errorf("%s: open(%q) succeeded, want an error", dir, rel)
					o.close()
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: open(%q): %v", dir, rel, err)
				continue
			}
			loc, err := d.location(o)
			o.close()
			if wantLoc := filepath.Join(rootLoc, filepath.FromSlash(want)); err != nil || loc != wantLoc {
				t.Errorf("%s: location of %q = %q, %v; want %q", dir, rel, loc, err, wantLoc)
			}
		}
		d.close()
	}
}

// segments returns p's non-empty, non-"." segments.
func segments(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}

func FuzzResolve(f *testing.F) {
	for _, tc := range collapseTests {
		f.Add(tc.in)
	}
	f.Add("/cgi-bin/x.sh/a/b/")
	f.Add("/htbin/./../cgi-bin//x")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := collapsePath(in)
		if err != nil {
			if !errors.Is(err, errBadPath) && !errors.Is(err, errAboveRoot) {
				t.Fatalf("collapsePath(%q): unexpected error %v", in, err)
			}
			return
		}
		switch {
		case !strings.HasPrefix(got, "/"):
			t.Fatalf("collapsePath(%q) = %q: not absolute", in, got)
		case strings.Contains(got, "//"), strings.Contains(got, "/./"), strings.Contains(got, "/../"),
			strings.HasSuffix(got, "/."), strings.HasSuffix(got, "/.."), strings.IndexByte(got, 0) >= 0:
			t.Fatalf("collapsePath(%q) = %q: not collapsed", in, got)
		}
		again, err := collapsePath(got)
		if err != nil || again != got {
			t.Fatalf("collapsePath(%q) = %q, but collapsing that gives %q, %v", in, got, again, err)
		}
		if !strings.Contains("/"+in+"/", "/../") {
			if g, w := strings.Join(segments(got), "/"), strings.Join(segments(in), "/"); g != w {
				t.Fatalf("collapsePath(%q) = %q: segments %q, want %q", in, got, g, w)
			}
		}
		if dir := cgiPrefix(got, DefaultCGIDirs); dir != "" && got != dir && !strings.HasPrefix(got, dir+"/") {
			t.Fatalf("cgiPrefix(%q) = %q: not a segment prefix", got, dir)
		}
	})
}
