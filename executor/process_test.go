//go:build unix || windows

package executor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// childModeVar makes the test binary act as a script (childMain, in each platform's test
// file); its value names what the script does.
const childModeVar = "EXECUTOR_TEST_CHILD"

// child is the test binary copied where an unprivileged user may run it.
var child string

func TestMain(m *testing.M) {
	executor.RunShimIfRequested()
	executor.RunWorkerIfRequested()
	if mode := os.Getenv(childModeVar); mode != "" {
		os.Exit(childMain(mode))
	}
	dir, err := testutil.MkdirWorld()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	child = filepath.Join(dir, "child")
	if runtime.GOOS == "windows" {
		child += ".exe" // CreateProcess runs nothing else directly
	}
	if err := testutil.CopySelf(child); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// The contract of Run that every process executor keeps, whatever the platform. Each
// platform's test file provides newExecutor, invocation, and the test binary as the script
// in the modes used here: echo, exit3 (says "failing on purpose" on stderr), sleep, flood,
// and background (leaves a child holding stdout, whose pid it prints, and exits).

func TestRunCopiesStdinToStdout(t *testing.T) {
	testutil.CheckLeaks(t)
	var out bytes.Buffer
	inv := invocation("echo", &out, nil)
	inv.Stdin = strings.NewReader("hello through a pipe")
	if err := newExecutor(t).Run(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello through a pipe" {
		t.Errorf("stdout = %q", out.String())
	}
}

func TestRunReportsExitStatusAndStderr(t *testing.T) {
	testutil.CheckLeaks(t)
	var stderr bytes.Buffer
	err := newExecutor(t).Run(context.Background(), invocation("exit3", io.Discard, &stderr))
	var ee *executor.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("err = %v, want exit status 3", err)
	}
	if !strings.Contains(stderr.String(), "failing on purpose") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestRunDoesNotWaitForBackgroundChildHoldingStdout(t *testing.T) {
	testutil.CheckLeaks(t)
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- newExecutor(t).Run(context.Background(), invocation("background", &out, nil)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still waits for the background child's stdout")
	}
	gc, _ := strconv.Atoi(strings.TrimSpace(out.String()))
	if gc == 0 || !testutil.WaitDead(gc) {
		t.Errorf("background child %d outlived its script", gc)
	}
}

func TestRunStopsScriptWhenOutputFails(t *testing.T) {
	testutil.CheckLeaks(t)
	err := newExecutor(t).Run(context.Background(), invocation("flood", failingWriter{}, nil))
	if err == nil || !strings.Contains(err.Error(), "client gone") {
		t.Fatalf("err = %v, want the write error", err)
	}
}

func TestRunAbandonsBlockedStdin(t *testing.T) {
	testutil.CheckLeaks(t)
	body := &blockingBody{closed: make(chan struct{})}
	inv := invocation("exit3", io.Discard, nil) // never reads stdin
	inv.Stdin = body
	err := newExecutor(t).Run(context.Background(), inv)
	var ee *executor.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-body.closed:
	default:
		t.Error("stdin was not closed to abandon the blocked read")
	}
}

func TestRunWithCanceledContextStartsNothing(t *testing.T) {
	testutil.CheckLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	started := false
	inv := invocation("sleep", io.Discard, nil)
	inv.Started = func(int) { started = true }
	if err := newExecutor(t).Run(ctx, inv); !errors.Is(err, context.Canceled) || started {
		t.Fatalf("err = %v, started = %v", err, started)
	}
}

// TestRunStartErrors: a script that cannot be started (see each platform's unstartable) is an
// error wrapping ErrStart.
func TestRunStartErrors(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := testutil.WorldDir(t)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, path := range unstartable(dir, write) {
		t.Run(name, func(t *testing.T) {
			err := newExecutor(t).Run(context.Background(), &executor.Invocation{Path: path, Dir: dir, Stdout: io.Discard})
			if !errors.Is(err, executor.ErrStart) {
				t.Fatalf("err = %v, want ErrStart", err)
			}
		})
	}
}
