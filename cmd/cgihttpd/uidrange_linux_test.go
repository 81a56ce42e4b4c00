//go:build linux

package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// TestUIDRangeFlag: with --uid-range a script runs as an id of the range, with --user's group.
func TestUIDRangeFlag(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: scripts change user only then")
	}
	testutil.CheckLeaks(t)
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	first := 0
	for id := 62000; id < 65000 && first == 0; id += 10 {
		if !strings.Contains(string(passwd), ":"+strconv.Itoa(id)+":") {
			first = id
		}
	}
	if first == 0 {
		t.Skip("no free id for the range")
	}
	root := testutil.WorldDir(t)
	if err := os.Mkdir(filepath.Join(root, "cgi-bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho $(id -u) $(id -g)\n"
	if err := os.WriteFile(filepath.Join(root, "cgi-bin", "id.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	base, logs := startServer(t, []string{"-d", root, "--uid-range", strconv.Itoa(first) + "-" + strconv.Itoa(first)}, nil)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(base + "/cgi-bin/id.sh")
	if err != nil {
		t.Fatal(err)
	}
	r, body, err := testutil.ReadReply(resp)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, nogroup := testutil.Nobody(t)
	want := strconv.Itoa(first) + " " + strconv.Itoa(nogroup)
	if r.StatusCode != 200 || strings.TrimSpace(body) != want {
		t.Errorf("id.sh: %d %q, want %q; log:\n%s", r.StatusCode, body, want, logs.String())
	}
}
