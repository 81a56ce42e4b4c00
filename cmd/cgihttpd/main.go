// Command cgihttpd serves a directory over HTTP and runs the CGI scripts under its CGI
// directories, with the command line of `python -m http.server --cgi`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/executor"
	"github.com/cgihttpd/cgihttpd/server"
)

// killWait bounds the wait for killed scripts' handlers at shutdown: the executor's SIGTERM
// grace and then some.
const killWait = 5 * time.Second

// limitOptions are the flags that bound what scripts and clients may take.
type limitOptions struct {
	maxScripts     int
	queueTimeout   time.Duration
	maxBody        int64
	bodyTimeout    time.Duration
	bodyMinRate    int64
	spoolBudget    int64
	headerTimeout  time.Duration
	idleTimeout    time.Duration
	killGrace      time.Duration
	maxStderr      int
	rejectFunction bool
	trustedProxies []string
	statusAddr     string
	rlimits        executor.Limits
	uidRange       string // --uid-range as given; see uids
	// The HTTP server's own bounds on clients.
	readHeaderTimeout time.Duration
	keepAlive         time.Duration
	maxHeaderBytes    int
}

// options is the parsed command line.
type options struct {
	port      int
	bind      string
	directory string
	cgiDirs   []string
	user      string
	allowRoot bool
	timeout   time.Duration
	grace     time.Duration
	passEnv   []string
	env       []string
	passAuth  bool
	execMode  string
	goroutine bool
	limits    limitOptions
	logLevel  string
	logJSON   bool
	version   bool

	interpreters map[string]string // --interpreter: ".ext" to the command that runs such files

	// --auth-*, --cgi-ext and --index: checked by server.New.
	auth    server.AuthConfig
	cgiExts []string
	indexes []string
}

const usageText = `Usage: cgihttpd [flags] [port]

Serve a directory over HTTP and run the CGI scripts under its CGI directories.
The port defaults to 8000.

Flags:
  -b, --bind ADDRESS      address to listen on (default 127.0.0.1; use 0.0.0.0 or :: for all)
  -d, --directory DIR     directory to serve (default: the current directory)
      --cgi               accepted for compatibility with python -m http.server; CGI is always on
      --cgi-dir PATH      URL path whose files are CGI scripts; repeatable (default /cgi-bin and /htbin)
      --user NAME|UID[:GID]
                          account scripts run as when started as root; numbers need no
                          /etc/passwd (default nobody; not on Windows)
      --allow-root        allow --user to name a root account (dangerous)
      --uid-range FIRST-LAST
                          run each concurrent script as a uid of its own from this range, which no
                          account may own, with --user's group (Linux, root; default off)
      --timeout DURATION  deadline for each script, e.g. 30s (default 60s)
      --shutdown-grace DURATION
                          on SIGINT/SIGTERM, how long running scripts may finish (default 10s)
      --pass-env NAME     pass the server's environment variable NAME to scripts; repeatable
      --env NAME=VALUE    set NAME=VALUE in every script's environment; repeatable
      --interpreter .EXT=COMMAND
                          run files ending in .EXT as COMMAND FILE, e.g. .py=python3; repeatable
      --pass-auth         pass the Authorization header to scripts as HTTP_AUTHORIZATION
      --auth-file FILE    ask for HTTP Basic credentials checked against this htpasswd file
                          (bcrypt, APR1-MD5, SHA-crypt); scripts see REMOTE_USER
      --auth-path PREFIX  URL path that needs credentials; repeatable (default: every path)
      --auth-realm REALM  realm named in the credentials prompt (default cgihttpd)
      --auth-max-failures N
                          wrong logins a client may send a minute, then 429; negative for no
                          limit (default 10)
      --cgi-ext .EXT      files ending in .EXT are CGI scripts wherever they are, never
                          content; repeatable (e.g. .cgi)
      --index NAME        a directory's front page; repeatable, first found wins; one with a
                          --cgi-ext extension runs (default index.html and index.htm)
      --executor MODE     auto (.go scripts in-process, the rest as processes), native or inproc (default auto)
      --inproc-allow-goroutines
                          let in-process scripts start goroutines (they then run in a worker process,
                          which a panic in one ends and which is replaced)
      --max-scripts N     scripts running at once; more wait, then get 503 (default 8 per CPU)
      --queue-timeout DURATION
                          how long a request waits for a free script slot (default 5s)
      --max-body BYTES    largest request body sent to a script; larger gets 413 (default 67108864)
      --body-timeout DURATION
                          time a request body may go without sending, and its start allowance (default 1m0s)
      --body-min-rate BYTES
                          bytes a second a request body must keep up past --body-timeout; 0 for none (default 500)
      --spool-budget BYTES
                          request body bytes spooled at once, server-wide; more get 503 (default 4 × --max-body)
      --header-timeout DURATION
                          time for a script to send its header block; then 504 (default 30s)
      --idle-timeout DURATION
                          cut a response whose script sends nothing for this long (default off)
      --kill-grace DURATION
                          between SIGTERM and SIGKILL for a stopped script (default 2s)
      --max-stderr BYTES  how much of a script's stderr is logged per request (default 65536)
      --reject-function-env
                          answer 400 to a header value starting "() {" (Shellshock)
      --trusted-proxy CIDR
                          believe X-Forwarded-For/-Proto from these peers; repeatable
      --status-addr ADDRESS
                          serve /healthz and counters as JSON on this separate address (default off)
      --limit-cpu SECONDS, --limit-nofile N, --limit-nproc N, --limit-fsize BYTES
                          Unix resource limits for every script (default none)
      --limit-memory BYTES
                          memory limit for every script, through a cgroup (Linux, root; default none)
      --limit-pids N      processes and threads of one script run at once, through a cgroup
                          (Linux, root; 0 for none; default 256)
      --read-header-timeout DURATION
                          time a client has to send its request headers (default 10s)
      --keepalive-timeout DURATION
                          how long an idle keep-alive connection stays open (default 2m0s)
      --max-header-bytes BYTES
                          largest request header block accepted (default 65536)
      --log-level LEVEL   trace, debug, info, warn or error (default info)
      --log-json          write logs as JSON lines
      --version           print the version and exit
  -h, --help              print this help and exit
`

// listFlag is a repeatable string flag.
type listFlag struct{ values *[]string }

func (l listFlag) String() string {
	if l.values == nil {
		return ""
	}
	return strings.Join(*l.values, ",")
}

func (l listFlag) Set(v string) error {
	*l.values = append(*l.values, v)
	return nil
}

// defineFlags returns the command line's flags, bound to o (and --interpreter to interps).
// usageText documents each of them; a test checks that it and the README say the same.
func defineFlags(o *options, interps *[]string) *flag.FlagSet {
	fs := flag.NewFlagSet("cgihttpd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.bind, "b", "127.0.0.1", "")
	fs.StringVar(&o.bind, "bind", "127.0.0.1", "")
	fs.StringVar(&o.directory, "d", "", "")
	fs.StringVar(&o.directory, "directory", "", "")
	fs.Bool("cgi", false, "")
	fs.Var(listFlag{&o.cgiDirs}, "cgi-dir", "")
	fs.StringVar(&o.user, "user", "nobody", "")
	fs.Var(listFlag{interps}, "interpreter", "")
	fs.BoolVar(&o.allowRoot, "allow-root", false, "")
	fs.StringVar(&o.limits.uidRange, "uid-range", "", "")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "")
	fs.DurationVar(&o.grace, "shutdown-grace", 10*time.Second, "")
	fs.Var(listFlag{&o.passEnv}, "pass-env", "")
	fs.Var(listFlag{&o.env}, "env", "")
	fs.BoolVar(&o.passAuth, "pass-auth", false, "")
	fs.StringVar(&o.auth.File, "auth-file", "", "")
	fs.Var(listFlag{&o.auth.Paths}, "auth-path", "")
	fs.StringVar(&o.auth.Realm, "auth-realm", "", "")
	fs.IntVar(&o.auth.MaxFailures, "auth-max-failures", 0, "")
	fs.Var(listFlag{&o.cgiExts}, "cgi-ext", "")
	fs.Var(listFlag{&o.indexes}, "index", "")
	fs.StringVar(&o.execMode, "executor", "auto", "")
	fs.BoolVar(&o.goroutine, "inproc-allow-goroutines", false, "")
	fs.IntVar(&o.limits.maxScripts, "max-scripts", 0, "")
	fs.DurationVar(&o.limits.queueTimeout, "queue-timeout", 5*time.Second, "")
	fs.Int64Var(&o.limits.maxBody, "max-body", 64<<20, "")
	fs.DurationVar(&o.limits.bodyTimeout, "body-timeout", 60*time.Second, "")
	fs.Int64Var(&o.limits.bodyMinRate, "body-min-rate", 500, "")
	fs.Int64Var(&o.limits.spoolBudget, "spool-budget", 0, "")
	fs.DurationVar(&o.limits.headerTimeout, "header-timeout", 30*time.Second, "")
	fs.DurationVar(&o.limits.idleTimeout, "idle-timeout", 0, "")
	fs.DurationVar(&o.limits.killGrace, "kill-grace", 2*time.Second, "")
	fs.IntVar(&o.limits.maxStderr, "max-stderr", 64<<10, "")
	fs.BoolVar(&o.limits.rejectFunction, "reject-function-env", false, "")
	fs.Var(listFlag{&o.limits.trustedProxies}, "trusted-proxy", "")
	fs.StringVar(&o.limits.statusAddr, "status-addr", "", "")
	fs.DurationVar(&o.limits.readHeaderTimeout, "read-header-timeout", 10*time.Second, "")
	fs.DurationVar(&o.limits.keepAlive, "keepalive-timeout", 120*time.Second, "")
	fs.IntVar(&o.limits.maxHeaderBytes, "max-header-bytes", 64<<10, "")
	fs.Uint64Var(&o.limits.rlimits.CPUSeconds, "limit-cpu", 0, "")
	fs.Uint64Var(&o.limits.rlimits.OpenFiles, "limit-nofile", 0, "")
	fs.Uint64Var(&o.limits.rlimits.Processes, "limit-nproc", 0, "")
	fs.Uint64Var(&o.limits.rlimits.FileSize, "limit-fsize", 0, "")
	fs.Uint64Var(&o.limits.rlimits.MemoryBytes, "limit-memory", 0, "")
	fs.Uint64Var(&o.limits.rlimits.PIDs, "limit-pids", 256, "")
	fs.StringVar(&o.logLevel, "log-level", "info", "")
	fs.BoolVar(&o.logJSON, "log-json", false, "")
	fs.BoolVar(&o.version, "version", false, "")
	return fs
}

// parseArgs parses flags and the optional port, which may stand before, between or after them.
func parseArgs(args []string) (*options, error) {
	o := &options{port: 8000}
	var interps []string
	fs := defineFlags(o, &interps)

	portSeen := false
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if portSeen {
			return nil, fmt.Errorf("unexpected argument %q: only one port may be given", rest[0])
		}
		p, err := strconv.Atoi(rest[0])
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("invalid port %q: want a number from 0 to 65535", rest[0])
		}
		o.port, portSeen, args = p, true, rest[1:]
	}
	if o.timeout <= 0 {
		return nil, fmt.Errorf("invalid --timeout %s: must be positive", o.timeout)
	}
	if o.grace < 0 {
		return nil, fmt.Errorf("invalid --shutdown-grace %s: must not be negative", o.grace)
	}
	if err := o.limits.check(); err != nil {
		return nil, err
	}
	switch o.execMode {
	case "auto", "native", "inproc":
	default:
		return nil, fmt.Errorf("invalid --executor %q: want auto, native or inproc", o.execMode)
	}
	if hclog.LevelFromString(o.logLevel) == hclog.NoLevel {
		return nil, fmt.Errorf("invalid --log-level %q: want trace, debug, info, warn or error", o.logLevel)
	}
	for _, kv := range o.env {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
			return nil, fmt.Errorf("invalid --env %q: want NAME=VALUE", kv)
		}
	}
	o.interpreters = make(map[string]string, len(interps))
	for _, m := range interps {
		ext, command, ok := strings.Cut(m, "=")
		if !ok || len(ext) < 2 || ext[0] != '.' || strings.TrimSpace(command) == "" {
			return nil, fmt.Errorf("invalid --interpreter %q: want .EXT=COMMAND", m)
		}
		o.interpreters[ext] = command
	}
	// --user defaults to nobody, which Windows does not have: only an explicit one is refused.
	userSet := false
	fs.Visit(func(f *flag.Flag) { userSet = userSet || f.Name == "user" })
	if userSet && runtime.GOOS == "windows" {
		return nil, errors.New("--user is not supported on Windows: scripts run as the account that runs cgihttpd; start cgihttpd as the account scripts should use")
	}
	return o, nil
}

func main() {
	executor.RunShimIfRequested()   // this binary, re-run to put limits on a script
	executor.RunWorkerIfRequested() // this binary, re-run as an in-process scripts' worker
	// Before anything else opens a descriptor: what we were started with stays ours.
	if err := markInheritedCloexec(); err != nil {
		_, _ = fmt.Fprintf(os.Stderr, "cgihttpd: inherited descriptors: %v\n", err)
		os.Exit(1)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		_, _ = io.WriteString(stdout, usageText)
		return 0
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "cgihttpd: %v (see --help)\n", err)
		return 2
	}
	if o.version {
		_, _ = fmt.Fprintln(stdout, currentBuild())
		return 0
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "cgihttpd",
		Level:      hclog.LevelFromString(o.logLevel),
		Output:     stderr,
		JSONFormat: o.logJSON,
	})
	// Libraries that use the standard logger (yaegi reports some compile failures that
	// way) write through ours, never bare to stderr.
	log.SetFlags(0)
	log.SetOutput(logger.Named("lib").StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true}))
	if o.directory == "" {
		o.directory = "."
	}
	if info, err := os.Stat(o.directory); err != nil || !info.IsDir() {
		_, _ = fmt.Fprintf(stderr, "cgihttpd: directory %q does not exist or is not a directory\n", o.directory)
		return 2
	}
	exec, err := executor.NewNative(executor.Config{User: o.user, AllowRoot: o.allowRoot, KillGrace: o.limits.killGrace, Limits: o.limits.rlimits, Interpreters: o.interpreters, UIDRange: o.limits.uids()}, logger)
	if errors.Is(err, errors.ErrUnsupported) {
		exec, err = nil, nil // server.New says so and serves files only
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "cgihttpd: %v\n", err)
		return 2
	}
	defer closeExecutor(exec, logger)
	var inproc executor.Executor
	if o.execMode != "native" {
		inproc = executor.NewInProcess(executor.InProcessConfig{AllowGoroutines: o.goroutine,
			User: o.user, AllowRoot: o.allowRoot, KillGrace: o.limits.killGrace, MemoryBytes: o.limits.rlimits.MemoryBytes, PIDs: o.limits.rlimits.PIDs}, logger)
		defer closeExecutor(inproc, logger)
	}
	srv, err := server.New(server.Config{
		Root:          o.directory,
		CGIDirs:       o.cgiDirs,
		Executor:      exec,
		InProcess:     inproc,
		ExecutorMode:  o.execMode,
		Timeout:       o.timeout,
		PassEnv:       o.passEnv,
		Env:           o.env,
		PassAuth:      o.passAuth,
		Auth:          o.auth,
		CGIExtensions: o.cgiExts,
		Indexes:       o.indexes,
		Version:       versionString(),

		MaxScripts:        o.limits.maxScripts,
		QueueTimeout:      o.limits.queueTimeout,
		MaxBodyBytes:      o.limits.maxBody,
		BodyTimeout:       o.limits.bodyTimeout,
		BodyMinRate:       o.limits.bodyMinRateConfig(),
		SpoolBudget:       o.limits.spoolBudget,
		HeaderTimeout:     o.limits.headerTimeout,
		IdleTimeout:       o.limits.idleTimeout,
		MaxStderrBytes:    o.limits.maxStderr,
		RejectFunctionEnv: o.limits.rejectFunction,
		TrustedProxies:    o.limits.prefixes(),
	}, logger)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "cgihttpd: %v\n", err)
		return 2
	}
	defer func() { _ = srv.Close() }() // before the executors it was given
	if pl, ok := exec.(interface{ ProcessesLimited() bool }); ok && o.limits.rlimits.PIDs > 0 && !pl.ProcessesLimited() && os.Geteuid() == 0 {
		logger.Warn("scripts get no process limit here: --limit-pids needs Linux, root and a cgroup pids controller; a fork bomb runs until --timeout unless --limit-nproc is set")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.bind, strconv.Itoa(o.port)))
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "cgihttpd: %v\n", err)
		return 1
	}
	srv.WarnIfCleartextAuth(ln.Addr(), false)
	if o.limits.statusAddr != "" {
		stop, err := serveStatus(o.limits.statusAddr, srv, o.limits.statusTimeouts(), logger)
		if err != nil {
			_ = ln.Close()
			_, _ = fmt.Fprintf(stderr, "cgihttpd: status listener: %v\n", err)
			return 1
		}
		defer stop()
	}
	return serve(server.TuneListener(ln), srv, o.grace, o.limits, logger, stdout)
}

// closeExecutor releases what an executor keeps between runs (interpreters, cgroups).
func closeExecutor(e executor.Executor, logger hclog.Logger) {
	if c, ok := e.(io.Closer); ok {
		if err := c.Close(); err != nil {
			logger.Warn("closing the executor", "executor", e.Name(), "error", err)
		}
	}
}

// serve runs the HTTP server until SIGINT or SIGTERM, then shuts down gracefully: running
// scripts get grace, and then their trees are killed through the base context.
func serve(ln net.Listener, handler http.Handler, grace time.Duration, limits limitOptions, logger hclog.Logger, stdout io.Writer) int {
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	baseCtx, killScripts := context.WithCancel(context.Background())
	defer killScripts()

	var inflight atomic.Int64
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inflight.Add(1)
			defer inflight.Add(-1)
			handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: limits.readHeaderTimeout,
		IdleTimeout:       limits.keepAlive,
		MaxHeaderBytes:    limits.maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          logger.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	url := "http://" + displayAddr(ln.Addr()) + "/"
	_, _ = fmt.Fprintf(stdout, "Serving HTTP on %s (%s) ...\n", ln.Addr(), url)
	logger.Info("listening", "url", url)

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		logger.Error("server stopped", "error", err)
		return 1
	case <-sigCtx.Done():
	}
	stopSignals()
	// A second signal skips the rest of the grace: scripts are killed and we exit at once.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelGrace := context.WithTimeout(ctx, grace)
	defer cancelGrace()
	logger.Info("shutting down", "grace", grace)
	if err := hs.Shutdown(ctx); err != nil {
		logger.Warn("grace period over or second signal; killing running scripts", "error", err, "running", inflight.Load())
		killScripts()
		// Scripts lead their own process groups and would outlive us: wait for their
		// handlers, which return once the groups are gone (SIGTERM, then SIGKILL).
		deadline := time.Now().Add(killWait)
		for inflight.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		_ = hs.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("server stopped", "error", err)
	}
	return 0
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
		if tcp.IP.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}
