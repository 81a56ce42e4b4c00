package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// WorkerCounter is implemented by executors that run scripts in worker processes, which
// they restart when one dies.
type WorkerCounter interface {
	// WorkerRestarts reports how many workers were started to replace one that died.
	WorkerRestarts() int64
}

// ErrWorkerDied reports a run whose interpreter worker died under it (a crash, an exit, out
// of memory, a kill, or a broken protocol); other runs are unaffected once it is replaced.
var ErrWorkerDied = errors.New("interpreter worker died")

// workerProc is a started worker process, as the platform starts it.
type workerProc struct {
	pid     int
	channel io.ReadWriteCloser // the server's end of the socket pair
	stderr  io.ReadCloser      // the worker's standard error
	kill    func()             // kills the worker and all it started; safe to call twice
	wait    func() string      // waits for the worker's end and describes it ("exit status 2")
}

// describeEnd says how a worker ended, from what waiting for it gave: "exit status 2".
func describeEnd(state *os.ProcessState, err error) string {
	if err != nil {
		return err.Error()
	}
	if err := exitError(state); err != nil {
		return err.Error()
	}
	return "exit status 0"
}

// workerExecutor runs in-process scripts in a long-lived worker process that holds only a
// script's privileges, and keeps one running: a worker that dies fails the runs it had, and
// the next run starts another (after a backoff that grows while workers die young).
type workerExecutor struct {
	cfg      InProcessConfig
	launch   func() (*workerProc, error)
	release  func() // what Close releases after the last worker, or nil
	logger   hclog.Logger
	restarts atomic.Int64
	conns    sync.WaitGroup // every conn's reaper

	mu        sync.Mutex
	conn      *workerConn   // nil until the first run, or after a death
	starting  chan struct{} // non-nil while a worker is being started
	started   int           // workers started
	lastStart time.Time
	backoff   time.Duration
	startErr  error // why the last start failed; nil after a success
	closed    bool
}

var (
	_ Executor      = (*workerExecutor)(nil)
	_ Preflighter   = (*workerExecutor)(nil)
	_ WorkerCounter = (*workerExecutor)(nil)
	_ io.Closer     = (*workerExecutor)(nil)
)

// Worker restarts wait minBackoff after a death, doubling for each worker that dies within
// youngDeath of its start, up to maxBackoff.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
	youngDeath = 10 * time.Second
)

func newWorkerExecutor(cfg InProcessConfig, launch func() (*workerProc, error), logger hclog.Logger) *workerExecutor {
	return &workerExecutor{cfg: cfg, launch: launch, logger: logger}
}

func (e *workerExecutor) Name() string { return "inproc" }

// CanRun accepts Go source files only.
func (e *workerExecutor) CanRun(path string, _ fs.FileInfo) error {
	if !IsGoScript(path) {
		return fmt.Errorf("%w: %s is not a .go file", ErrNotRunnable, path)
	}
	return nil
}

func (e *workerExecutor) WorkerRestarts() int64 { return e.restarts.Load() }

// Close kills the worker, whose runs fail, and waits until it is gone. Run fails after
// Close.
func (e *workerExecutor) Close() error {
	e.mu.Lock()
	e.closed = true
	c := e.conn
	e.mu.Unlock()
	if c != nil {
		c.fail(errors.New("the executor was closed"))
	}
	e.conns.Wait()
	if e.release != nil {
		e.release()
	}
	return nil
}

// get returns the running worker, starting one when there is none.
func (e *workerExecutor) get(ctx context.Context) (*workerConn, error) {
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, errors.New("the in-process executor is closed")
		}
		if c := e.conn; c != nil {
			e.mu.Unlock()
			return c, nil
		}
		if wait := e.starting; wait != nil {
			e.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		}
		delay := time.Until(e.lastStart.Add(e.backoff))
		if e.startErr != nil && delay > 0 {
			// Starting failed just now: fail at once rather than hold requests for it.
			err := e.startErr
			e.mu.Unlock()
			return nil, err
		}
		e.starting = make(chan struct{})
		e.mu.Unlock()
		c, err := e.start(ctx, delay)
		e.mu.Lock()
		close(e.starting)
		e.starting = nil
		if c != nil && e.closed {
			e.mu.Unlock()
			c.fail(errors.New("the executor was closed"))
			return nil, errors.New("the in-process executor is closed")
		}
		if c != nil {
			e.conn = c
		}
		e.mu.Unlock()
		return c, err
	}
}

// start starts a worker after delay.
func (e *workerExecutor) start(ctx context.Context, delay time.Duration) (*workerConn, error) {
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	e.mu.Lock()
	e.lastStart = time.Now()
	e.mu.Unlock()
	proc, err := e.launch()
	if err != nil {
		err = fmt.Errorf("start the interpreter worker: %w", err)
		e.mu.Lock()
		e.backoff = min(max(2*e.backoff, minBackoff), maxBackoff)
		e.startErr = err
		e.mu.Unlock()
		e.logger.Error("cannot start an interpreter worker", "error", err)
		return nil, err
	}
	e.mu.Lock()
	e.startErr = nil
	if e.started++; e.started > 1 {
		e.restarts.Add(1)
	}
	e.mu.Unlock()
	e.logger.Debug("interpreter worker started", "pid", proc.pid)
	c := newWorkerConn(proc, e.logger)
	e.conns.Add(1)
	go func() {
		defer e.conns.Done()
		c.serve()
		defer close(c.dead) // after e.conn is cleared: a run that sees it dead starts another
		e.mu.Lock()
		if e.conn == c {
			e.conn = nil
		}
		if time.Since(c.born) < youngDeath {
			e.backoff = min(max(2*e.backoff, minBackoff), maxBackoff)
		} else {
			e.backoff = minBackoff
		}
		closed := e.closed
		e.mu.Unlock()
		if !closed {
			e.logger.Warn("interpreter worker died; the next run starts another", "pid", proc.pid, "reason", c.deathErr)
		}
	}()
	return c, nil
}

// Run sends inv to the worker and copies the output that comes back to inv's writers, as a
// process executor copies a script's pipes. When ctx ends the worker is asked to stop the
// script; a worker that has not ended the run within KillGrace is killed.
func (e *workerExecutor) Run(ctx context.Context, inv *Invocation) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run %s: %w", inv.Path, context.Cause(ctx))
	}
	var c *workerConn
	var req *workerReq
	for try := 0; req == nil; try++ {
		var err error
		if c, err = e.get(ctx); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
		}
		// A worker that died just now fails the run only if its successor does too.
		if req, err = c.begin(inv); err != nil && (try > 0 || !errors.Is(err, ErrWorkerDied)) {
			return fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
		}
		if err != nil {
			<-c.dead
		}
	}
	defer c.end(req)
	if inv.Started != nil {
		inv.Started(c.proc.pid)
	}
	stdinDone := c.sendStdin(req, inv.Stdin)
	defer finishWorkerStdin(req, inv, stdinDone)
	return e.collect(ctx, c, req, inv)
}

// collect copies the run's output until its END_REQUEST, the worker's death, or the kill
// grace after an abort.
func (e *workerExecutor) collect(ctx context.Context, c *workerConn, req *workerReq, inv *Invocation) error {
	stdout, stderr := inv.Stdout, inv.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	var (
		stopErr    error // why the run was aborted: the context's end, or a failed write
		grace      <-chan time.Time
		done       = ctx.Done()
		consumed   int
		unacked    int
		chunks     []workerChunk
		endRequest *workerEvent
	)
	abort := func(err error) {
		stopErr = err
		done = nil
		_ = c.out.write(fcgiAbortRequest, req.id, nil)
		grace = time.After(e.cfg.KillGrace)
	}
	for {
		select {
		case <-req.notify:
			chunks, endRequest = req.take(chunks[:0])
			for _, ch := range chunks {
				data := ch.data
				switch {
				case stopErr != nil: // dropped, but still acknowledged below
				case ch.stderr:
					_, _ = stderr.Write(data)
				default:
					if _, err := stdout.Write(data); err != nil {
						abort(fmt.Errorf("write output: %w", err))
					}
				}
				consumed += len(data)
				unacked += len(data)
				chunkBuffers.Put(ch.buf)
			}
			req.consumed(consumed)
			consumed = 0
			if endRequest != nil {
				if stopErr != nil {
					return fmt.Errorf("run %s: %w", inv.Path, stopErr)
				}
				return endError(inv.Path, endRequest)
			}
			if unacked >= ackEvery {
				if err := c.out.write(fcgiWindow, req.id, be32(unacked)); err != nil {
					c.fail(fmt.Errorf("write to the channel: %w", err))
				}
				unacked = 0
			}
		case <-c.dead:
			if stopErr != nil {
				return fmt.Errorf("run %s: %w (and then: %w: %w)", inv.Path, stopErr, ErrWorkerDied, c.deathErr)
			}
			return fmt.Errorf("run %s: %w: %w", inv.Path, ErrWorkerDied, c.deathErr)
		case <-done:
			abort(context.Cause(ctx))
		case <-grace:
			c.fail(fmt.Errorf("a stopped script's interpreter was not given back within %s", e.cfg.KillGrace))
			<-c.dead
			return fmt.Errorf("run %s: %w", inv.Path, stopErr)
		}
	}
}

// endError is what Run returns for the worker's END_REQUEST.
func endError(path string, ev *workerEvent) error {
	switch ev.proto {
	case endComplete:
		if ev.status == 0 {
			return nil
		}
		return &ExitError{Code: int(ev.status)}
	case endRejected:
		return fmt.Errorf("%w: %s", ErrRejected, ev.msg)
	case endStartDenied:
		return fmt.Errorf("%w: %s: %w (%s)", ErrStart, path, fs.ErrPermission, ev.msg)
	case endStartFailed:
		return fmt.Errorf("%w: %s: %s", ErrStart, path, ev.msg)
	default:
		return fmt.Errorf("run %s: %s", path, ev.msg)
	}
}

// finishWorkerStdin stops the copy of the request body once the run has ended: it may go on
// for stdinGrace, then a blocked read is abandoned by closing inv.Stdin.
func finishWorkerStdin(req *workerReq, inv *Invocation, done <-chan struct{}) {
	close(req.finished)
	select {
	case <-done: // no body, or all of it sent: the usual case needs no timer
		return
	default:
	}
	t := time.NewTimer(stdinGrace)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	if c, ok := inv.Stdin.(io.Closer); ok {
		_ = c.Close()
	}
	<-done
}

func be32(n int) []byte { return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} }
