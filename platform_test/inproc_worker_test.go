package platform_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// TestInProcessWorkerKilled: killing the worker mid-request fails that request with a 502;
// the next one, within a second, is answered by a new worker, and the restart is counted.
func TestInProcessWorkerKilled(t *testing.T) {
	testutil.CheckLeaks(t)
	// The slow script marks its start in a directory that the script user may write.
	marks := testutil.WorldDir(t)
	if err := os.Chmod(marks, 0o777); err != nil {
		t.Fatal(err)
	}
	started := filepath.Join(marks, "started")
	root := writeScripts(t, map[string]string{
		"ok.go": goHeader + "func main() { fmt.Print(\"Content-Type: text/plain\\n\\nok\") }\n",
		"slow.go": goHeader + "func main() {\n\tos.WriteFile(" + strconv.Quote(started) + ", nil, 0o644)\n" +
			"\ttime.Sleep(30 * time.Second)\n\tfmt.Print(\"Content-Type: text/plain\\n\\nslow\")\n}\n",
	})
	logs := &testutil.SyncBuffer{}
	e := executor.NewInProcess(executor.InProcessConfig{Isolation: "worker"},
		hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}))
	t.Cleanup(func() { _ = e.(io.Closer).Close() })
	base, _ := inprocServer(t, root, "auto", 60*time.Second, func(c *server.Config) { c.InProcess = e })
	if rep, body := fetch(t, http.DefaultClient, "GET", base+"/cgi-bin/ok.go", ""); rep.StatusCode != 200 {
		t.Fatalf("warm-up: status %d: %s", rep.StatusCode, body)
	}
	kids := testutil.ChildProcesses()
	if len(kids) != 1 {
		t.Fatalf("want one worker process, have %v", kids)
	}
	var wg sync.WaitGroup
	var slowStatus int
	wg.Add(1)
	go func() {
		defer wg.Done()
		rep, _ := fetch(t, http.DefaultClient, "GET", base+"/cgi-bin/slow.go", "")
		slowStatus = rep.StatusCode
	}()
	if !waitFor(func() bool { _, err := os.Stat(started); return err == nil }) {
		t.Fatal("the slow script did not start")
	}
	worker, err := os.FindProcess(kids[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if slowStatus != http.StatusBadGateway {
		t.Errorf("the request in flight when its worker died: status %d, want 502", slowStatus)
	}
	start := time.Now()
	rep, body := fetch(t, http.DefaultClient, "GET", base+"/cgi-bin/ok.go", "")
	if rep.StatusCode != 200 || time.Since(start) > time.Second {
		t.Errorf("the next request: status %d after %v: %s", rep.StatusCode, time.Since(start), body)
	}
	if !strings.Contains(logs.String(), "interpreter worker died") {
		t.Errorf("no log line says that the worker died:\n%s", logs)
	}
	if n := e.(executor.WorkerCounter).WorkerRestarts(); n != 1 {
		t.Errorf("worker restarts = %d, want 1", n)
	}
}

// TestInProcessGoroutinePanic: with goroutines allowed, a panic on a script's goroutine ends
// its worker, not the server: the request gets a 502, the reason is logged, and the server
// answers the next request.
func TestInProcessGoroutinePanic(t *testing.T) {
	testutil.CheckLeaks(t)
	root := writeScripts(t, map[string]string{
		"ok.go":    goHeader + "func main() { fmt.Print(\"Content-Type: text/plain\\n\\nok\") }\n",
		"panic.go": goHeader + "func main() {\n\tgo func() { panic(\"boom on a goroutine\") }()\n\ttime.Sleep(5 * time.Second)\n}\n",
	})
	workerLogs := &testutil.SyncBuffer{}
	base, _ := inprocServer(t, root, "auto", 30*time.Second, func(c *server.Config) {
		e := executor.NewInProcess(executor.InProcessConfig{AllowGoroutines: true},
			hclog.New(&hclog.LoggerOptions{Output: workerLogs, Level: hclog.Debug}))
		c.InProcess = e
		t.Cleanup(func() { _ = e.(io.Closer).Close() })
	})
	if rep, body := fetch(t, http.DefaultClient, "GET", base+"/cgi-bin/panic.go", ""); rep.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502: %s", rep.StatusCode, body)
	}
	if rep, body := fetch(t, http.DefaultClient, "GET", base+"/cgi-bin/ok.go", ""); rep.StatusCode != 200 {
		t.Errorf("after the panic: status %d: %s", rep.StatusCode, body)
	}
	if !strings.Contains(workerLogs.String(), "panic: boom on a goroutine") {
		t.Errorf("the worker's death is not logged with its reason:\n%s", workerLogs)
	}
}
