//go:build unix

package executor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// ids is what the "ids" child reports about itself.
type ids struct {
	UID, GID, EUID, EGID int
	Groups               []int
}

// childMain is the test binary acting as the script.
func childMain(mode string) int {
	switch mode {
	case "echo":
		_, _ = io.Copy(os.Stdout, os.Stdin)
	case "exit3":
		fmt.Fprintln(os.Stderr, "failing on purpose")
		return 3
	case "ids":
		groups, _ := os.Getgroups()
		_ = json.NewEncoder(os.Stdout).Encode(ids{os.Getuid(), os.Getgid(), os.Geteuid(), os.Getegid(), groups})
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
		wd, _ := os.Getwd()
		fmt.Println("CWD=" + wd)
	case "sleep":
		time.Sleep(time.Minute)
	case "ignoreterm":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Minute)
	case "hog":
		// Touch 512 MiB, a page at a time, then report survival.
		var keep [][]byte
		for i := 0; i < 512; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("survived", len(keep))
	case "stubborn-sleep":
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Minute)
	case "grandchild", "background":
		// Start a grandchild that sleeps holding our stdout, report its pid, then either
		// wait (grandchild) or exit at once (background). The grandchild ignores SIGTERM:
		// only the group's SIGKILL after the grace ends it.
		gc := exec.Command(os.Args[0])
		gc.Env = []string{childModeVar + "=stubborn-sleep", "GORACE=atexit_sleep_ms=0"}
		gc.Stdout = os.Stdout
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(gc.Process.Pid)
		if mode == "grandchild" {
			time.Sleep(time.Minute)
		}
	case "setsid":
		// A grandchild that leaves the process group, as a daemonizing script would.
		gc := exec.Command(os.Args[0])
		gc.Env = []string{childModeVar + "=sleep", "GORACE=atexit_sleep_ms=0"}
		gc.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(gc.Process.Pid)
	case "cgroup":
		// Our cgroup v2 path, relative to the hierarchy's root.
		b, _ := os.ReadFile("/proc/self/cgroup")
		for _, line := range strings.Split(string(b), "\n") {
			if path, ok := strings.CutPrefix(line, "0::"); ok {
				fmt.Println(path)
			}
		}
	case "spin":
		// Burn CPU until the CPU-time limit stops us (SA5002 is the point here).
		for { //nolint:staticcheck
		}
	case "openfiles":
		opened := 0
		for i := 0; i < 64; i++ {
			f, err := os.Open(os.DevNull)
			if err != nil {
				break
			}
			defer func() { _ = f.Close() }()
			opened++
		}
		fmt.Println(opened)
	case "stderr-flood":
		// 4 MiB to stderr, far more than a pipe holds, then an answer.
		if _, err := os.Stderr.Write(bytes.Repeat([]byte("e"), 4<<20)); err != nil {
			return 1
		}
		fmt.Println("done")
	case "flood":
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for {
			if _, err := os.Stdout.Write(chunk); err != nil {
				return 1
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		return 2
	}
	return 0
}

func newExecutor(t *testing.T) executor.Executor {
	t.Helper()
	e, err := executor.NewNative(executor.Config{KillGrace: 200 * time.Millisecond, OutputGrace: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CloseAtEnd(t, e)
	return e
}

func invocation(mode string, stdout, stderr io.Writer) *executor.Invocation {
	return &executor.Invocation{
		Path: child,
		// A race-enabled child otherwise sleeps a second at exit (GORACE atexit_sleep_ms).
		Env:    []string{childModeVar + "=" + mode, "GORACE=atexit_sleep_ms=0"},
		Dir:    filepath.Dir(child),
		Stdout: stdout,
		Stderr: stderr,
	}
}

func TestRunEnvironmentIsExactlyInvocations(t *testing.T) {
	testutil.CheckLeaks(t)
	t.Setenv("CGIHTTPD_SECRET_OF_THE_SERVER", "leaked")
	var out bytes.Buffer
	inv := invocation("env", &out, nil)
	inv.Env = append(inv.Env, "ONLY_THIS=1")
	if err := newExecutor(t).Run(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Contains(got, "CGIHTTPD_SECRET_OF_THE_SERVER") || !strings.Contains(got, "ONLY_THIS=1\n") {
		t.Errorf("environment = %q", got)
	}
	if !strings.Contains(got, "CWD="+filepath.Dir(child)+"\n") {
		t.Errorf("working directory not the script's: %q", got)
	}
}

// unstartable makes the scripts that TestRunStartErrors must not start, by name.
func unstartable(dir string, write func(name, body string) string) map[string]string {
	return map[string]string{
		"exec format error": write("garbage", "\x00\x01\x02 not a program\n"),
		"bad interpreter":   write("badshebang", "#!/nonexistent/interpreter\n"),
		"missing":           filepath.Join(dir, "missing"),
	}
}

func TestRunTimeoutKillsWholeGroup(t *testing.T) {
	testutil.CheckLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	pidc := make(chan int, 1)
	go func() {
		line, _ := readLine(pr)
		pid, _ := strconv.Atoi(line)
		pidc <- pid
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := newExecutor(t).Run(ctx, invocation("grandchild", pw, nil))
	_ = pw.Close()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if gc := <-pidc; gc == 0 || !testutil.WaitDead(gc) {
		t.Errorf("grandchild %d still alive after its parent timed out", gc)
	}
}

func TestRunEscalatesToSIGKILL(t *testing.T) {
	testutil.CheckLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		_, _ = readLine(pr) // the child ignores SIGTERM from here on
		cancel()
		_, _ = io.Copy(io.Discard, pr)
	}()
	start := time.Now()
	err := newExecutor(t).Run(ctx, invocation("ignoreterm", pw, nil))
	_ = pw.Close()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("Run took %v: SIGKILL never came", time.Since(start))
	}
}

func TestRunAsNobodyWhenRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only root can switch scripts to nobody")
	}
	testutil.CheckLeaks(t)
	var out bytes.Buffer
	if err := newExecutor(t).Run(context.Background(), invocation("ids", &out, nil)); err != nil {
		t.Fatal(err)
	}
	var got ids
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	uid, gid := testutil.Nobody(t)
	if got.UID != uid || got.EUID != uid || got.GID != gid || got.EGID != gid {
		t.Errorf("ids = %+v, want nobody's uid %d and gid %d", got, uid, gid)
	}
	for _, g := range got.Groups {
		if g == 0 {
			t.Errorf("supplementary groups %v contain root's group", got.Groups)
		}
	}
	if len(got.Groups) > 1 || (len(got.Groups) == 1 && got.Groups[0] != got.GID) {
		t.Errorf("supplementary groups = %v, want none", got.Groups)
	}
}

func TestNewNativeRefusesBadUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the user is only looked up when the server can switch to it")
	}
	for _, name := range []string{"no-such-user-cgihttpd", "root"} {
		if _, err := executor.NewNative(executor.Config{User: name}, nil); !errors.Is(err, executor.ErrBadUser) {
			t.Errorf("user %q: err = %v, want ErrBadUser", name, err)
		}
	}
	if _, err := executor.NewNative(executor.Config{User: "root", AllowRoot: true}, nil); err != nil {
		t.Errorf("root with AllowRoot: %v", err)
	}
}

func readLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := r.Read(b); err != nil {
			return string(line), err
		}
		if b[0] == '\n' {
			return string(line), nil
		}
		line = append(line, b[0])
	}
}

func TestLimitsThroughShim(t *testing.T) {
	testutil.CheckLeaks(t)
	e, err := executor.NewNative(executor.Config{
		Limits:   executor.Limits{CPUSeconds: 1, OpenFiles: 16},
		ShimPath: child,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CloseAtEnd(t, e)
	t.Run("cpu", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := e.Run(ctx, invocation("spin", io.Discard, nil))
		var ee *executor.ExitError
		if !errors.As(err, &ee) || ee.Signal == "" {
			t.Fatalf("err = %v, want death by SIGXCPU or SIGKILL", err)
		}
		if ctx.Err() != nil {
			t.Fatal("the CPU limit never fired; the deadline did")
		}
	})
	t.Run("open files", func(t *testing.T) {
		var out bytes.Buffer
		if err := e.Run(context.Background(), invocation("openfiles", &out, nil)); err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(out.String()))
		if n == 0 || n >= 16 {
			t.Errorf("opened %d files under a limit of 16", n)
		}
	})
}

func TestSetsidEscapeeDiesWithCgroup(t *testing.T) {
	if !cgroupV2Writable() {
		t.Skip("needs root and a writable cgroup v2 hierarchy: without one, a child that calls setsid outlives its script (documented)")
	}
	testutil.CheckLeaks(t)
	var out bytes.Buffer
	if err := newExecutor(t).Run(context.Background(), invocation("setsid", &out, nil)); err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(out.String()))
	if pid == 0 || !testutil.WaitDead(pid) {
		t.Errorf("setsid grandchild %d outlived its script", pid)
	}
}

// TestDiscardedStderr: with no Stderr writer the script's stderr goes nowhere, and a script
// that writes much there still finishes.
func TestDiscardedStderr(t *testing.T) {
	testutil.CheckLeaks(t)
	var out bytes.Buffer
	if err := newExecutor(t).Run(context.Background(), invocation("stderr-flood", &out, nil)); err != nil {
		t.Fatal(err)
	}
	if out.String() != "done\n" {
		t.Errorf("stdout %q", out.String())
	}
}

// cgroupV2Writable reports whether this test can expect per-run cgroups.
func cgroupV2Writable() bool { return cgroupV2Root() != "" }

// cgroupV2Root is where the writable cgroup v2 hierarchy is mounted; "" when there is none.
func cgroupV2Root() string {
	if os.Geteuid() != 0 {
		return ""
	}
	for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
			dir, err := os.MkdirTemp(root, "cgihttpd-probe-")
			if err == nil {
				_ = os.Remove(dir)
				return root
			}
		}
	}
	return ""
}

// TestRunCgroupReuse: a run group its script left empty serves the next run; one that had
// to be killed is removed, not reused; Close removes the kept ones.
func TestRunCgroupReuse(t *testing.T) {
	root := cgroupV2Root()
	if root == "" {
		t.Skip("needs root and a writable cgroup v2 hierarchy")
	}
	testutil.CheckLeaks(t)
	e, err := executor.NewNative(executor.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	group := func() string {
		t.Helper()
		var out bytes.Buffer
		if err := e.Run(context.Background(), invocation("cgroup", &out, nil)); err != nil {
			t.Fatal(err)
		}
		path := strings.TrimSpace(out.String())
		if !strings.Contains(path, "/cgihttpd/run-") {
			t.Fatalf("script ran in cgroup %q, not a run group", path)
		}
		return filepath.Join(root, path)
	}
	first := group()
	if second := group(); second != first {
		t.Errorf("second run in %s, want the emptied %s again", second, first)
	}
	var out bytes.Buffer
	if err := e.Run(context.Background(), invocation("setsid", &out, nil)); err != nil {
		t.Fatal(err)
	}
	if pid, _ := strconv.Atoi(strings.TrimSpace(out.String())); pid == 0 || !testutil.WaitDead(pid) {
		t.Errorf("setsid grandchild %q outlived its script", out.String())
	}
	if _, err := os.Stat(first); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the group the escapee was killed in is still there (stat: %v)", err)
	}
	third := group()
	if third == first {
		t.Errorf("a killed group was reused: %s", third)
	}
	if err := e.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(third); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kept group %s still there after Close (stat: %v)", third, err)
	}
}

func TestMemoryLimit(t *testing.T) {
	testutil.CheckLeaks(t)
	e, err := executor.NewNative(executor.Config{Limits: executor.Limits{MemoryBytes: 64 << 20}, ShimPath: child}, nil)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CloseAtEnd(t, e)
	if !memoryCgroupUsable() {
		t.Skip("needs root and a cgroup memory controller (v2 delegated, or v1): without one, scripts run without a memory limit and the server warns")
	}
	var out bytes.Buffer
	err = e.Run(context.Background(), invocation("hog", &out, nil))
	var ee *executor.ExitError
	if !errors.As(err, &ee) || ee.Signal == "" || strings.Contains(out.String(), "survived") {
		t.Fatalf("err = %v, output %q: want the hog killed by the memory limit", err, out.String())
	}
}

// memoryCgroupUsable reports whether this machine lets the executor limit memory.
func memoryCgroupUsable() bool {
	if os.Geteuid() != 0 {
		return false
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		return true
	}
	b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	return err == nil && strings.Contains(" "+string(b)+" ", " memory ")
}
