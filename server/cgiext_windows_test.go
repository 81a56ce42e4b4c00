//go:build windows

package server

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// TestCGIExtShortNames: an 8.3 short name of a .cgi file is that file: it runs, and is never
// served. A file whose long name has another extension but whose short name ends in .CGI
// (tool.cgix, TOOL~1.CGI) is not a script: its real name decides, so it does not run.
func TestCGIExtShortNames(t *testing.T) {
	root := t.TempDir()
	writeSite(t, root, map[string]string{"app/longer-tool-name.cgi": "SECRET-SOURCE", "app/other.cgix": "NOT-A-SCRIPT"})
	long := short83(t, filepath.Join(root, "app", "longer-tool-name.cgi"))
	other := short83(t, filepath.Join(root, "app", "other.cgix"))
	if long == "longer-tool-name.cgi" || other == "other.cgix" {
		t.Skip("the file system makes no 8.3 names here")
	}
	exec := &envExecutor{}
	s := newExtServer(t, root, exec, nil)
	if code, body := serve(s, "GET", "/app/"+long); code != http.StatusOK || !strings.HasPrefix(body, "RAN SECRET-SOURCE\n") {
		t.Errorf("GET /app/%s: %d %q, want it run", long, code, body)
	}
	if code, body := serve(s, "GET", "/app/"+other); code == http.StatusOK && strings.HasPrefix(body, "RAN ") {
		t.Errorf("GET /app/%s (other.cgix) ran: %q", other, body)
	}
	if runs := exec.ran(); len(runs) != 1 {
		t.Errorf("ran %q, want the .cgi file once", runs)
	}
}

// short83 returns the 8.3 short name of path's last element.
func short83(t *testing.T, path string) string {
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
