// Package executor runs one CGI script and knows nothing of HTTP: the server hands it a
// program, its arguments, environment, working directory and standard streams, and a context
// whose end means "stop it now, with everything it started".
//
// # Native executors
//
// NewNative returns the platform's process executor. On Unix it forks and execs the script in
// its own process group (and, on Linux as root, its own cgroup), as an unprivileged user when
// the server runs as root, and kills the whole group when the context ends or the script exits
// leaving children behind. On Windows it starts the script (through the interpreter that its
// extension or "#!" line calls for) suspended in a Job Object of its own, and terminates the
// job for the same reasons. Elsewhere it returns ErrNoNative.
//
// # In-process executor
//
// NewInProcess returns an executor for Go "scripts" (package main, func main) interpreted
// with yaegi: no process is spawned per request, so it works on every platform and is the
// fastest way to answer a request with a program. When the server runs as root on Unix (or
// scripts may start goroutines) the interpreters live in a long-lived worker process, this
// binary re-run (see RunWorkerIfRequested), that holds a native script's privileges and
// nothing of the server's, and talks FastCGI records over a socket pair; a worker that dies
// fails only its runs and is replaced. Otherwise they share the server's process and memory.
// Either way a filtered standard library, a static check and a deadline keep scripts from
// reaching the process's own stdio, environment or processes.
//
// # Extra powers
//
// Optional abilities are small interfaces found by type assertion, such as Preflighter,
// which reports whether a file can run at all before a request is committed to it.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Executor runs one script to completion.
type Executor interface {
	// Run starts inv, copies its standard streams, and returns when it and everything it
	// started are gone. It returns nil for a zero exit status, an *ExitError for any other
	// ending of a started script, and an error wrapping ErrStart when the script never ran.
	// When ctx ends first the script's tree is terminated and the error wraps context.Cause.
	// A script that closes its stdout and keeps running may make Run return early with an
	// error wrapping ErrOutputClosed; it is stopped after OutputGrace.
	Run(ctx context.Context, inv *Invocation) error
	// Name identifies the executor in logs and tests ("unix", "windows", "inproc").
	Name() string
}

// Preflighter is implemented by executors that can tell, before starting anything, whether
// they are able to run a file (execute permission, a known interpreter, a Go source file).
// The server answers 403 when CanRun fails, instead of trying and failing with a 502.
type Preflighter interface {
	CanRun(path string, info fs.FileInfo) error
}

// Invocation is one run of one script.
type Invocation struct {
	Path string   // absolute path of the program
	Args []string // arguments after argv[0] (argv[0] is Path)
	Env  []string // the complete environment, "NAME=value"; nothing else is inherited
	Dir  string   // working directory
	// File, if set, is the script as the caller opened and checked it. Executors run this
	// very file — by descriptor on Linux, held open against renames on Windows — so that a
	// rename or symlink swap after the check cannot change what runs; Path is then its name
	// for argv[0] and logs. It stays the caller's to close.
	File *os.File
	// Info is the script's stat as the caller knows it (File's, when set); nil means that an
	// executor which needs one makes it.
	Info fs.FileInfo

	// Stdin is the script's standard input; nil means empty. If it is an io.Closer it is
	// closed once the script has exited, to abandon a read that is still blocked on it.
	Stdin io.Reader
	// Stdout receives the script's standard output. A Write error stops the script.
	Stdout io.Writer
	// Stderr receives the script's standard error; nil discards it.
	Stderr io.Writer

	// Started, if set, is called with the process id as soon as the script runs.
	Started func(pid int)
	// Lingering, if set, is called when Run is about to return early with ErrOutputClosed,
	// with a channel that is closed once the script's processes are gone: what the caller
	// holds for the run (a script slot) can be held until then.
	Lingering func(gone <-chan struct{})

	// checked is, in an interpreter worker, the checkedIdentity of the script that the server
	// checked; the worker, which can only open the script by name, runs no other file.
	checked string
}

// Config configures a native executor. The zero value means the defaults.
type Config struct {
	// User is the account that scripts run as when the server runs as root; "" means DefaultConfig's.
	User string
	// AllowRoot permits User to be root (uid 0). Without it such a User is refused.
	AllowRoot bool
	// KillGrace is how long a script has between SIGTERM and SIGKILL; 0 means DefaultConfig's.
	KillGrace time.Duration
	// OutputGrace is how long output may still arrive after the script exited (from children
	// that inherited its stdout) before they are killed, and how long a script that closed
	// its stdout may keep running before it is stopped; 0 means DefaultConfig's.
	OutputGrace time.Duration
	// Limits are resource limits for every script; the zero value sets none.
	Limits Limits
	// ShimPath is the program that applies Limits and then executes the script (this very
	// binary, re-run; see RunShimIfRequested); "" means os.Executable.
	ShimPath string
	// Interpreters maps a file extension (".py") to the command line that runs such files
	// ("python3 -u", or with a quoted path: `"C:\Program Files\Python\python.exe"`); the
	// script's path follows it, and such a file needs no execute permission. A bare command
	// is looked up on the server's PATH. On Windows it comes before the "#!" line and the
	// built-in interpreters; .exe, .com, .bat and .cmd files cannot be mapped there.
	Interpreters map[string]string
	// UIDRange, when set, runs each concurrent script as a uid of its own from the range,
	// with User's primary group and no others, so that scripts cannot read each other's
	// /proc/PID/environ, signal or ptrace each other. No account may own an id of the range
	// (NewNative checks the password database), and an id goes to a new run only once every
	// process of its last run is gone; a run that finds none free fails with ErrStart.
	// Linux, as root.
	UIDRange UIDRange
}

// UIDRange is an inclusive range of user ids; the zero value is none.
type UIDRange struct{ First, Last uint32 }

// IsSet reports whether r names a range.
func (r UIDRange) IsSet() bool { return r != UIDRange{} }

// Limits are per-script resource limits (Unix rlimits); a zero field sets no limit. On Windows
// CPUSeconds, Processes and MemoryBytes limit the script's job as a whole, and the others are
// refused.
type Limits struct {
	CPUSeconds uint64 // RLIMIT_CPU: SIGXCPU at this many seconds of CPU, SIGKILL a second later
	OpenFiles  uint64 // RLIMIT_NOFILE
	Processes  uint64 // RLIMIT_NPROC: counts every process of the script user, not just this tree
	FileSize   uint64 // RLIMIT_FSIZE, in bytes
	// MemoryBytes is enforced through a cgroup v2 memory.max where the memory controller can
	// be used (Linux, root); elsewhere NewNative warns and runs scripts without it.
	MemoryBytes uint64
	// PIDs bounds the processes and threads of one run at once, through the pids.max of its
	// cgroup (v2, or v1 on hybrid hosts), so that a fork bomb stops there and not at the
	// deadline (Linux, root); 0 means no bound. Unlike Processes, it counts this run only.
	PIDs uint64
}

// shimArg is argv[1] of this binary re-run as the limit shim.
const shimArg = "__cgihttpd-rlimit-shim"

// RunShimIfRequested must be called first in main, and in TestMain of tests whose binary is
// used as ShimPath. When this process was started as the limit shim, it lowers its limits
// and replaces itself with the script, never returning; otherwise it returns at once.
//
// A shim is needed because a limit cannot be set on another user's process without
// CAP_SYS_RESOURCE, while a process may always lower its own limits before exec.
func RunShimIfRequested() {
	if len(os.Args) > 1 && os.Args[1] == shimArg {
		os.Exit(runShim(os.Args[2:]))
	}
}

// DefaultConfig returns the defaults: the one place they are written. NewNative gives a
// zero User, KillGrace or OutputGrace these values; Limits are the command line's defaults,
// and a zero Limits field sets no limit.
func DefaultConfig() Config {
	return Config{
		User:        "nobody",
		KillGrace:   2 * time.Second,
		OutputGrace: 500 * time.Millisecond,
		Limits:      Limits{PIDs: 256},
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.User == "" {
		c.User = d.User
	}
	if c.KillGrace <= 0 {
		c.KillGrace = d.KillGrace
	}
	if c.OutputGrace <= 0 {
		c.OutputGrace = d.OutputGrace
	}
	return c
}

var (
	// ErrStart reports that the script could not be started at all.
	ErrStart = errors.New("script could not be started")
	// ErrNoNative reports a platform without a native process executor.
	ErrNoNative = fmt.Errorf("no native executor on this platform: %w", errors.ErrUnsupported)
	// ErrBadUser reports a configured user that does not exist or is not allowed.
	ErrBadUser = errors.New("unusable script user")
	// ErrRejected reports a script that breaks a rule of its executor (an in-process script
	// that imports os/exec, say, or does not compile).
	ErrRejected = errors.New("script rejected")
	// ErrOutputClosed reports a script that closed its standard output and kept running: Run
	// returns at once (its output is complete) and the script is stopped after OutputGrace.
	ErrOutputClosed = errors.New("script closed its output and kept running")
	// ErrNotRunnable reports a file that this executor cannot run.
	ErrNotRunnable = errors.New("not runnable")
)

// ExitError reports a script that ran and ended unsuccessfully.
type ExitError struct {
	Code   int    // exit status; -1 when killed by a signal
	Signal string // the signal's name when killed by one
}

func (e *ExitError) Error() string {
	if e.Signal != "" {
		return "killed by signal " + e.Signal
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// NewNative returns the platform's process executor. A nil logger discards logs.
func NewNative(cfg Config, logger hclog.Logger) (Executor, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return newNative(cfg.withDefaults(), logger.Named("executor"))
}
