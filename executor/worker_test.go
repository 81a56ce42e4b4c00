package executor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// fakeWorkers starts workers that are goroutines speaking the channel as behave says: the
// server's side is tested against workers that misbehave in ways a real one rarely does.
func fakeWorkers(t *testing.T, behave func(rr *recordReader, rw *recordWriter)) func() (*workerProc, error) {
	return fakeWorkersOn(t, func(ch io.ReadWriter) { behave(newRecordReader(ch), newRecordWriter(ch)) })
}

// fakeWorkersOn starts workers that are goroutines serving their end of the channel with
// serve.
func fakeWorkersOn(t *testing.T, serve func(ch io.ReadWriter)) func() (*workerProc, error) {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	return func() (*workerProc, error) {
		srv, wrk := net.Pipe()
		stderrR, stderrW := io.Pipe()
		done := make(chan struct{})
		var once sync.Once
		killed := false
		kill := func() {
			once.Do(func() {
				killed = true
				_ = wrk.Close()
			})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			serve(wrk)
			_ = wrk.Close()
			_ = stderrW.Close()
		}()
		return &workerProc{pid: 1, channel: srv, stderr: stderrR, kill: kill, wait: func() string {
			<-done
			if killed {
				return "killed by signal KILL"
			}
			return "exit status 0"
		}}, nil
	}
}

// untilParams reads records up to the end of a request's PARAMS and returns its id.
func untilParams(rr *recordReader) (uint16, bool) {
	for {
		rec, err := rr.next()
		if err != nil {
			return 0, false
		}
		if rec.typ == fcgiParams && len(rec.content) == 0 {
			return rec.id, true
		}
	}
}

// drain reads until the channel ends.
func drain(rr *recordReader) {
	for {
		if _, err := rr.next(); err != nil {
			return
		}
	}
}

func newTestWorkerExecutor(t *testing.T, behave func(rr *recordReader, rw *recordWriter)) *workerExecutor {
	e := newWorkerExecutor(InProcessConfig{KillGrace: 100 * time.Millisecond}, fakeWorkers(t, behave), hclog.NewNullLogger())
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestWorkerRunAnswers(t *testing.T) {
	e := newTestWorkerExecutor(t, func(rr *recordReader, rw *recordWriter) {
		for {
			id, ok := untilParams(rr)
			if !ok {
				return
			}
			_ = rw.write(fcgiStdout, id, []byte("hello"))
			_ = rw.write(fcgiStderr, id, []byte("warning"))
			_ = rw.write(fcgiEndRequest, id, endRequestBody(3, endComplete, ""))
		}
	})
	var out, errOut bytes.Buffer
	err := e.Run(context.Background(), &Invocation{Path: "/x.go", Env: []string{"A=b"}, Stdout: &out, Stderr: &errOut})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || out.String() != "hello" || errOut.String() != "warning" {
		t.Fatalf("Run: %v, stdout %q, stderr %q", err, out.String(), errOut.String())
	}
}

// TestWorkerStuckIsKilled: a worker that does not end a run within KillGrace of its abort is
// killed, and the next run starts another worker.
func TestWorkerStuckIsKilled(t *testing.T) {
	e := newTestWorkerExecutor(t, func(rr *recordReader, _ *recordWriter) { drain(rr) })
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		err := e.Run(ctx, &Invocation{Path: "/stuck.go", Stdout: io.Discard})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Fatalf("run %d: %v after %v", i, err, time.Since(start))
		}
	}
	if n := e.WorkerRestarts(); n != 1 {
		t.Errorf("restarts = %d, want 1", n)
	}
}

// TestWorkerHostileRecords: a record that breaks the protocol kills the worker and fails
// the run in flight, whatever else the worker sent.
func TestWorkerHostileRecords(t *testing.T) {
	cases := map[string]func(id uint16, rw *recordWriter){
		"unknown request": func(id uint16, rw *recordWriter) { _ = rw.write(fcgiStdout, id+1, []byte("x")) },
		"request 0":       func(id uint16, rw *recordWriter) { _ = rw.write(fcgiStdout, 0, []byte("x")) },
		"server's type":   func(id uint16, rw *recordWriter) { _ = rw.write(fcgiParams, id, []byte("x")) },
		"short end":       func(id uint16, rw *recordWriter) { _ = rw.write(fcgiEndRequest, id, []byte{0, 0}) },
		"output past its window": func(id uint16, rw *recordWriter) {
			_ = rw.write(fcgiStdout, id, make([]byte, outputWindow+1))
		},
		"output after the end": func(id uint16, rw *recordWriter) {
			_ = rw.write(fcgiStdout, id, []byte("Content-Type: text/plain\r\n\r\n"))
			_ = rw.writeRaw(appendRecords(appendRecords(nil, fcgiEndRequest, id, endRequestBody(0, endComplete, "")), fcgiStdout, id, []byte("late")))
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			e := newTestWorkerExecutor(t, func(rr *recordReader, rw *recordWriter) {
				if id, ok := untilParams(rr); ok {
					send(id, rw)
					_ = rw.write(fcgiEndRequest, id, endRequestBody(0, endComplete, ""))
				}
				drain(rr)
			})
			// A client that stalls at first, so that output piles up on the server's side.
			var first sync.Once
			out := writerFunc(func(p []byte) (int, error) {
				first.Do(func() { time.Sleep(300 * time.Millisecond) })
				return len(p), nil
			})
			err := e.Run(context.Background(), &Invocation{Path: "/hostile.go", Stdout: out})
			if name == "output after the end" && err == nil {
				return // the end can win the race with the late record: both are fine
			}
			if !errors.Is(err, ErrWorkerDied) || !strings.Contains(err.Error(), "protocol violation") {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestWorkerStartFails: a worker that cannot start fails the run with ErrStart, and the
// runs during the backoff that follows fail at once instead of waiting for it.
func TestWorkerStartFails(t *testing.T) {
	launches := 0
	e := newWorkerExecutor(InProcessConfig{KillGrace: time.Second}, func() (*workerProc, error) {
		launches++
		return nil, errors.New("no such binary")
	}, hclog.NewNullLogger())
	defer func() { _ = e.Close() }()
	start := time.Now()
	for range 3 {
		if err := e.Run(context.Background(), &Invocation{Path: "/x.go"}); !errors.Is(err, ErrStart) || !strings.Contains(err.Error(), "no such binary") {
			t.Fatalf("Run: %v", err)
		}
	}
	if launches != 1 || time.Since(start) > time.Second {
		t.Errorf("%d launches in %v, want 1 at once", launches, time.Since(start))
	}
}
