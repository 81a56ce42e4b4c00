package executor

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io"
	"io/fs"
	"log"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// InProcessConfig configures the in-process executor. The zero value means the defaults.
type InProcessConfig struct {
	// AllowGoroutines lets scripts use go statements and callback APIs such as time.AfterFunc.
	// A panic on such a goroutine cannot be recovered and ends the whole server.
	AllowGoroutines bool
	// MaxInterpreters bounds the interpreters per script, and so how many requests run it at
	// once (more wait for one to be free); 0 means 16.
	MaxInterpreters int
}

// inProcessExecutor runs Go source files ("package main" with "func main()") inside the
// server with the yaegi interpreter: no process is started. Each script has a pool of
// interpreters that have already compiled it; one interpreter serves one request at a time,
// and one that panicked or timed out is thrown away.
//
// The script's stdio are real pipes bound through per-interpreter variables, so that
// fmt.Print*, os.Stdout.Write and templates executed into os.Stdout all reach the response,
// and nothing reaches the server's own stdio. Its environment is a per-request map.
type inProcessExecutor struct {
	cfg     InProcessConfig
	logger  hclog.Logger
	symbols interp.Exports // the filtered standard library, built once

	mu      sync.Mutex
	scripts map[string]*scriptPool
}

var (
	_ Executor    = (*inProcessExecutor)(nil)
	_ Preflighter = (*inProcessExecutor)(nil)
)

// NewInProcess returns the in-process executor for .go scripts. It runs trusted code: scripts
// share the server's memory, user and file system access (see InProcessConfig).
func NewInProcess(cfg InProcessConfig, logger hclog.Logger) Executor {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if cfg.MaxInterpreters <= 0 {
		cfg.MaxInterpreters = 16
	}
	return &inProcessExecutor{
		cfg:     cfg,
		logger:  logger.Named("inproc"),
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

// deniedPackages cannot be imported by a script at all.
var deniedPackages = map[string]bool{
	"os/exec": true, "syscall": true, "unsafe": true, "os/signal": true, "runtime/debug": true,
	"runtime/pprof": true, "runtime/trace": true, "plugin": true, "net/http/pprof": true,
	"net/http/httptest": true, "log/syslog": true,
}

// deniedSymbols are removed from packages that are otherwise allowed: they start processes,
// reach the server's own file descriptors or working directory, or end the whole process.
var deniedSymbols = map[string][]string{
	"os":      {"StartProcess", "NewFile", "FindProcess", "Chdir"},
	"runtime": {"Goexit", "GOMAXPROCS", "LockOSThread", "UnlockOSThread", "SetFinalizer", "Breakpoint"},
	// A *log.Logger's Fatal calls the real os.Exit; the package-level functions are rebound.
	"log":  {"New", "Default", "Logger"},
	"flag": {"ExitOnError"},
}

// callbackSymbols run script code on a goroutine of their own, where a panic ends the server.
var callbackSymbols = map[string][]string{
	"time":     {"AfterFunc"},
	"context":  {"AfterFunc"},
	"net/http": {"ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS", "Server"},
}

// filteredSymbols copies yaegi's standard library without what scripts must not reach.
func filteredSymbols(allowGoroutines bool) interp.Exports {
	out := make(interp.Exports, len(stdlib.Symbols))
	for key, syms := range stdlib.Symbols {
		pkg := path2pkg(key)
		if deniedPackages[pkg] {
			continue
		}
		m := maps.Clone(syms)
		for _, s := range deniedSymbols[pkg] {
			delete(m, s)
		}
		if !allowGoroutines {
			for _, s := range callbackSymbols[pkg] {
				delete(m, s)
			}
		}
		out[key] = m
	}
	return out
}

// path2pkg turns yaegi's "net/http/http" key into the import path "net/http". The key "."
// (interface wrapper mappings) is not a package and stays ".".
func path2pkg(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}

// entryPoint is what a script's main is renamed to, so that loading the script into an
// interpreter does not run it and each request can call it.
const entryPoint = "cgihttpdScriptMain"

// preparedScript is a script's source ready to load into interpreters.
type preparedScript struct {
	src string
	// hasGlobals reports package-level variables: they would carry one request's state into
	// the next, so such a script gets a fresh interpreter for every request.
	hasGlobals bool
}

// prepareSource enforces the rules that the symbol filter cannot express, naming the rule a
// script broke (denied imports and symbols, go statements), and renames main to entryPoint.
func prepareSource(path string, src []byte, allowGoroutines bool) (*preparedScript, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("%w: does not parse: %w", ErrRejected, err)
	}
	if f.Name.Name != "main" {
		return nil, fmt.Errorf("%w: package %s, want package main", ErrRejected, f.Name.Name)
	}
	if err := checkRules(fset, f, allowGoroutines); err != nil {
		return nil, err
	}
	prep := &preparedScript{}
	var mainFunc *ast.FuncDecl
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && d.Name.Name == "main" {
				mainFunc = d
			}
			if d.Name.Name == entryPoint {
				return nil, fmt.Errorf("%w: the name %s is reserved", ErrRejected, entryPoint)
			}
		case *ast.GenDecl:
			if d.Tok == token.VAR {
				prep.hasGlobals = true
			}
		}
	}
	if mainFunc == nil {
		return nil, fmt.Errorf("%w: no func main", ErrRejected)
	}
	mainFunc.Name.Name = entryPoint
	var b strings.Builder
	if err := printer.Fprint(&b, fset, f); err != nil {
		return nil, fmt.Errorf("%w: print source: %w", ErrRejected, err)
	}
	prep.src = b.String()
	return prep, nil
}

// checkRules walks the syntax tree for what in-process scripts may not do.
func checkRules(fset *token.FileSet, f *ast.File, allowGoroutines bool) error {
	imports := make(map[string]string) // local name -> import path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if deniedPackages[p] {
			return fmt.Errorf("%w: %s: import %q is not allowed in in-process scripts", ErrRejected, fset.Position(imp.Pos()), p)
		}
		name := p[strings.LastIndexByte(p, '/')+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = p
	}
	var ruleErr error
	ast.Inspect(f, func(n ast.Node) bool {
		if ruleErr != nil {
			return false
		}
		switch n := n.(type) {
		case *ast.GoStmt:
			if !allowGoroutines {
				ruleErr = fmt.Errorf("%w: %s: go statements are not allowed in in-process scripts (a panic there would end the server; see --inproc-allow-goroutines)",
					ErrRejected, fset.Position(n.Pos()))
			}
		case *ast.SelectorExpr:
			x, ok := n.X.(*ast.Ident)
			if !ok {
				return true
			}
			pkg, ok := imports[x.Name]
			if !ok {
				return true
			}
			denied := deniedSymbols[pkg]
			if !allowGoroutines {
				denied = append(denied[:len(denied):len(denied)], callbackSymbols[pkg]...)
			}
			for _, s := range denied {
				if n.Sel.Name == s {
					ruleErr = fmt.Errorf("%w: %s: %s.%s is not allowed in in-process scripts", ErrRejected, fset.Position(n.Pos()), pkg, s)
				}
			}
		}
		return true
	})
	return ruleErr
}

// scriptPool holds the ready interpreters for one version of one script.
type scriptPool struct {
	size    int64
	modTime time.Time
	script  *preparedScript
	idle    chan *instance // ready interpreters
	slots   chan struct{}  // one token per interpreter that exists
}

// stdinGrace is how long the copy of a request body may go on after the script returned
// before a blocked read of it is abandoned (which ends the client's connection).
const stdinGrace = 500 * time.Millisecond

// exitCode is what the script's os.Exit panics with.
type exitCode int

// instance is one interpreter with the script compiled into it, and the per-run slots its
// rebound symbols read.
type instance struct {
	interp *interp.Interpreter
	slot   *runSlot
	runs   int
}

// maxRuns retires an interpreter after this many requests: each run compiles its call into
// the interpreter, which keeps a few KiB of it (file set, nodes) for good. Measured with
// bench/soak.sh: 10000 let a 60 s soak end at 212 MiB RSS, 1000 at 145 MiB.
const maxRuns = 1000

// runSlot is what the script's os.Stdin/Stdout/Stderr, environment and time.Sleep refer to
// during one run. Only the goroutine that runs the script reads it, and only between runs is
// it written.
type runSlot struct {
	stdin          *os.File
	stdout, stderr *os.File
	env            map[string]string
	ctx            context.Context
	stderrLog      *log.Logger
	exiting        bool // set by os.Exit: yaegi's report of the unwinding panic is not news
}

// slotWriter and slotReader let fmt.Print*, println and fmt.Scan*, bound once at compile time,
// reach the current run's pipes.
type slotWriter struct{ f **os.File }

func (w slotWriter) Write(p []byte) (int, error) { return (*w.f).Write(p) }

// exitQuietWriter is the interpreter's own stderr (yaegi's panic reports, log.Print): after
// os.Exit it drops what yaegi says about the panic that carries the exit.
type exitQuietWriter struct{ s *runSlot }

func (w exitQuietWriter) Write(p []byte) (int, error) {
	if w.s.exiting {
		return len(p), nil
	}
	return w.s.stderr.Write(p)
}

type slotReader struct{ f **os.File }

func (r slotReader) Read(p []byte) (int, error) { return (*r.f).Read(p) }

// placeholderFile is bound as os.Stdin/Stdout/Stderr between runs: yaegi needs a non-nil
// *os.File when the symbols are registered. It is opened once and never closed.
var placeholderFile = sync.OnceValue(func() *os.File {
	f, err := os.Open(os.DevNull)
	if err != nil {
		panic(fmt.Sprintf("open %s: %v", os.DevNull, err))
	}
	return f
})

// newInstance makes an interpreter and loads the script into it: declarations and package
// initialization run, the script's main does not. ctx bounds the loading.
func (e *inProcessExecutor) newInstance(ctx context.Context, path, src string) (*instance, error) {
	null := placeholderFile()
	slot := &runSlot{stdin: null, stdout: null, stderr: null, env: map[string]string{}, ctx: context.Background()}
	slot.stderrLog = log.New(slotWriter{&slot.stderr}, "", log.LstdFlags)
	i := interp.New(interp.Options{
		Stdin:  slotReader{&slot.stdin},
		Stdout: slotWriter{&slot.stdout},
		Stderr: exitQuietWriter{slot},
		Args:   []string{path},
	})
	if err := i.Use(e.symbols); err != nil {
		return nil, fmt.Errorf("load symbols: %w", err)
	}
	if err := i.Use(slot.overrides()); err != nil {
		return nil, fmt.Errorf("bind per-run symbols: %w", err)
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
	return &instance{interp: i, slot: slot}, nil
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

// pool returns the pool for the current version of the script at path, reading and checking
// its source when it is new or changed.
func (e *inProcessExecutor) pool(path string) (*scriptPool, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	e.mu.Lock()
	p := e.scripts[path]
	e.mu.Unlock()
	if p != nil && p.size == info.Size() && p.modTime.Equal(info.ModTime()) {
		return p, nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	prep, err := prepareSource(path, src, e.cfg.AllowGoroutines)
	if err != nil {
		return nil, err
	}
	p = &scriptPool{size: info.Size(), modTime: info.ModTime(), script: prep,
		idle: make(chan *instance, e.cfg.MaxInterpreters), slots: make(chan struct{}, e.cfg.MaxInterpreters)}
	e.mu.Lock()
	e.scripts[path] = p
	e.mu.Unlock()
	e.logger.Debug("script loaded", "script", path, "size", info.Size())
	return p, nil
}

// Run interprets the script at inv.Path. inv.Args are its os.Args after the path; inv.Dir is
// not applied, because the working directory belongs to the whole process.
func (e *inProcessExecutor) Run(ctx context.Context, inv *Invocation) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run %s: %w", inv.Path, context.Cause(ctx))
	}
	p, err := e.pool(inv.Path)
	if err != nil {
		return fmt.Errorf("run %s: %w", inv.Path, err)
	}
	inst, err := e.acquire(ctx, p, inv.Path)
	if err != nil {
		return fmt.Errorf("run %s: %w", inv.Path, err)
	}
	reusable, err := e.runInstance(ctx, inst, inv)
	inst.runs++
	if reusable && !p.script.hasGlobals && inst.runs < maxRuns {
		p.idle <- inst // never blocks: idle has room for every interpreter
	} else {
		<-p.slots
	}
	return err
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
func (e *inProcessExecutor) runInstance(ctx context.Context, inst *instance, inv *Invocation) (reusable bool, err error) {
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	p, err := newPipes(inv, placeholderFile())
	if err != nil {
		return true, fmt.Errorf("%w: %s: %w", ErrStart, inv.Path, err)
	}
	defer p.closeAll()
	slot := inst.slot
	slot.stdin, slot.stdout, slot.stderr = p.childStdin, p.childStdout, p.childStderr
	slot.ctx = runCtx
	slot.exiting = false
	clear(slot.env)
	for _, kv := range inv.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			slot.env[k] = v
		}
	}

	outputDone, writeErr := p.copyStopping(inv, stop)

	// EvalWithContext stops a runaway script at the deadline; ExecuteWithContext would too,
	// but in yaegi v0.16.1 it then races with its own goroutine on its results.
	_, runErr := inst.interp.EvalWithContext(runCtx, entryPoint+"()")
	cancelled := runCtx.Err() != nil

	// The script is done (or abandoned): end its output and input.
	p.closeChildEnds()
	null := placeholderFile()
	slot.stdin, slot.stdout, slot.stderr = null, null, null
	<-outputDone
	p.finishStdin(inv, stdinGrace)

	var panicked interp.Panic
	switch {
	case writeErr() != nil:
		return false, fmt.Errorf("run %s: write output: %w", inv.Path, writeErr())
	case cancelled && ctx.Err() != nil:
		return false, fmt.Errorf("run %s: %w", inv.Path, context.Cause(ctx))
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
