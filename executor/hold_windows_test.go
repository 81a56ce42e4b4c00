//go:build windows

package executor

import (
	"os"
	"path/filepath"
	"testing"
)

// TestHoldScript: while a checked script is held it cannot be renamed away (so another file
// cannot take its name before CreateProcess), and a name that leads to another file than
// the one checked is refused.
func TestHoldScript(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "x.bat")
	other := filepath.Join(dir, "y.bat")
	for _, p := range []string{script, other} {
		if err := os.WriteFile(p, []byte("@echo off\r\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Opened as the server opens it: through os.Root, which lets others rename the file.
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = root.Close() }()
	checked, err := root.Open("x.bat")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = checked.Close() }()

	release, err := holdScript(&Invocation{Path: script, File: checked})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(script, filepath.Join(dir, "moved.bat")); err == nil {
		t.Error("the held script was renamed")
	}
	release()
	release() // twice is safe
	if err := os.Rename(script, filepath.Join(dir, "moved.bat")); err != nil {
		t.Fatalf("rename after release: %v", err)
	}
	if err := os.Rename(other, script); err != nil {
		t.Fatal(err)
	}
	if _, err := holdScript(&Invocation{Path: script, File: checked}); err == nil {
		t.Error("a name that now leads to another file was held")
	}
}
