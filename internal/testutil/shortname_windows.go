//go:build windows

package testutil

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"
)

// ShortName returns the 8.3 short name of path's last element.
func ShortName(t testing.TB, path string) string {
	t.Helper()
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n, err := windows.GetShortPathName(p, &buf[0], uint32(len(buf)))
	if err != nil {
		t.Fatalf("GetShortPathName %s: %v", path, err)
	}
	return filepath.Base(windows.UTF16ToString(buf[:n]))
}
