//go:build linux

package platform_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// flipperVar makes the test binary the attacker of TestConfinementUnderRace: it swaps each
// pair of names given in it ("a:b,c:d"), relative to its working directory, with
// renameat2(RENAME_EXCHANGE) until flipperFor has passed.
const flipperVar = "CGIHTTPD_TEST_FLIPPER"

const flipperFor = 4 * time.Second

func flipperMain(pairs string) int {
	var swaps [][2]string
	for _, p := range strings.Split(pairs, ",") {
		a, b, _ := strings.Cut(p, ":")
		swaps = append(swaps, [2]string{a, b})
	}
	n := 0
	for end := time.Now().Add(flipperFor); time.Now().Before(end); {
		for _, s := range swaps {
			if err := unix.Renameat2(unix.AT_FDCWD, s[0], unix.AT_FDCWD, s[1], unix.RENAME_EXCHANGE); err != nil {
				fmt.Fprintf(os.Stderr, "exchange %s %s: %v\n", s[0], s[1], err)
				return 1
			}
		}
		n++
	}
	fmt.Printf("%d rounds as uid %d\n", n, os.Getuid())
	return 0
}

// goScript is an in-process script that says says.
func goScript(says string) string {
	return "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\"Content-Type: text/plain\\n\\n" + says + "\\n\") }\n"
}

// TestConfinementUnderRace is the attack that the docroot's open-once design answers: a
// process running as nobody owns a directory inside the root and swaps entries between a
// file and a symlink to a root-only file, directory or an executable outside the root, as
// fast as it can, while requests for a static file (cached before the attack), a listing, a
// CGI script and an in-process Go script flow. No byte, name or run from outside may show, during the attack or after.
func TestConfinementUnderRace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the attacker runs as nobody, the server as root")
	}
	testutil.CheckLeaks(t)
	uid, gid := testutil.Nobody(t)
	base := testutil.WorldDir(t)
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	private := filepath.Join(outside, "private")
	write := func(path, body string, mode os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(private, "secret.txt"), "OUTSIDE-SECRET\n", 0o600)
	write(filepath.Join(private, "outside-entry-name"), "", 0o600)
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(outside, "evil.sh"), "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nOUTSIDE-RAN\\n'\n", 0o755)
	write(filepath.Join(outside, "evil.go"), goScript("OUTSIDE-RAN"), 0o644)
	write(filepath.Join(root, "upload", "a.txt"), "INSIDE-A\n", 0o644)
	write(filepath.Join(root, "upload", "d", "inside-entry"), "", 0o644)
	write(filepath.Join(root, "cgi-bin", "up", "x.sh"), "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nINSIDE-RAN\\n'\n", 0o755)
	write(filepath.Join(root, "cgi-bin", "up", "x.go"), goScript("INSIDE-GO"), 0o644)
	links := map[string]string{
		"upload/a.lnk":     filepath.Join(private, "secret.txt"), // absolute
		"upload/d.lnk":     "../../outside/private",              // relative
		"cgi-bin/up/x.lnk": filepath.Join(outside, "evil.sh"),
		"cgi-bin/up/g.lnk": filepath.Join(outside, "evil.go"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, rel := range []string{"upload", "upload/a.txt", "upload/a.lnk", "upload/d", "upload/d.lnk",
		"cgi-bin/up", "cgi-bin/up/x.sh", "cgi-bin/up/x.lnk", "cgi-bin/up/x.go", "cgi-bin/up/g.lnk"} {
		if err := os.Lchown(filepath.Join(root, rel), uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	// The static file is cached before the attack: a cache must not carry the swap.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(root, "upload", "a.txt"), old, old); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // past the cache's window for files changed just now

	native, err := executor.NewNative(executor.Config{KillGrace: 300 * time.Millisecond, OutputGrace: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CloseAtEnd(t, native)
	logs := &testutil.SyncBuffer{}
	inproc := executor.NewInProcess(executor.InProcessConfig{KillGrace: 300 * time.Millisecond}, nil)
	testutil.CloseAtEnd(t, inproc)
	srv, err := server.New(server.Config{Root: root, Executor: native, InProcess: inproc, Timeout: 20 * time.Second},
		hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info}))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer func() {
		ts.Close()
		_ = srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	}()
	type target struct {
		path, inside, outside string
	}
	targets := []target{
		{"/upload/a.txt", "INSIDE-A", "OUTSIDE-SECRET"},
		{"/upload/d/", "inside-entry", "outside-entry-name"},
		{"/cgi-bin/up/x.sh", "INSIDE-RAN", "OUTSIDE-RAN"},
		{"/cgi-bin/up/x.go", "INSIDE-GO", "OUTSIDE-RAN"}, // in-process, in the worker
	}
	get := func(client *http.Client, path string) (int, string) {
		resp, err := client.Get(ts.URL + path)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			return 0, ""
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for range 3 {
		for _, tg := range targets {
			if code, body := get(ts.Client(), tg.path); code != 200 || !strings.Contains(body, tg.inside) {
				t.Fatalf("before the attack: GET %s: %d %q", tg.path, code, body)
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), flipperFor+30*time.Second)
	defer cancel()
	flipper := exec.CommandContext(ctx, master) // a copy that nobody may run
	flipper.Dir = root
	flipper.Env = []string{flipperVar + "=upload/a.txt:upload/a.lnk,upload/d:upload/d.lnk,cgi-bin/up/x.sh:cgi-bin/up/x.lnk,cgi-bin/up/x.go:cgi-bin/up/g.lnk"}
	flipper.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	var flipOut strings.Builder
	flipper.Stdout, flipper.Stderr = &flipOut, &flipOut
	if err := flipper.Start(); err != nil {
		t.Fatal(err)
	}
	flipped := make(chan error, 1)
	go func() { flipped <- flipper.Wait() }()

	var mu sync.Mutex
	counts := map[string]map[string]int{}
	tally := func(tg target, code int, body string) {
		mu.Lock()
		defer mu.Unlock()
		if counts[tg.path] == nil {
			counts[tg.path] = map[string]int{}
		}
		switch {
		case strings.Contains(body, tg.outside):
			counts[tg.path]["outside"]++
			t.Errorf("GET %s: %d answered from outside the root:\n%s", tg.path, code, body)
		case code == 200 && strings.Contains(body, tg.inside):
			counts[tg.path]["inside"]++
		default:
			counts[tg.path][fmt.Sprint(code)]++
		}
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	for _, tg := range targets {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Transport: &http.Transport{}}
				defer client.CloseIdleConnections()
				for {
					select {
					case <-done:
						return
					default:
					}
					code, body := get(client, tg.path)
					if code == 0 {
						return
					}
					tally(tg, code, body)
				}
			}()
		}
	}
	err = <-flipped
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatalf("attacker: %v\n%s", err, flipOut.String())
	}
	t.Logf("attacker: %s", strings.TrimSpace(flipOut.String()))
	if !strings.Contains(flipOut.String(), fmt.Sprintf("as uid %d", uid)) {
		t.Errorf("the attacker did not run as nobody: %s", flipOut.String())
	}
	for _, tg := range targets {
		c := counts[tg.path]
		t.Logf("%s during the attack: %v", tg.path, c)
		// Both states were seen: the race was really run, not lost to timing.
		if c["inside"] == 0 || c["404"] == 0 {
			t.Errorf("%s: the attack did not alternate what the server saw: %v", tg.path, c)
		}
	}
	// After the attack, whichever way the names were left: still nothing from outside.
	for range 20 {
		for _, tg := range targets {
			code, body := get(ts.Client(), tg.path)
			if strings.Contains(body, tg.outside) {
				t.Errorf("after the attack: GET %s: %d answered from outside the root:\n%s", tg.path, code, body)
			}
		}
	}
	if strings.Contains(logs.String(), "OUTSIDE-RAN") {
		t.Error("the outside executable ran")
	}
}
