package executor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// funcExecutor is an Executor that runs a Go function: the worker's side of the channel
// tested without an interpreter.
type funcExecutor func(ctx context.Context, inv *Invocation) error

func (f funcExecutor) Run(ctx context.Context, inv *Invocation) error { return f(ctx, inv) }
func (funcExecutor) Name() string                                     { return "func" }

// newChannelTestExecutor is the server's side of the channel talking to serveChannel, the
// worker's, which runs scripts with run. A stopped run must end by its abort: a worker that
// has to be killed for it fails the test by its slowness.
func newChannelTestExecutor(t *testing.T, run funcExecutor) *workerExecutor {
	e := newWorkerExecutor(InProcessConfig{KillGrace: time.Minute},
		fakeWorkersOn(t, func(ch io.ReadWriter) { serveChannel(ch, run) }), hclog.NewNullLogger())
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestWorkerReaderIsNeverHeld attacks the worker's reader, which runs a request without a
// body itself: a run that does not end must not hold up the channel. Other requests are
// answered meanwhile, its abort reaches it, and output past the window flows.
func TestWorkerReaderIsNeverHeld(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 3*outputWindow)
	e := newChannelTestExecutor(t, func(ctx context.Context, inv *Invocation) error {
		switch inv.Path {
		case "/hang.go":
			<-ctx.Done()
			return ctx.Err()
		case "/big.go":
			_, err := inv.Stdout.Write(big)
			return err
		default:
			_, err := io.WriteString(inv.Stdout, "hello")
			return err
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hung := make(chan error, 1)
	start := time.Now()
	go func() { hung <- e.Run(ctx, &Invocation{Path: "/hang.go", Stdout: io.Discard}) }()
	time.Sleep(100 * time.Millisecond) // the hanging run has the reader by now

	var out bytes.Buffer
	if err := e.Run(context.Background(), &Invocation{Path: "/hello.go", Stdout: &out}); err != nil || out.String() != "hello" {
		t.Fatalf("a run beside a hanging one: %v, %q", err, out.String())
	}
	out.Reset()
	if err := e.Run(context.Background(), &Invocation{Path: "/big.go", Stdout: &out}); err != nil || out.Len() != len(big) {
		t.Fatalf("output of 3 windows: %v, %d bytes", err, out.Len())
	}
	if since := time.Since(start); since > time.Second {
		t.Errorf("two runs beside a hanging one took %v", since)
	}
	select {
	case err := <-hung:
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrWorkerDied) {
			t.Fatalf("the hanging run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hanging run's abort did not reach it")
	}
	if n := e.WorkerRestarts(); n != 0 {
		t.Errorf("restarts = %d, want 0", n)
	}
}

// TestWorkerBodyArrivesAfterStart: a run whose body is still coming starts before it ends and
// reads all of it.
func TestWorkerBodyArrivesAfterStart(t *testing.T) {
	e := newChannelTestExecutor(t, func(_ context.Context, inv *Invocation) error {
		_, _ = io.WriteString(inv.Stdout, "started:")
		_, err := io.Copy(inv.Stdout, inv.Stdin)
		return err
	})
	pr, pw := io.Pipe()
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- e.Run(context.Background(), &Invocation{Path: "/echo.go", Stdin: pr, Stdout: &out}) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasPrefix(out.String(), "started:") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_, _ = io.WriteString(pw, "body")
	_ = pw.Close()
	if err := <-done; err != nil || out.String() != "started:body" {
		t.Fatalf("Run: %v, %q", err, out.String())
	}
}
