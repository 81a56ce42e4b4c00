//go:build windows

package executor_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/windows"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// childMain is the test binary acting as a script.
func childMain(mode string) int {
	switch mode {
	case "echo":
		_, _ = io.Copy(os.Stdout, os.Stdin)
	case "exit3":
		fmt.Fprintln(os.Stderr, "failing on purpose")
		return 3
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
		wd, _ := os.Getwd()
		fmt.Println("CWD=" + wd)
	case "args":
		_ = json.NewEncoder(os.Stdout).Encode(os.Args[1:])
	case "sleep":
		time.Sleep(time.Minute)
	case "tree", "background":
		// A grandchild that sleeps holding our stdout; its pid on the first line. The tree
		// stays (tree) or the script exits at once (background).
		pid, err := startChild("sleep", os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(pid)
		if mode == "tree" {
			time.Sleep(time.Minute)
		}
	case "spawn":
		// Whether this script may start a process at all (a job's process limit).
		if _, err := startChild("sleep", nil); err != nil {
			fmt.Println("refused:", err)
			return 0
		}
		fmt.Println("spawned")
	case "alloc":
		b := make([]byte, 256<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		fmt.Println("allocated")
	case "burn":
		for start := time.Now(); time.Since(start) < time.Minute; {
		}
	case "flood":
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for {
			if _, err := os.Stdout.Write(chunk); err != nil {
				return 1
			}
		}
	case "server":
		return childServer()
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		return 2
	}
	return 0
}

// startChild starts the test binary in mode with stdout, and returns its pid.
func startChild(mode string, stdout io.Writer) (int, error) {
	c := exec.Command(os.Args[0])
	c.Env = []string{childModeVar + "=" + mode, "SystemRoot=" + os.Getenv("SystemRoot")}
	c.Stdout = stdout
	if err := c.Start(); err != nil {
		return 0, err
	}
	return c.Process.Pid, nil
}

// childServer is a stand-in for the server: it runs the "tree" script through the executor,
// prints "script PID" and the script's output (the grandchild's pid), and waits to be killed.
func childServer() int {
	e, err := executor.NewNative(executor.Config{}, hclog.NewNullLogger())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	self, _ := os.Executable()
	err = e.Run(context.Background(), &executor.Invocation{
		Path:    self,
		Env:     childEnv("tree"),
		Dir:     filepath.Dir(self),
		Stdout:  os.Stdout,
		Started: func(pid int) { fmt.Printf("script %d\n", pid) },
	})
	fmt.Fprintln(os.Stderr, "the script ended while the server lived:", err)
	return 1
}

// childEnv is the environment of a script in mode: the mode, and SystemRoot, without which
// Winsock and more cannot start.
func childEnv(mode string) []string {
	return []string{childModeVar + "=" + mode, "SystemRoot=" + os.Getenv("SystemRoot")}
}

func newExecutor(t *testing.T) executor.Executor {
	t.Helper()
	return newExecutorWith(t, executor.Config{})
}

// newExecutorWith is newExecutor with cfg, and the suite's short output grace by default.
func newExecutorWith(t *testing.T, cfg executor.Config) executor.Executor {
	t.Helper()
	if cfg.OutputGrace == 0 {
		cfg.OutputGrace = 300 * time.Millisecond
	}
	e, err := executor.NewNative(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func invocation(mode string, stdout, stderr io.Writer) *executor.Invocation {
	return &executor.Invocation{Path: child, Env: childEnv(mode), Dir: filepath.Dir(child), Stdout: stdout, Stderr: stderr}
}

// TestWindowsRunEnvironment: the script gets exactly the invocation's environment, one entry
// per name whatever its case (the last one given), and its own directory.
func TestWindowsRunEnvironment(t *testing.T) {
	testutil.CheckLeaks(t)
	t.Setenv("CGIHTTPD_SECRET_OF_THE_SERVER", "leaked")
	var out bytes.Buffer
	inv := invocation("env", &out, nil)
	inv.Env = append(inv.Env, "ONLY_THIS=1", "Case_Test=first", "CASE_TEST=second")
	if err := newExecutor(t).Run(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(out.String(), "\r\n", "\n")), "\n")
	var caseTest []string
	for _, l := range lines {
		if strings.HasPrefix(strings.ToUpper(l), "CASE_TEST=") {
			caseTest = append(caseTest, l)
		}
		if strings.HasPrefix(l, "CGIHTTPD_SECRET_OF_THE_SERVER") {
			t.Errorf("the server's environment leaked: %q", l)
		}
	}
	if !reflect.DeepEqual(caseTest, []string{"CASE_TEST=second"}) {
		t.Errorf("entries for CASE_TEST = %q, want the last one given, once", caseTest)
	}
	if !strings.Contains(out.String(), "ONLY_THIS=1\n") || !strings.Contains(out.String(), "CWD="+filepath.Dir(child)+"\n") {
		t.Errorf("environment or working directory wrong:\n%s", out.String())
	}
}

// readPid reads the first line of r as a pid and drains the rest.
func readPid(r io.Reader, pidc chan<- int) {
	br := bufio.NewReader(r)
	line, _ := br.ReadString('\n')
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	pidc <- pid
	_, _ = io.Copy(io.Discard, br)
}

// TestWindowsJobKillsTreeAtDeadline: at the deadline the script and the grandchild it started
// die together; os/exec alone would leave the grandchild running.
func TestWindowsJobKillsTreeAtDeadline(t *testing.T) {
	testutil.CheckLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	pidc := make(chan int, 1)
	go readPid(pr, pidc)
	var script int
	inv := invocation("tree", pw, nil)
	inv.Started = func(pid int) { script = pid }
	start := time.Now()
	err := newExecutor(t).Run(ctx, inv)
	_ = pw.Close()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Run returned %v after the deadline", d)
	}
	wantDead(t, "after the deadline", map[string]int{"script": script, "grandchild": <-pidc})
}

// wantDead fails t for each of procs (what: pid) still alive a few seconds on.
func wantDead(t *testing.T, after string, procs map[string]int) {
	t.Helper()
	for what, pid := range procs {
		if pid == 0 || !testutil.WaitDead(pid) {
			t.Errorf("%s %d still alive %s", what, pid, after)
		}
	}
}

// TestWindowsServerDeathKillsJobs: when the server process dies, however abruptly, its job
// handles close, and with them (KILL_ON_JOB_CLOSE) every script and what it started.
func TestWindowsServerDeathKillsJobs(t *testing.T) {
	testutil.CheckLeaks(t)
	srv := exec.Command(child)
	srv.Env = childEnv("server")
	var stderr bytes.Buffer
	srv.Stderr = &stderr
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	br := bufio.NewReader(stdout)
	var script, grandchild int
	for script == 0 || grandchild == 0 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("the server stand-in said %q, then %v; stderr: %s", line, err, stderr.String())
		}
		line = strings.TrimSpace(line)
		if p, ok := strings.CutPrefix(line, "script "); ok {
			script, _ = strconv.Atoi(p)
		} else {
			grandchild, _ = strconv.Atoi(line)
		}
	}
	if !testutil.Alive(script) || !testutil.Alive(grandchild) {
		t.Fatalf("script %d or grandchild %d not running before the server died", script, grandchild)
	}
	if err := srv.Process.Kill(); err != nil { // TerminateProcess: no cleanup of any kind
		t.Fatal(err)
	}
	_ = srv.Wait()
	wantDead(t, "after the server died", map[string]int{"script": script, "grandchild": grandchild})
}

// unstartable makes the scripts that TestRunStartErrors must not start, by name.
func unstartable(dir string, write func(name, body string) string) map[string]string {
	return map[string]string{
		"not a program":          write("garbage.exe", "MZ but not really\r\n"),
		"missing":                filepath.Join(dir, "missing.exe"),
		"no interpreter":         write("data.xyz", "plain data\r\n"),
		"#! interpreter missing": write("script.tool", "#!/usr/bin/env cgihttpd-no-such-interpreter\n"),
	}
}

// TestWindowsBatchFiles: a .bat or .cmd file runs through cmd.exe with its exit status, and
// never with arguments: cmd.exe would parse them again, whatever their quoting.
func TestWindowsBatchFiles(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := testutil.WorldDir(t)
	script := "@echo off\r\necho args=[%*]\r\nexit /b 3\r\n"
	for _, name := range []string{"x.bat", "Y.CMD", "with space & amp.bat"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			e, err := executor.NewNative(executor.Config{}, hclog.New(&hclog.LoggerOptions{Output: &logs}))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			inv := &executor.Invocation{Path: path, Args: []string{"&echo", "INJECTED"}, Dir: dir, Env: childEnv("none"), Stdout: &out}
			err = e.Run(context.Background(), inv)
			var ee *executor.ExitError
			if !errors.As(err, &ee) || ee.Code != 3 {
				t.Errorf("err = %v, want exit status 3", err)
			}
			if got := strings.TrimSpace(out.String()); !strings.HasSuffix(got, "args=[]") || strings.Contains(got, "\nINJECTED") {
				t.Errorf("output = %q, want the script run without arguments", got)
			}
			if !strings.Contains(logs.String(), "BatBadBut") {
				t.Errorf("dropping the arguments was not logged: %q", logs.String())
			}
		})
	}
	pct := filepath.Join(dir, "100%.bat")
	if err := os.WriteFile(pct, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(pct)
	if err := newExecutor(t).(executor.Preflighter).CanRun(pct, info); !errors.Is(err, executor.ErrNotRunnable) {
		t.Errorf("CanRun(%s) = %v, want ErrNotRunnable: cmd.exe expands %% even in quotes", pct, err)
	}
}

// TestWindowsSearchArgs runs the known attack strings through SearchArgs and the executor to
// the test binary, which reports the argv it got: each word arrives exactly as decoded, or
// the script runs without any.
func TestWindowsSearchArgs(t *testing.T) {
	testutil.CheckLeaks(t)
	tests := []struct {
		query string
		want  []string // what the script sees; nil: SearchArgs refuses
	}{
		{"&calc", []string{"&calc"}},
		{`"&calc`, []string{`"&calc`}},
		{`%22%26calc+%22+%5C%22+a%5C%5C%22+b%5C`, []string{`"&calc`, `"`, `\"`, `a\\"`, `b\`}},
		{"a%26calc", []string{"a&calc"}},
		{"with%20space+%09tab", nil},
		{"%ADd+allow_url_include%3d1", nil},
		{"-s", nil},
		// Valid UTF-8 passes SearchArgs; Windows then drops it all (best-fit mapping).
		{"%C2%ADd+allow_url_include%3d1", []string{}},
		{"caf%C3%A9", []string{}},
	}
	e := newExecutor(t)
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			args, err := executor.SearchArgs(tt.query)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("SearchArgs(%q) = %q, want it refused", tt.query, args)
				}
				return
			}
			if err != nil {
				t.Fatalf("SearchArgs(%q): %v", tt.query, err)
			}
			var out bytes.Buffer
			inv := invocation("args", &out, nil)
			inv.Args = args
			if err := e.Run(context.Background(), inv); err != nil {
				t.Fatal(err)
			}
			var got []string
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("%v: %q", err, out.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("script got argv %q, want %q", got, tt.want)
			}
		})
	}
}

// underWine reports whether this is Wine rather than Windows.
var underWine = windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil

// wineSkip skips t under Wine, which accepts job limits but does not enforce them (Wine 8.0:
// a job with a limit of one process still starts a second, one with a 64 MiB memory limit
// allocates 256 MiB, and one with a CPU time limit burns on until its deadline).
func wineSkip(t *testing.T, saw string) {
	t.Helper()
	if underWine {
		t.Skipf("Wine does not enforce job limits; saw %s (the limits are set: a real Windows must pass this)", saw)
	}
}

// TestWindowsJobLimits: the limits that Windows puts on a job as a whole.
func TestWindowsJobLimits(t *testing.T) {
	testutil.CheckLeaks(t)
	t.Run("processes", func(t *testing.T) {
		var out bytes.Buffer
		err := newExecutorWith(t, executor.Config{Limits: executor.Limits{Processes: 1}}).Run(context.Background(), invocation("spawn", &out, nil))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out.String(), "refused:") {
			wineSkip(t, fmt.Sprintf("%q", out.String()))
			t.Errorf("with a limit of one process the script said %q, want its child refused", out.String())
		}
	})
	t.Run("memory", func(t *testing.T) {
		var out, stderr bytes.Buffer
		err := newExecutorWith(t, executor.Config{Limits: executor.Limits{MemoryBytes: 64 << 20}}).Run(context.Background(), invocation("alloc", &out, &stderr))
		if err == nil || strings.Contains(out.String(), "allocated") {
			wineSkip(t, fmt.Sprintf("%q", out.String()))
			t.Errorf("256 MiB under a 64 MiB limit: err = %v, output %q", err, out.String())
		}
	})
	t.Run("cpu", func(t *testing.T) {
		wineSkip(t, "a 1 s CPU limit left the script burning for 45 s (measured once: not run here, it costs its whole deadline)")
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		start := time.Now()
		err := newExecutorWith(t, executor.Config{Limits: executor.Limits{CPUSeconds: 1}}).Run(ctx, invocation("burn", io.Discard, nil))
		var ee *executor.ExitError
		if !errors.As(err, &ee) {
			t.Errorf("err = %v after %v, want the script ended by its CPU limit", err, time.Since(start))
		}
	})
	for _, l := range []executor.Limits{{OpenFiles: 10}, {FileSize: 1 << 20}} {
		if _, err := executor.NewNative(executor.Config{Limits: l}, nil); err == nil {
			t.Errorf("limits %+v, which Windows cannot enforce, were accepted", l)
		}
	}
}

func TestWindowsNewNativeRefusesMappingWhatWindowsRuns(t *testing.T) {
	for _, ext := range []string{".bat", ".CMD", ".exe", ".com"} {
		if _, err := executor.NewNative(executor.Config{Interpreters: map[string]string{ext: "perl"}}, nil); err == nil {
			t.Errorf("an interpreter for %s was accepted", ext)
		}
	}
}
