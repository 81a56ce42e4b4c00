// Package cli is cgihttpd's command line: every flag is defined once here, with its help
// text and its default, and --help, the man page, the shell completions and the README's
// flag table are all made from these definitions (see Usage and MarkdownTable here, and tools/gendoc).
// The shape is Python's `python -m http.server --cgi`: an optional port anywhere among the
// flags, -b, -d and GNU-style long flags.
package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cgihttpd/cgihttpd/server"
)

// Options is the parsed command line. Server is handed to server.New as it is: the flags
// that configure the server and its scripts are bound to its fields, so their defaults are
// server.DefaultConfig's and their validation is server.New's.
type Options struct {
	Port   int
	Bind   string
	Server server.Config

	// ShutdownGrace is how long running scripts may finish after SIGINT or SIGTERM.
	ShutdownGrace time.Duration
	// StatusAddr, if set, serves /healthz and the counters there.
	StatusAddr string
	// The HTTP server's own bounds on clients.
	ReadHeaderTimeout time.Duration
	KeepAlive         time.Duration
	MaxHeaderBytes    int

	// TLS is HTTPS: certificate files, self-signed or ACME, and the protocol.
	TLS TLS

	LogLevel string
	LogJSON  bool
	Version  bool
	Help     bool
}

// Defaults returns the options of an empty command line.
func Defaults() *Options {
	return &Options{
		Port:              8000,
		Bind:              "127.0.0.1",
		Server:            server.DefaultConfig(),
		ShutdownGrace:     10 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		KeepAlive:         2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		LogLevel:          "info",
		TLS:               tlsDefaults(),
	}
}

// Command returns the command with every flag bound to o, whose values are the defaults
// shown. It is parsed by Parse and described by the documentation writers; its RunE does
// nothing, as main runs the server itself.
func Command(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:               "cgihttpd [flags] [port]",
		Short:             "serve a directory over HTTP and run its CGI scripts",
		Long:              longDescription(),
		Args:              cobra.MaximumNArgs(1),
		RunE:              func(*cobra.Command, []string) error { return nil },
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	defineServing(fs, o)
	defineTLS(fs, o)
	defineScripts(fs, o)
	defineAuthAndExtensions(fs, o)
	defineLimits(fs, o)
	defineProcessLimits(fs, o)
	defineOutput(fs, o)
	_ = cmd.MarkFlagDirname("directory")
	_ = cmd.MarkFlagFilename("tls-cert")
	_ = cmd.MarkFlagFilename("tls-key")
	_ = cmd.MarkFlagFilename("tls-password-file")
	return cmd
}

// longDescription is the text above the flags in --help and the man page.
func longDescription() string {
	d := Defaults()
	return fmt.Sprintf(`cgihttpd serves a directory over HTTP and runs the CGI scripts under its CGI directories
(%s by default), with the command line of python -m http.server --cgi.
The port defaults to %d and may stand before, between or after the flags.

Scripts follow RFC 3875. When cgihttpd runs as root, scripts run as an unprivileged
account (%s by default); every path is confined to the served directory; every script
has a deadline, and its whole process tree is stopped with it.`,
		strings.Join(d.Server.CGIDirs, " and "), d.Port, d.Server.Scripts.User)
}

func defineServing(fs *pflag.FlagSet, o *Options) {
	fs.StringVarP(&o.Bind, "bind", "b", o.Bind, "listen on `ADDRESS`; 0.0.0.0 or :: for all")
	fs.StringVarP(&o.Server.Root, "directory", "d", o.Server.Root, "serve `DIR`")
	fs.Bool("cgi", false, "accepted for compatibility with python -m http.server; CGI is always on")
	fs.StringArrayVar(&o.Server.CGIDirs, "cgi-dir", o.Server.CGIDirs, "URL `PATH` whose files are CGI scripts; repeatable")
	fs.DurationVar(&o.ShutdownGrace, "shutdown-grace", o.ShutdownGrace, "on SIGINT or SIGTERM, how long running scripts may finish")
	fs.StringVar(&o.StatusAddr, "status-addr", o.StatusAddr, "serve /healthz and counters as JSON on this separate `ADDRESS`")
	fs.Var(prefixListValue{&o.Server.TrustedProxies}, "trusted-proxy", "believe X-Forwarded-For and -Proto from these peers (an address or `CIDR`); repeatable")
}

func defineScripts(fs *pflag.FlagSet, o *Options) {
	sc := &o.Server.Scripts
	fs.StringVar(&sc.User, "user", sc.User, "`ACCOUNT` scripts run as when started as root: a name, or UID[:GID], which needs no /etc/passwd (not on Windows)")
	fs.BoolVar(&sc.AllowRoot, "allow-root", sc.AllowRoot, "allow --user to name a root account (dangerous)")
	fs.Var(uidRangeValue{&sc.UIDRange}, "uid-range", "run each concurrent script as a uid of its own from `FIRST-LAST`, which no account may own, with --user's group (Linux, root)")
	fs.DurationVar(&o.Server.Timeout, "timeout", o.Server.Timeout, "deadline for each script")
	fs.StringArrayVar(&o.Server.PassEnv, "pass-env", o.Server.PassEnv, "pass the server's environment variable `NAME` to scripts; repeatable")
	fs.StringArrayVar(&o.Server.Env, "env", o.Server.Env, "set `NAME=VALUE` in every script's environment; repeatable")
	fs.Var(interpreterValue{&sc.Interpreters}, "interpreter", "run files ending in .EXT as COMMAND FILE (`.EXT=COMMAND`, e.g. .py=python3); repeatable")
	fs.BoolVar(&o.Server.PassAuth, "pass-auth", o.Server.PassAuth, "pass the Authorization header to scripts as HTTP_AUTHORIZATION")
	fs.StringVar(&o.Server.ExecutorMode, "executor", o.Server.ExecutorMode, "`MODE`: auto (.go scripts in-process, the rest as processes), native or inproc")
	fs.BoolVar(&o.Server.InProcessGoroutines, "inproc-allow-goroutines", o.Server.InProcessGoroutines, "let in-process scripts start goroutines (a panic in one ends their worker process, which is replaced)")
}

func defineAuthAndExtensions(fs *pflag.FlagSet, o *Options) {
	a := &o.Server.Auth
	fs.StringVar(&a.File, "auth-file", a.File, "ask for HTTP Basic credentials checked against this htpasswd `FILE` (bcrypt, APR1-MD5, SHA-crypt; re-read when it changes); scripts see REMOTE_USER")
	fs.StringArrayVar(&a.Paths, "auth-path", a.Paths, "URL `PREFIX` that needs credentials; repeatable (default: every path)")
	fs.StringVar(&a.Realm, "auth-realm", a.Realm, "`REALM` named in the credentials prompt")
	fs.IntVar(&a.MaxFailures, "auth-max-failures", a.MaxFailures, "wrong logins a client may send a minute, then 429; negative for no limit")
	fs.StringArrayVar(&o.Server.CGIExtensions, "cgi-ext", o.Server.CGIExtensions, "files ending in `.EXT` (any case) are CGI scripts wherever they are, never content; repeatable")
	fs.StringArrayVar(&o.Server.Indexes, "index", o.Server.Indexes, "a directory's front page `NAME`, first found wins; one with a --cgi-ext extension runs; repeatable")
}

func defineLimits(fs *pflag.FlagSet, o *Options) {
	c := &o.Server
	fs.IntVar(&c.MaxScripts, "max-scripts", c.MaxScripts, "scripts running at once; more wait, then get 503 (0: 8 per CPU)")
	fs.DurationVar(&c.QueueTimeout, "queue-timeout", c.QueueTimeout, "how long a request waits for a free script slot")
	fs.Var(sizeValue[int64]{&c.MaxBodyBytes}, "max-body", "largest request body sent to a script; larger gets 413")
	fs.DurationVar(&c.BodyTimeout, "body-timeout", c.BodyTimeout, "time a request body may go without sending, and its start allowance")
	fs.Var(minRateValue{&c.BodyMinRate}, "body-min-rate", "bytes a second a request body must keep up past --body-timeout; 0 for none")
	fs.Var(sizeValue[int64]{&c.SpoolBudget}, "spool-budget", "request body bytes spooled at once, server-wide; more get 503 (0: 4 × --max-body)")
	fs.DurationVar(&c.HeaderTimeout, "header-timeout", c.HeaderTimeout, "time for a script to send its header block; then 504")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "cut a response whose script sends nothing for this long (0: never)")
	fs.DurationVar(&c.Scripts.KillGrace, "kill-grace", c.Scripts.KillGrace, "between SIGTERM and SIGKILL for a stopped script")
	fs.Var(sizeValue[int]{&c.MaxStderrBytes}, "max-stderr", "how much of a script's stderr is logged per request")
	fs.BoolVar(&c.RejectFunctionEnv, "reject-function-env", c.RejectFunctionEnv, `answer 400 to a header value starting "() {" (Shellshock)`)
	fs.DurationVar(&o.ReadHeaderTimeout, "read-header-timeout", o.ReadHeaderTimeout, "time a client has to send its request headers")
	fs.DurationVar(&o.KeepAlive, "keepalive-timeout", o.KeepAlive, "how long an idle keep-alive connection stays open")
	fs.Var(sizeValue[int]{&o.MaxHeaderBytes}, "max-header-bytes", "largest request header block accepted")
}

func defineProcessLimits(fs *pflag.FlagSet, o *Options) {
	l := &o.Server.Scripts.Limits
	fs.Uint64Var(&l.CPUSeconds, "limit-cpu", l.CPUSeconds, "CPU `SECONDS` each script may use (Unix rlimit, Windows job; 0: none)")
	fs.Uint64Var(&l.OpenFiles, "limit-nofile", l.OpenFiles, "open files of each script (Unix rlimit; 0: none)")
	fs.Uint64Var(&l.Processes, "limit-nproc", l.Processes, "processes of the script user (Unix rlimit; 0: none)")
	fs.Var(sizeValue[uint64]{&l.FileSize}, "limit-fsize", "largest file a script may write (Unix rlimit; 0: none)")
	fs.Var(sizeValue[uint64]{&l.MemoryBytes}, "limit-memory", "memory of each script, through a cgroup (Linux, root; 0: none)")
	fs.Uint64Var(&l.PIDs, "limit-pids", l.PIDs, "processes and threads of one script at once, through a cgroup (Linux, root; 0: none)")
}

func defineOutput(fs *pflag.FlagSet, o *Options) {
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "`LEVEL`: trace, debug, info, warn or error")
	fs.BoolVar(&o.LogJSON, "log-json", o.LogJSON, "write logs as JSON lines")
	fs.BoolVar(&o.Version, "version", o.Version, "print the version and exit")
	fs.BoolVarP(&o.Help, "help", "h", o.Help, "print this help and exit")
}
