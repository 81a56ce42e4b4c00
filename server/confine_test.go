package server

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestConfined: the kernel's answer (openat2 on Linux) and the symlink walk agree on every
// kind of path, and both refuse every way out of the root.
func TestConfined(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("making symlinks needs a privilege on Windows")
	}
	outside := t.TempDir()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "dir", "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"rel-in":      "dir/file",
		"abs-in":      filepath.Join(root, "dir", "file"),
		"rel-out":     "../" + filepath.Base(outside) + "/secret",
		"abs-out":     filepath.Join(outside, "secret"),
		"dir-out":     outside,
		"dangling":    "nowhere",
		"dir/up-in":   "../dir/file",
		"dir/loop":    "loop",
		"dir-in-abs":  filepath.Join(root, "dir"),
		"dir/up-root": "..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(Config{Root: root, Executor: fakeExecutor{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	for path, want := range map[string]bool{
		"dir/file": true, "dir": true, "rel-in": true, "abs-in": true, "dir/up-in": true,
		"dir-in-abs/file": true, "dir/up-root/dir/file": true,
		"rel-out": false, "abs-out": false, "dir-out/secret": false, "dir-out": false,
		"dangling": false, "dir/loop": false, "missing": false, "dir/file/below": false,
	} {
		full := filepath.Join(root, filepath.FromSlash(path))
		if got := s.confined(full); got != want {
			t.Errorf("confined(%s) = %v, want %v", path, got, want)
		}
		if got := insideRoot(s.realRoot, full); got != want {
			t.Errorf("insideRoot(%s) = %v, want %v", path, got, want)
		}
	}
}
