package executor

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/traefik/yaegi/interp"
)

// scriptPool holds the ready interpreters for one version of one script.
type scriptPool struct {
	identity string // checkedIdentity of the file read, "" where there is none
	size     int64
	modTime  time.Time
	// racySource is the file as read when its mtime was within racyWindow of the read:
	// timestamps are coarse, so a same-size edit within the same tick keeps size and mtime,
	// and only the content tells. nil once the version is old enough.
	racySource atomic.Pointer[[]byte]
	script     *preparedScript
	idle       chan *instance // ready interpreters
	slots      chan struct{}  // one token per interpreter that exists
	stale      bool           // replaced by a newer version, or the executor closed; under e.mu
}

// racyWindow is how close to a read an mtime must be for the content to be compared too.
const racyWindow = 2 * time.Second

// stdinGrace is how long the copy of a request body may go on after the script returned
// before a blocked read of it is abandoned (which ends the client's connection).
const stdinGrace = 500 * time.Millisecond

// exitCode is what the script's os.Exit panics with.
type exitCode int

// instance is one interpreter with the script compiled into it, its serve loop, and the
// per-run slots its rebound symbols read.
type instance struct {
	interp *interp.Interpreter
	slot   *runSlot
	runs   int
	// start hands the loop its next run; closing it ends the loop.
	start chan struct{}
	// done reports each run: nil when main returned, else how the loop ended (a panic, an
	// exit, a cancellation). When the loop ends it also sends once (nil when start closed).
	done chan error
	// stopLoop cancels the loop's EvalWithContext, which stops the script where it is.
	stopLoop context.CancelFunc
	// dead is closed when the instance is thrown away, so that a loop that outlives it never
	// blocks handing over.
	dead     chan struct{}
	loopDone chan struct{} // closed when the loop's goroutine has returned
	retired  sync.Once
	inRun    bool // the loop is in a run; only the loop's goroutine uses it
}

// maxRuns retires an interpreter after this many requests, so that whatever a script's
// runs leave behind in it (caches, interned strings) is bounded.
const maxRuns = 10000

// runSlot is what the script's os.Stdin/Stdout/Stderr, environment and time.Sleep refer to
// during one run. Only the goroutine that runs the script reads it, and only between runs is
// it written.
type runSlot struct {
	// stdin, stdout and stderr are what os.Stdin, os.Stdout and os.Stderr are: pipes, or the
	// null device for a script that does not name them.
	stdin          *os.File
	stdout, stderr *os.File
	// in, out and errw are where fmt.Print*, print, log and fmt.Scan* go: the pipes above, or
	// the request's own streams.
	in        io.Reader
	out, errw io.Writer
	env       map[string]string
	ctx       context.Context
	stderrLog *log.Logger
	exiting   bool // set by os.Exit: yaegi's report of the unwinding panic is not news
}

// slotWriter and slotReader let fmt.Print*, println and fmt.Scan*, bound once at compile time,
// reach the current run's streams.
type slotWriter struct{ w *io.Writer }

func (w slotWriter) Write(p []byte) (int, error) { return (*w.w).Write(p) }

// exitQuietWriter is the interpreter's own stderr (yaegi's panic reports, log.Print): after
// os.Exit it drops what yaegi says about the panic that carries the exit.
type exitQuietWriter struct{ s *runSlot }

func (w exitQuietWriter) Write(p []byte) (int, error) {
	if w.s.exiting {
		return len(p), nil
	}
	return w.s.errw.Write(p)
}

type slotReader struct{ r *io.Reader }

func (r slotReader) Read(p []byte) (int, error) { return (*r.r).Read(p) }

// placeholderFile is bound as os.Stdin/Stdout/Stderr between runs: yaegi needs a non-nil
// *os.File when the symbols are registered. It is the shared null device.
func placeholderFile() *os.File {
	f, err := devNull()
	if err != nil {
		panic(err.Error())
	}
	return f
}

// newInstance makes an interpreter, loads the script into it (declarations and package
// initialization run, the script's main does not; ctx bounds the loading) and starts its
// serve loop, which waits for the first run.
func (e *inProcessExecutor) newInstance(ctx context.Context, path, src string) (*instance, error) {
	null := placeholderFile()
	slot := &runSlot{env: map[string]string{}, ctx: context.Background()}
	slot.bindFiles(null, null, null)
	slot.stderrLog = log.New(slotWriter{&slot.errw}, "", log.LstdFlags)
	inst := &instance{slot: slot, start: make(chan struct{}), done: make(chan error, 1),
		dead: make(chan struct{}), loopDone: make(chan struct{})}
	i := interp.New(interp.Options{
		Stdin:  slotReader{&slot.in},
		Stdout: slotWriter{&slot.out},
		Stderr: exitQuietWriter{slot},
		Args:   []string{path},
	})
	if err := i.Use(e.symbols); err != nil {
		return nil, fmt.Errorf("load symbols: %w", err)
	}
	if err := i.Use(slot.overrides()); err != nil {
		return nil, fmt.Errorf("bind per-run symbols: %w", err)
	}
	if err := i.Use(interp.Exports{runtimePath + "/rt": {"Next": reflect.ValueOf(inst.next)}}); err != nil {
		return nil, fmt.Errorf("bind the serve loop: %w", err)
	}
	// EvalWithContext, unlike Compile, recovers yaegi's own panics on syntax it does not
	// support (range over an int, say), and stops endless package initialization.
	slot.ctx = ctx
	if _, err := i.EvalWithContext(ctx, src); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("load %s: %w", path, context.Cause(ctx))
		}
		return nil, fmt.Errorf("%w: does not compile: %w", ErrRejected, err)
	}
	inst.interp = i
	loopCtx, stopLoop := context.WithCancel(context.Background())
	inst.stopLoop = stopLoop
	go func() {
		defer close(inst.loopDone)
		_, err := i.EvalWithContext(loopCtx, serveFunc+"()")
		select {
		case inst.done <- err:
		case <-inst.dead:
		}
	}()
	return inst, nil
}

// next is the serve loop's runtimeName.Next, called on the loop's goroutine: it reports the
// run that just ended, then waits for the next one; false ends the loop.
func (inst *instance) next() bool {
	if inst.inRun {
		inst.inRun = false
		select {
		case inst.done <- nil:
		case <-inst.dead:
			return false
		}
	}
	select {
	case _, ok := <-inst.start:
		inst.inRun = ok
		return ok
	case <-inst.dead:
		return false
	}
}

// retire ends the instance's loop, stopping a script that still runs. It does not wait.
func (inst *instance) retire() {
	inst.retired.Do(func() {
		close(inst.dead)
		inst.stopLoop()
	})
}

// bindFiles points both the script's os.Std* and its print functions at these files.
func (s *runSlot) bindFiles(stdin, stdout, stderr *os.File) {
	s.stdin, s.stdout, s.stderr = stdin, stdout, stderr
	s.in, s.out, s.errw = stdin, stdout, stderr
}

// overrides rebinds the symbols that must see this run rather than the server: stdio,
// environment, exit, logging and sleeping.
func (s *runSlot) overrides() interp.Exports {
	getenv := func(k string) string { return s.env[k] }
	fatal := func(v string) {
		_ = s.stderrLog.Output(3, v)
		s.exiting = true
		panic(exitCode(1))
	}
	return interp.Exports{
		"os/os": {
			"Stdin":  reflect.ValueOf(&s.stdin).Elem(),
			"Stdout": reflect.ValueOf(&s.stdout).Elem(),
			"Stderr": reflect.ValueOf(&s.stderr).Elem(),
			"Exit": reflect.ValueOf(func(code int) {
				s.exiting = true
				panic(exitCode(code))
			}),
			"Getenv":    reflect.ValueOf(getenv),
			"LookupEnv": reflect.ValueOf(func(k string) (string, bool) { v, ok := s.env[k]; return v, ok }),
			"Setenv":    reflect.ValueOf(func(k, v string) error { s.env[k] = v; return nil }),
			"Unsetenv":  reflect.ValueOf(func(k string) error { delete(s.env, k); return nil }),
			"Clearenv":  reflect.ValueOf(func() { clear(s.env) }),
			"ExpandEnv": reflect.ValueOf(func(v string) string { return os.Expand(v, getenv) }),
			"Environ": reflect.ValueOf(func() []string {
				out := make([]string, 0, len(s.env))
				for k, v := range s.env {
					out = append(out, k+"="+v)
				}
				return out
			}),
		},
		"log/log": {
			"Fatal":   reflect.ValueOf(func(v ...any) { fatal(fmt.Sprint(v...)) }),
			"Fatalf":  reflect.ValueOf(func(f string, v ...any) { fatal(fmt.Sprintf(f, v...)) }),
			"Fatalln": reflect.ValueOf(func(v ...any) { fatal(fmt.Sprintln(v...)) }),
		},
		// A sleeping script must wake when its run is cancelled, or its goroutine outlives
		// the request.
		"time/time": {
			"Sleep": reflect.ValueOf(func(d time.Duration) {
				t := time.NewTimer(d)
				defer t.Stop()
				select {
				case <-t.C:
				case <-s.ctx.Done():
				}
			}),
		},
	}
}

// run hands the loop one run and waits for it. When ctx ends first the loop is stopped
// (yaegi stops the script where it is) and the instance must be retired.
func (inst *instance) run(ctx context.Context) error {
	select {
	case inst.start <- struct{}{}:
	case err := <-inst.done: // the loop ended while idle, which it should not
		return fmt.Errorf("interpreter loop ended: %w", err)
	}
	select {
	case err := <-inst.done:
		return err
	case <-ctx.Done():
		inst.stopLoop()
		loopErr := <-inst.done // EvalWithContext returns at once when stopped
		return fmt.Errorf("%w (interpreter stopped: %w)", context.Cause(ctx), loopErr)
	}
}
