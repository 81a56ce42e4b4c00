//go:build unix

package platform_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// TestInProcessWorkerIsUnprivileged: as root, an in-process script runs as the script user
// with no supplementary groups, cannot read a root-only file or write into a root-only
// directory, and holds no descriptor of the server's.
func TestInProcessWorkerIsUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the worker only changes user when the server runs as root")
	}
	testutil.CheckLeaks(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody here")
	}
	private := testutil.WorldDir(t)
	secret := filepath.Join(private, "secret")
	if err := os.WriteFile(secret, []byte("root only"), 0o600); err != nil {
		t.Fatal(err)
	}
	closed := filepath.Join(private, "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	script := `package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	fmt.Print("Content-Type: text/plain\n\n")
	groups, _ := os.Getgroups()
	fmt.Printf("uid=%d gid=%d groups=%v\n", os.Getuid(), os.Getgid(), groups)
	if _, err := os.ReadFile(` + strconv.Quote(secret) + `); err == nil {
		fmt.Println("read the secret")
	}
	if err := os.WriteFile(` + strconv.Quote(filepath.Join(closed, "x")) + `, []byte("x"), 0o644); err == nil {
		fmt.Println("wrote into the closed directory")
	}
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Printf("fd %s %s\n", e.Name(), target)
	}
}
`
	root := writeScripts(t, map[string]string{"who.go": script})
	base, _ := inprocServer(t, root, "auto", 10*time.Second)
	rep, body := fetch(t, http.DefaultClient, "GET", base+"/cgi-bin/who.go", "")
	if rep.StatusCode != 200 {
		t.Fatalf("status %d: %s", rep.StatusCode, body)
	}
	want := fmt.Sprintf("uid=%s gid=%s groups=[]", nobody.Uid, nobody.Gid)
	if !strings.Contains(body, want+"\n") {
		t.Errorf("want %q in:\n%s", want, body)
	}
	for _, bad := range []string{"read the secret", "wrote into the closed directory"} {
		if strings.Contains(body, bad) {
			t.Errorf("the script %s:\n%s", bad, body)
		}
	}
	if _, err := os.Stat(filepath.Join(closed, "x")); err == nil {
		t.Error("a file appeared in the closed directory")
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		return // no /proc: descriptors are not listed
	}
	fds := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "fd" {
			// Skip the directory being listed, and the worker runtime's own poller.
			if !strings.HasPrefix(f[2], "/proc/") && !strings.HasPrefix(f[2], "anon_inode:[event") {
				fds[f[1]] = f[2]
			}
		}
	}
	if len(fds) != 4 || fds["0"] != os.DevNull || fds["1"] != os.DevNull ||
		!strings.HasPrefix(fds["2"], "pipe:") || !strings.HasPrefix(fds["3"], "socket:") {
		t.Errorf("want only /dev/null on 0 and 1, a pipe on 2 and the channel on 3; the script sees %v", fds)
	}
}

// TestInProcessWorkerOutOfMemory: as root where cgroups can limit memory, a script that
// allocates without bound gets its worker killed, not the server: a 502, then a 200.
func TestInProcessWorkerOutOfMemory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only then does the worker get a cgroup")
	}
	testutil.CheckLeaks(t)
	root := writeScripts(t, map[string]string{
		"ok.go":  goHeader + "func main() { fmt.Print(\"Content-Type: text/plain\\n\\nok\") }\n",
		"hog.go": goHeader + "func main() {\n\tvar keep [][]byte\n\tfor i := 0; i < 4096; i++ {\n\t\tb := make([]byte, 1<<20)\n\t\tfor j := 0; j < len(b); j += 4096 {\n\t\t\tb[j] = 1\n\t\t}\n\t\tkeep = append(keep, b)\n\t}\n\tfmt.Print(\"Content-Type: text/plain\\n\\n\", len(keep))\n}\n",
	})
	logs := &testutil.SyncBuffer{}
	e := executor.NewInProcess(executor.InProcessConfig{Isolation: "worker", MemoryBytes: 128 << 20},
		hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}))
	t.Cleanup(func() { _ = e.(io.Closer).Close() })
	if strings.Contains(logs.String(), "cannot limit the interpreter worker's memory") {
		t.Skip("no memory cgroup here")
	}
	base, _ := inprocServer(t, root, "auto", 30*time.Second, func(c *server.Config) { c.InProcess = e })
	if rep, body := fetch(t, http.DefaultClient, "GET", base+"/cgi-bin/hog.go", ""); rep.StatusCode != http.StatusBadGateway {
		t.Errorf("the hog: status %d, want 502: %.200s", rep.StatusCode, body)
	}
	if rep, body := fetch(t, http.DefaultClient, "GET", base+"/cgi-bin/ok.go", ""); rep.StatusCode != 200 {
		t.Errorf("after the hog: status %d: %s", rep.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "interpreter worker died") {
		t.Errorf("no log line says that the worker died:\n%s", logs)
	}
}
