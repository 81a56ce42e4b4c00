package executor

import (
	"bytes"
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
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// The script's stdio are bound through per-interpreter variables, so that nothing reaches
// the server's own stdio: a script that names os.Stdin, os.Stdout or os.Stderr gets real
// pipes (os.Stdout.Write and templates executed into os.Stdout reach the response); one that
// only prints (fmt.Print*, print, log) writes to the response directly. Its environment is
// a per-request map. Each interpreter runs the script's main in a loop on a goroutine of its
// own, one turn per request, until it is retired or the executor is closed.
type inProcessExecutor struct {
	cfg     InProcessConfig
	logger  hclog.Logger
	symbols interp.Exports // the filtered standard library, built once

	mu      sync.Mutex
	scripts map[string]*scriptPool
	closed  bool
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

// filteredSymbols is yaegi's standard library without what scripts must not reach. Only the
// packages that lose symbols are copied; the others are shared with yaegi's table, which
// Interpreter.Use only reads (it copies into each interpreter). Copying them all kept 400 KiB
// more live heap for the server's whole life, which every garbage collection marks.
func filteredSymbols(allowGoroutines bool) interp.Exports {
	out := make(interp.Exports, len(stdlib.Symbols))
	for key, syms := range stdlib.Symbols {
		pkg := path2pkg(key)
		if deniedPackages[pkg] {
			continue
		}
		denied := deniedSymbols[pkg]
		if !allowGoroutines {
			denied = append(denied[:len(denied):len(denied)], callbackSymbols[pkg]...)
		}
		if len(denied) == 0 {
			out[key] = syms
			continue
		}
		m := maps.Clone(syms)
		for _, s := range denied {
			delete(m, s)
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

// An interpreter runs serveLoop once, on a goroutine of its own, for its whole life: each
// request is one turn of the loop, handed over through runtimeName.Next. Calling main anew
// for each request would compile the call each time (yaegi's only cancellable entry,
// EvalWithContext, takes source), which was a fifth of a request's cost, and leave its
// nodes in the interpreter for good.
const (
	reservedPrefix = "cgihttpd"
	runtimeName    = "cgihttpdrt"
	runtimePath    = "cgihttpd/rt"
	serveFunc      = "cgihttpdServe"
	serveLoop      = "\nfunc " + serveFunc + "() {\n\tfor " + runtimeName + ".Next() {\n\t\t" + entryPoint + "()\n\t}\n}\n"
)

// preparedScript is a script's source ready to load into interpreters.
type preparedScript struct {
	src string
	// hasGlobals reports package-level variables: they would carry one request's state into
	// the next, so such a script gets a fresh interpreter for every request.
	hasGlobals bool
	// namesStdio reports that the script names os.Stdin, os.Stdout or os.Stderr, or reads
	// stdin through fmt.Scan*: it then gets real pipes. A script that only prints through
	// fmt.Print*, print and log writes straight to the response, with no pipe or goroutine.
	namesStdio bool
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
		case *ast.GenDecl:
			if d.Tok == token.VAR {
				prep.hasGlobals = true
			}
		}
	}
	if mainFunc == nil {
		return nil, fmt.Errorf("%w: no func main", ErrRejected)
	}
	var reserved *ast.Ident
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && reserved == nil && strings.HasPrefix(id.Name, reservedPrefix) {
			reserved = id
		}
		return reserved == nil
	})
	if reserved != nil {
		return nil, fmt.Errorf("%w: %s: names starting with %s are reserved", ErrRejected, fset.Position(reserved.Pos()), reservedPrefix)
	}
	mainFunc.Name.Name = entryPoint
	prep.namesStdio = namesStdio(f)
	f.Decls = append([]ast.Decl{&ast.GenDecl{Tok: token.IMPORT, Specs: []ast.Spec{&ast.ImportSpec{
		Name: ast.NewIdent(runtimeName), Path: &ast.BasicLit{Kind: token.STRING, Value: strconv.Quote(runtimePath)}}}}}, f.Decls...)
	var b strings.Builder
	if err := printer.Fprint(&b, fset, f); err != nil {
		return nil, fmt.Errorf("%w: print source: %w", ErrRejected, err)
	}
	b.WriteString(serveLoop)
	prep.src = b.String()
	return prep, nil
}

// namesStdio reports whether f can reach the process's standard streams other than through
// the print functions that the interpreter binds to the run: by naming os.Stdin, os.Stdout
// or os.Stderr, by fmt.Scan, Scanf or Scanln, or through os or fmt imported under another
// name (or dot-imported), which this check does not follow.
func namesStdio(f *ast.File) bool {
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if (p == "os" || p == "fmt") && imp.Name != nil && imp.Name.Name != p {
			return true
		}
	}
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok || found {
			return !found
		}
		if x, ok := sel.X.(*ast.Ident); ok {
			switch x.Name + "." + sel.Sel.Name {
			case "os.Stdin", "os.Stdout", "os.Stderr", "fmt.Scan", "fmt.Scanf", "fmt.Scanln":
				found = true
			}
		}
		return true
	})
	return found
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

// pool returns the pool for the current version of the script at path (opened as file, when
// the caller opened it), reading and checking its source when it is new or changed.
func (e *inProcessExecutor) pool(path string, file *os.File, info fs.FileInfo) (*scriptPool, error) {
	var err error
	if info == nil {
		if info, err = os.Stat(path); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
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
		if src, err = readScript(path, file); err != nil {
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
		if src, err = readScript(path, file); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
	}
	prep, err := prepareSource(path, src, e.cfg.AllowGoroutines)
	if err != nil {
		return nil, err
	}
	p = &scriptPool{size: info.Size(), modTime: info.ModTime(), script: prep,
		idle: make(chan *instance, e.cfg.MaxInterpreters), slots: make(chan struct{}, e.cfg.MaxInterpreters)}
	if info.ModTime().After(readStart.Add(-racyWindow)) {
		p.racySource.Store(&src)
	}
	e.mu.Lock()
	if old := e.scripts[path]; old != nil {
		old.retireIdle() // the old version's loops end in the background
	}
	e.scripts[path] = p
	e.mu.Unlock()
	e.logger.Debug("script loaded", "script", path, "size", info.Size())
	return p, nil
}

// readScript reads the script's source from file, the script the caller checked, when there
// is one: never by its name again.
func readScript(path string, file *os.File) ([]byte, error) {
	if file == nil {
		return os.ReadFile(path)
	}
	src, err := io.ReadAll(io.NewSectionReader(file, 0, math.MaxInt64))
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
	p, err := e.pool(inv.Path, inv.File, inv.Info)
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

// Close retires every idle interpreter and waits for their loops to end; interpreters
// still serving a request retire when it ends. Run fails after Close.
func (e *inProcessExecutor) Close() error {
	e.mu.Lock()
	e.closed = true
	var loops []chan struct{}
	for _, p := range e.scripts {
		loops = append(loops, p.retireIdle()...)
	}
	e.mu.Unlock()
	for _, done := range loops {
		<-done // an idle loop waits in next, which returns at once
	}
	return nil
}

// retireIdle marks p as replaced and retires its idle interpreters; e.mu is held. It returns
// their loops' done channels.
func (p *scriptPool) retireIdle() []chan struct{} {
	p.stale = true
	var loops []chan struct{}
	for {
		select {
		case inst := <-p.idle:
			inst.retire()
			<-p.slots
			loops = append(loops, inst.loopDone)
		default:
			return loops
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

	runErr := inst.run(runCtx)
	cancelled := runCtx.Err() != nil
	writeErr := streams.finish()
	if !cancelled {
		// The loop waits in next: nothing reads the slot until the next run. A stopped
		// script may still be unwinding on its goroutine; its instance is thrown away and
		// its writes fail on the closed streams.
		null := placeholderFile()
		slot.bindFiles(null, null, null)
	}

	var panicked interp.Panic
	switch {
	case writeErr != nil:
		return false, fmt.Errorf("run %s: write output: %w", inv.Path, writeErr)
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

// runStreams connects one run's standard streams to the request. finish is called once the
// script has returned (or been abandoned): it ends the streams, waits until nothing of the
// run writes to the request any more, and reports a failed write of the output.
type runStreams interface {
	finish() error
}

// pipedStreams give the script real pipes, copied to and from the request by goroutines.
type pipedStreams struct {
	p        *pipes
	inv      *Invocation
	done     <-chan struct{}
	writeErr func() error
}

func newPipedStreams(slot *runSlot, inv *Invocation, stop context.CancelCauseFunc) (*pipedStreams, error) {
	p, err := newPipes(inv)
	if err != nil {
		return nil, err
	}
	slot.bindFiles(p.childStdin, p.childStdout, p.childStderr)
	done, writeErr := p.copyStopping(inv, stop)
	return &pipedStreams{p: p, inv: inv, done: done, writeErr: writeErr}, nil
}

func (s *pipedStreams) finish() error {
	s.p.closeChildEnds()
	<-s.done
	s.p.finishStdin(s.inv, stdinGrace)
	s.p.closeAll()
	return s.writeErr()
}

// directStreams serve a script that never names os.Std* or reads stdin: what it prints goes
// to the request's writers on its own goroutine, and its stdin is empty (the server deals
// with an unread body).
type directStreams struct {
	out, errw *runWriter
}

func newDirectStreams(slot *runSlot, inv *Invocation, stop context.CancelCauseFunc) *directStreams {
	null := placeholderFile()
	slot.stdin, slot.stdout, slot.stderr = null, null, null
	d := &directStreams{
		out:  newRunWriter(inv.Stdout, func(err error) { stop(fmt.Errorf("write output: %w", err)) }),
		errw: newRunWriter(inv.Stderr, nil),
	}
	slot.in, slot.out, slot.errw = eofReader{}, d.out, d.errw
	return d
}

func (d *directStreams) finish() error {
	_ = d.errw.close()
	return d.out.close()
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// runWriter is one run's output written straight to the request's writer, on the script's
// goroutine. After close it refuses writes, so a script abandoned at its deadline cannot
// touch the response once Run has returned; close waits for a write in progress.
type runWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
	err    error
	onErr  func(error)
}

func newRunWriter(w io.Writer, onErr func(error)) *runWriter {
	if w == nil {
		w = io.Discard
	}
	return &runWriter{w: w, onErr: onErr}
}

func (r *runWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return 0, os.ErrClosed
	case r.err != nil:
		return 0, r.err
	}
	n, err := r.w.Write(p)
	if err != nil {
		r.err = err
		if r.onErr != nil {
			r.onErr(err)
		}
	}
	return n, err
}

// close refuses what comes after and reports a failed write.
func (r *runWriter) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return r.err
}

// logScriptPanic writes the panic to the script's stderr, as a crashing Go program would.
func (e *inProcessExecutor) logScriptPanic(inv *Invocation, p interp.Panic) {
	if inv.Stderr != nil {
		_, _ = io.WriteString(inv.Stderr, fmt.Sprintf("panic: %v\n", p.Value))
	}
	e.logger.Debug("script panicked", "script", inv.Path, "panic", fmt.Sprint(p.Value))
}
