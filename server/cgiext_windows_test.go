//go:build windows

package server

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// TestCGIExtShortNames: an 8.3 short name of a .cgi file is that file: it runs, and is never
// served. A file whose long name has another extension but whose short name ends in .CGI
// (tool.cgix, TOOL~1.CGI) is not a script: its real name decides, so it does not run.
func TestCGIExtShortNames(t *testing.T) {
	root := t.TempDir()
	writeSite(t, root, map[string]string{"app/longer-tool-name.cgi": "SECRET-SOURCE", "app/other.cgix": "NOT-A-SCRIPT"})
	long := testutil.ShortName(t, filepath.Join(root, "app", "longer-tool-name.cgi"))
	other := testutil.ShortName(t, filepath.Join(root, "app", "other.cgix"))
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
