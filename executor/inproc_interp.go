package executor

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
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

// instance is one interpreter with the script compiled into it, the script's main as a Go
// function, and the per-run slots its rebound symbols read.
type instance struct {
	interp *interp.Interpreter
	slot   *runSlot
	runs   int
	main   func() // the script's main: a call runs it on the caller's goroutine
	// stopScript makes yaegi stop whatever the interpreter runs, where it is: it cancels the
	// EvalWithContext that the instance's parked goroutine waits in (see park). The
	// instance cannot run again afterwards.
	stopScript context.CancelFunc
	// dead is closed when the instance is thrown away: the parked goroutine returns.
	dead     chan struct{}
	parked   chan struct{} // closed once the parked goroutine waits in park
	parkDone chan struct{} // closed when the parked goroutine has returned
	retired  sync.Once
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
// initialization run, the script's main does not; ctx bounds the loading), takes its main
// as a function, and parks a goroutine in it through which a run can be stopped.
func (e *inProcessExecutor) newInstance(ctx context.Context, path, src string) (*instance, error) {
	null := placeholderFile()
	slot := &runSlot{env: map[string]string{}, ctx: context.Background()}
	slot.bindFiles(null, null, null)
	slot.stderrLog = log.New(slotWriter{&slot.errw}, "", log.LstdFlags)
	inst := &instance{slot: slot, dead: make(chan struct{}), parked: make(chan struct{}), parkDone: make(chan struct{})}
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
	if err := i.Use(interp.Exports{runtimePath + "/rt": {"Park": reflect.ValueOf(inst.park)}}); err != nil {
		return nil, fmt.Errorf("bind the parking function: %w", err)
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
	mainValue, err := i.Eval(entryPoint)
	if err != nil {
		return nil, fmt.Errorf("load %s: find its main: %w", path, err)
	}
	main, ok := mainValue.Interface().(func())
	if !ok {
		return nil, fmt.Errorf("load %s: its main is a %s", path, mainValue.Type())
	}
	inst.main = main
	parkCtx, stopScript := context.WithCancel(context.Background())
	inst.stopScript = stopScript
	go func() {
		defer close(inst.parkDone)
		_, _ = i.EvalWithContext(parkCtx, parkFunc+"()")
		<-inst.dead
	}()
	select {
	case <-inst.parked:
	case <-ctx.Done():
		inst.retire()
		return nil, fmt.Errorf("load %s: %w", path, context.Cause(ctx))
	}
	return inst, nil
}

// park is the interpreted parkFunc's runtimeName.Park: the instance's goroutine waits in it,
// inside an EvalWithContext, until the instance is thrown away. yaegi can stop a running
// script only through the context of an EvalWithContext in progress, and the frames of a
// call of main take their stop signals from the interpreter's latest one: this one.
func (inst *instance) park() {
	close(inst.parked)
	<-inst.dead
}

// retire ends the instance's parked goroutine, stopping a script that still runs. It does
// not wait.
func (inst *instance) retire() {
	inst.retired.Do(func() {
		inst.stopScript()
		close(inst.dead)
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

// run runs the script's main once. When ctx ends first yaegi stops the script where it is,
// and the instance must be retired. With onCaller it runs on the caller's goroutine, and a
// script stuck in a Go call that ignores ctx holds it: in a worker, whose server kills it
// when a stopped run does not end within the kill grace. Otherwise (inside the server) it
// runs on a goroutine of its own, and run returns when ctx ends, stuck script or not.
func (inst *instance) run(ctx context.Context, onCaller bool) error {
	unstop := context.AfterFunc(ctx, inst.stopScript)
	defer unstop()
	if onCaller {
		return inst.call()
	}
	done := make(chan error, 1)
	go func() { done <- inst.call() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w (interpreter stopped)", context.Cause(ctx))
	}
}

// call calls the script's main; a panic that unwinds out of it comes back as an interp.Panic,
// as from yaegi's Eval. A stopped script returns from main as if it had ended.
func (inst *instance) call() (err error) {
	defer func() {
		if r := recover(); r != nil {
			var pc [64]uintptr
			n := runtime.Callers(1, pc[:])
			err = interp.Panic{Value: r, Callers: pc[:n], Stack: debug.Stack()}
		}
	}()
	inst.main()
	return nil
}
