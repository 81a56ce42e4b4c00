package platform_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// TestClosedStdoutEndsResponse: a script that closes its stdout and keeps running has its
// whole response delivered at once, not at the deadline, and is stopped soon after.
func TestClosedStdoutEndsResponse(t *testing.T) {
	testutil.CheckLeaks(t)
	for _, f := range executorFactories() {
		if f.mode == "inproc" {
			continue // an in-process script has no stdout of its own to close
		}
		t.Run(f.name, func(t *testing.T) {
			if underWine {
				// Wine 8.0 gives a process started with CREATE_NO_WINDOW a console that holds
				// its own copy of the standard handles: closing stdout never reaches EOF.
				t.Skip("Wine keeps a closed stdout open for CREATE_NO_WINDOW processes")
			}
			env := startServer(t, f, func(c *server.Config) { c.Timeout = time.Minute })
			start := time.Now()
			resp, body := getPath(t, env, "/cgi-bin/closeout"+f.ext)
			took := time.Since(start)
			if resp.StatusCode != 200 || body != "hi" {
				t.Errorf("got %d %q, want 200 \"hi\"", resp.StatusCode, body)
			}
			if took > time.Second {
				t.Errorf("the response took %v: it waited for the script, not for its stdout", took)
			}
			pid, _ := strconv.Atoi(resp.Header.Get("X-Pid"))
			// The script keeps its slot until it is gone.
			if !waitFor(func() bool { return env.srv.Stats().ScriptsRunning == 0 }) {
				t.Errorf("the script's slot was not given back")
			}
			if pid == 0 || testutil.Alive(pid) {
				t.Errorf("script %d gave back its slot while still running", pid)
			}
			if pid == 0 || !testutil.WaitDead(pid) {
				t.Errorf("script %d still running after closing its stdout", pid)
			}
			t.Logf("response in %v", took)
		})
	}
}
