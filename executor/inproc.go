package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/traefik/yaegi/interp"
)

// InProcessConfig configures the in-process executor. The zero value means the defaults.
type InProcessConfig struct {
	// AllowGoroutines lets scripts use go statements and callback APIs such as time.AfterFunc.
	// A panic on such a goroutine cannot be recovered and ends the process that runs the
	// interpreter: the worker (which is then replaced), or the server (see Isolation).
	AllowGoroutines bool
	// MaxInterpreters bounds the interpreters per script, and so how many requests run it at
	// once (more wait for one to be free); 0 means 16.
	MaxInterpreters int

	// User, AllowRoot and KillGrace are as in Config: the worker runs as User when the
	// server runs as root, and a worker that has not ended a stopped run within KillGrace
	// is killed and replaced.
	User      string
	AllowRoot bool
	KillGrace time.Duration
	// MemoryBytes limits a worker's memory, all its scripts together, as Limits.MemoryBytes
	// limits a native script's: through its own cgroup, on Linux as root.
	MemoryBytes uint64
	// PIDs bounds a worker's processes and threads, all its scripts together, as Limits.PIDs
	// bounds a native run's: through its own cgroup, on Linux as root.
	PIDs uint64
	// WorkerPath is the worker's program (this very binary, re-run; see
	// RunWorkerIfRequested); "" means os.Executable. As root it must be executable by User.
	WorkerPath string
	// Isolation chooses where the interpreters run: "worker", a worker process; "server",
	// the server's own process, where a script has the server's privileges and memory and a
	// panic on a script's goroutine ends the server (refused when the server runs as root
	// without AllowRoot); "" the default: a worker when the server runs as root or
	// AllowGoroutines is set, else the server, as a worker's channel costs several times
	// the run of a small script. Platforms without workers (Windows, for now) always run
	// scripts in the server.
	Isolation string
}

// inProcessExecutor runs Go source files ("package main" with "func main()") inside the
// server with the yaegi interpreter: no process is started. Each script has a pool of
// interpreters that have already compiled it; one interpreter serves one request at a time,
// and one that panicked or timed out is thrown away.
//
// The script's stdio are bound through per-interpreter variables, so that nothing reaches
// the server's own stdio: a script that names os.Stdin, os.Stdout or os.Stderr gets real
// pipes (os.Stdout.Write and templates executed into os.Stdout reach the response); one that
// only prints (fmt.Print*, print, log) writes to the response directly. Its environment is
// a per-request map. A request calls the script's main, compiled once per interpreter.
type inProcessExecutor struct {
	cfg     InProcessConfig
	logger  hclog.Logger
	symbols interp.Exports // the filtered standard library, built once
	// onCaller runs scripts on Run's own goroutine, which a script stuck in a Go call holds
	// past the end of its context: only in a worker, which the server kills for it.
	onCaller bool

	mu      sync.Mutex
	scripts map[string]*scriptPool
	closed  bool
}

var (
	_ Executor    = (*inProcessExecutor)(nil)
	_ Preflighter = (*inProcessExecutor)(nil)
)

// NewInProcess returns the executor for .go scripts. Where cfg.Isolation puts them in a
// worker (always when the server runs as root), the interpreters run in a worker process
// that holds exactly a native script's privileges (cfg.User when the server runs as root)
// and nothing of the server's; a worker that cannot be started fails each run with
// ErrStart, and the reason is logged. Otherwise they run inside the server, sharing its
// memory, user and file system access.
func NewInProcess(cfg InProcessConfig, logger hclog.Logger) Executor {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	logger = logger.Named("inproc")
	if cfg.MaxInterpreters <= 0 {
		cfg.MaxInterpreters = 16
	}
	if cfg.User == "" {
		cfg.User = DefaultConfig().User
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = DefaultConfig().KillGrace
	}
	root := os.Geteuid() == 0
	switch cfg.Isolation {
	case "":
		cfg.Isolation = "server"
		if root || cfg.AllowGoroutines {
			cfg.Isolation = "worker"
		}
	case "server":
		if root && !cfg.AllowRoot {
			logger.Warn("in-process scripts run in a worker all the same: the server runs as root")
			cfg.Isolation = "worker"
		}
	case "worker":
	default:
		logger.Warn("unknown isolation for in-process scripts; they run in a worker", "isolation", cfg.Isolation)
		cfg.Isolation = "worker"
	}
	if cfg.Isolation == "server" {
		return newInProcessExecutor(cfg, logger)
	}
	launch, release, err := newWorkerLauncher(cfg, logger)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		logger.Debug("no interpreter workers on this platform: in-process scripts run inside the server")
		return newInProcessExecutor(cfg, logger)
	case err != nil:
		logger.Error("in-process scripts cannot run: no interpreter worker can be started", "error", err)
		launch = func() (*workerProc, error) { return nil, err }
	}
	e := newWorkerExecutor(cfg, launch, logger.Named("worker"))
	e.release = release
	return e
}

// newInProcessExecutor returns the executor that interprets scripts in this process: the
// server's, or a worker's.
func newInProcessExecutor(cfg InProcessConfig, logger hclog.Logger) *inProcessExecutor {
	return &inProcessExecutor{
		cfg:     cfg,
		logger:  logger,
		symbols: filteredSymbols(cfg.AllowGoroutines),
		scripts: make(map[string]*scriptPool),
	}
}

func (e *inProcessExecutor) Name() string { return "inproc" }

// CanRun accepts Go source files only.
func (e *inProcessExecutor) CanRun(path string, _ fs.FileInfo) error {
	if !IsGoScript(path) {
		return fmt.Errorf("%w: %s is not a .go file", ErrNotRunnable, path)
	}
	return nil
}

// IsGoScript reports whether path names a Go source file, which the in-process executor runs.
func IsGoScript(path string) bool { return strings.EqualFold(filepath.Ext(path), ".go") }

// pool returns the pool for the current version of inv's script, reading and checking its
// source when it is new or changed. The source is read from inv.File, the script the caller
// checked, when there is one; a worker, which gets only the name, opens it and makes sure it
// is the file that the server checked (inv.checked).
func (e *inProcessExecutor) pool(inv *Invocation) (*scriptPool, error) {
	path, f, info := inv.Path, inv.File, inv.Info
	if f == nil && inv.checked != "" {
		// The server checked the file that this version was read from (same file, size and
		// mtime, the test the cache makes anyway): no need to open it again.
		e.mu.Lock()
		p := e.scripts[path]
		e.mu.Unlock()
		if p != nil && p.identity == inv.checked && p.racySource.Load() == nil {
			return p, nil
		}
	}
	if f == nil {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
		defer func() { _ = f.Close() }()
		info = nil
	}
	var err error
	if info == nil {
		if info, err = f.Stat(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
	}
	identity := checkedIdentity(f, info)
	if inv.checked != "" && identity != inv.checked {
		return nil, fmt.Errorf("%w: %s is no longer the file that was checked", ErrStart, path)
	}
	e.mu.Lock()
	p, closed := e.scripts[path], e.closed
	e.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("%w: the in-process executor is closed", ErrStart)
	}
	var src []byte
	readStart := time.Now()
	if p != nil && p.size == info.Size() && p.modTime.Equal(info.ModTime()) {
		racy := p.racySource.Load()
		if racy == nil {
			return p, nil
		}
		if src, err = readScript(path, f); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
		if bytes.Equal(src, *racy) {
			if readStart.Sub(p.modTime) > racyWindow {
				p.racySource.Store(nil) // any later edit gets a later mtime
			}
			return p, nil
		}
	}
	if src == nil {
		if src, err = readScript(path, f); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
	}
	prep, err := prepareSource(path, src, e.cfg.AllowGoroutines)
	if err != nil {
		return nil, err
	}
	p = &scriptPool{identity: identity, size: info.Size(), modTime: info.ModTime(), script: prep,
		idle: make(chan *instance, e.cfg.MaxInterpreters), slots: make(chan struct{}, e.cfg.MaxInterpreters)}
	if info.ModTime().After(readStart.Add(-racyWindow)) {
		p.racySource.Store(&src)
	}
	e.mu.Lock()
	if old := e.scripts[path]; old != nil {
		old.retireIdle() // the old version's parked goroutines end in the background
	}
	e.scripts[path] = p
	e.mu.Unlock()
	e.logger.Debug("script loaded", "script", path, "size", info.Size())
	return p, nil
}

// checkedIdentity names a version of a script file across processes: the file (see
// fileIdentity), its size and its modification time; "" where there is no such name.
func checkedIdentity(f *os.File, info fs.FileInfo) string {
	id := fileIdentity(f, info)
	if id == "" || info == nil {
		return ""
	}
	return id + ":" + strconv.FormatInt(info.Size(), 10) + ":" + strconv.FormatInt(info.ModTime().UnixNano(), 10)
}

// readScript reads a script's whole source from f, opened at path.
func readScript(path string, f *os.File) ([]byte, error) {
	src, err := io.ReadAll(io.NewSectionReader(f, 0, math.MaxInt64))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return src, nil
}

// Run interprets the script at inv.Path. inv.Args are its os.Args after the path; inv.Dir is
// not applied, because the working directory belongs to the whole process.
func (e *inProcessExecutor) Run(ctx context.Context, inv *Invocation) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run %s: %w", inv.Path, context.Cause(ctx))
	}
	p, err := e.pool(inv)
	if err != nil {
		return fmt.Errorf("run %s: %w", inv.Path, err)
	}
	inst, err := e.acquire(ctx, p, inv.Path)
	if err != nil {
		return fmt.Errorf("run %s: %w", inv.Path, err)
	}
	reusable, err := e.runInstance(ctx, inst, inv, p.script.namesStdio)
	inst.runs++
	e.release(p, inst, reusable && !p.script.hasGlobals && inst.runs < maxRuns)
	return err
}

// release puts inst back in its pool, or retires it when it must not serve again or its
// pool or the executor is closing.
func (e *inProcessExecutor) release(p *scriptPool, inst *instance, reusable bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if reusable && !p.stale && !e.closed {
		p.idle <- inst // never blocks: idle has room for every interpreter
		return
	}
	inst.retire()
	<-p.slots
}

// Close retires every idle interpreter and waits for their parked goroutines to end;
// interpreters still serving a request retire when it ends. Run fails after Close.
func (e *inProcessExecutor) Close() error {
	e.mu.Lock()
	e.closed = true
	var parked []chan struct{}
	for _, p := range e.scripts {
		parked = append(parked, p.retireIdle()...)
	}
	e.mu.Unlock()
	for _, done := range parked {
		<-done // a parked goroutine returns once its instance is retired
	}
	return nil
}

// retireIdle marks p as replaced and retires its idle interpreters; e.mu is held. It returns
// their parked goroutines' done channels.
func (p *scriptPool) retireIdle() []chan struct{} {
	p.stale = true
	var parked []chan struct{}
	for {
		select {
		case inst := <-p.idle:
			inst.retire()
			<-p.slots
			parked = append(parked, inst.parkDone)
		default:
			return parked
		}
	}
}

// acquire returns a ready interpreter of p, making one while there are fewer than the limit,
// or else waiting for one to come back.
func (e *inProcessExecutor) acquire(ctx context.Context, p *scriptPool, path string) (*instance, error) {
	select {
	case inst := <-p.idle:
		return inst, nil
	default:
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	case p.slots <- struct{}{}:
		start := time.Now()
		inst, err := e.newInstance(ctx, path, p.script.src)
		if err != nil {
			<-p.slots
			return nil, err
		}
		e.logger.Debug("interpreter ready", "script", path, "ms", time.Since(start).Milliseconds())
		return inst, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// runInstance runs the compiled script once and reports whether the interpreter may serve
// another request.
func (e *inProcessExecutor) runInstance(ctx context.Context, inst *instance, inv *Invocation, namesStdio bool) (reusable bool, err error) {
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	slot := inst.slot
	var streams runStreams
	if namesStdio {
		streams, err = newPipedStreams(slot, inv, stop)
	} else {
		streams = newDirectStreams(slot, inv, stop)
	}
	if err != nil {
		return true, fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	slot.ctx = runCtx
	slot.exiting = false
	clear(slot.env)
	for _, kv := range inv.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			slot.env[k] = v
		}
	}

	runErr := inst.run(runCtx, e.onCaller)
	cancelled := runCtx.Err() != nil
	writeErr := streams.finish()
	if !cancelled {
		// Nothing reads the slot until the next run. A stopped script may still be
		// unwinding on its goroutine; its instance is thrown away and its writes fail on
		// the closed streams.
		null := placeholderFile()
		slot.bindFiles(null, null, null)
	}

	var panicked interp.Panic
	switch {
	case writeErr != nil:
		return false, fmt.Errorf("run %s: write output: %w", inv.Path, writeErr)
	case cancelled && ctx.Err() != nil:
		return false, fmt.Errorf("run %s: %w", inv.Path, context.Cause(ctx))
	case cancelled: // stopped by its streams: the interpreter cannot run again
		return false, fmt.Errorf("run %s: %w", inv.Path, context.Cause(runCtx))
	case runErr == nil:
		return true, nil
	case errors.As(runErr, &panicked):
		if code, ok := panicked.Value.(exitCode); ok {
			if code == 0 {
				return false, nil
			}
			return false, &ExitError{Code: int(code)}
		}
		e.logScriptPanic(inv, panicked)
		return false, &ExitError{Code: 2}
	default:
		return false, fmt.Errorf("run %s: %w", inv.Path, runErr)
	}
}

// logScriptPanic writes the panic to the script's stderr, as a crashing Go program would.
func (e *inProcessExecutor) logScriptPanic(inv *Invocation, p interp.Panic) {
	if inv.Stderr != nil {
		_, _ = io.WriteString(inv.Stderr, fmt.Sprintf("panic: %v\n", p.Value))
	}
	e.logger.Debug("script panicked", "script", inv.Path, "panic", fmt.Sprint(p.Value))
}
