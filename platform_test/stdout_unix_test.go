//go:build unix

package platform_test

import (
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// TestClosedStdoutEndsShellResponse is TestClosedStdoutEndsResponse for a shell script,
// which leaves a sleep running in its group.
func TestClosedStdoutEndsShellResponse(t *testing.T) {
	testutil.CheckLeaks(t)
	env := startServer(t, nativeFactories()[0], func(c *server.Config) { c.Timeout = time.Minute })
	start := time.Now()
	resp, body := getPath(t, env, "/cgi-bin/closeout.sh")
	if took := time.Since(start); took > time.Second {
		t.Errorf("the response took %v: it waited for the script, not for its stdout", took)
	}
	if resp.StatusCode != 200 || body != "hi" {
		t.Errorf("got %d %q, want 200 \"hi\"", resp.StatusCode, body)
	}
}
