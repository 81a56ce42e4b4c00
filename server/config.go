package server

import (
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"github.com/cgihttpd/cgihttpd/executor"
)

// Config configures a Server. A zero field takes its value from DefaultConfig, so the zero
// Config serves the working directory with the default CGI directories and executors.
type Config struct {
	// Root is the document root; "" means the working directory.
	Root string
	// CGIDirs are the URL paths whose contents are scripts; nil means /cgi-bin and /htbin.
	CGIDirs []string
	// Executor runs scripts as processes; nil means executor.NewNative(Scripts), which New
	// makes and Close closes.
	Executor executor.Executor
	// InProcess runs .go scripts; nil means executor.NewInProcess with Scripts' User,
	// AllowRoot, KillGrace and memory and pids limits and InProcessGoroutines (unless
	// ExecutorMode is "native"), which New makes and Close closes.
	InProcess executor.Executor
	// Scripts configures the executors that New makes.
	Scripts executor.Config
	// InProcessGoroutines lets in-process scripts start goroutines (see
	// executor.InProcessConfig.AllowGoroutines).
	InProcessGoroutines bool
	// ExecutorMode chooses the executor per script: "auto" or "" (.go files in-process, the
	// rest natively; in-process only where there is no native executor), "native" (every
	// file natively, .go files too) or "inproc" (only .go files, in-process).
	ExecutorMode string
	// Timeout bounds each script's run.
	Timeout time.Duration
	// PassEnv names server environment variables that scripts also get (read once, by New).
	PassEnv []string
	// Env holds extra NAME=VALUE variables for every script.
	Env []string
	// PassAuth exports the Authorization header as HTTP_AUTHORIZATION.
	PassAuth bool
	// Auth asks for HTTP Basic credentials on some or all paths; a script then sees
	// AUTH_TYPE=Basic and REMOTE_USER. Its zero value asks for none.
	Auth AuthConfig
	// CGIExtensions (".cgi") make a file with one of these extensions, compared without
	// regard to case, a CGI script wherever it is under the root, and never content.
	CGIExtensions []string
	// Indexes are the names a directory's front page may have, first found first; nil means
	// index.html and index.htm. One with a CGI extension runs.
	Indexes []string
	// MaxBodyBytes bounds a request body sent to a script. Larger: 413.
	MaxBodyBytes int64
	// MaxScripts bounds the scripts running at once; 0 means 8 per CPU. A request that finds
	// none free waits up to QueueTimeout, then gets 503 with Retry-After.
	MaxScripts   int
	QueueTimeout time.Duration
	// HeaderTimeout bounds the time to a script's complete header block (504 after it).
	// IdleTimeout, if set, cuts a response whose body output stalls that long.
	HeaderTimeout time.Duration
	IdleTimeout   time.Duration
	// FlushDelay is how long a script's output may wait to be joined by more before it is
	// flushed to the client; negative means every write at once (always chunked). A script that ends within it is answered with a Content-Length.
	FlushDelay time.Duration
	// RejectFunctionEnv answers 400 to a request whose header value starts with "() {".
	RejectFunctionEnv bool
	// TrustedProxies are the peers whose X-Forwarded-For and X-Forwarded-Proto are believed.
	TrustedProxies []netip.Prefix
	// BodyTimeout and BodyMinRate hold a request body to a deadline: each read must bring
	// data within BodyTimeout, and the whole body must have arrived by BodyTimeout plus one
	// second per BodyMinRate bytes received. Past it the client gets 408 and a script reading
	// the body sees its end and is stopped. A negative BodyMinRate means no minimum rate.
	BodyTimeout time.Duration
	BodyMinRate int64
	// SpoolBudget bounds the bytes of request bodies spooled at once (memory and temp files)
	// across the server; a body that does not fit gets 503 with Retry-After. 0 means four
	// times MaxBodyBytes.
	SpoolBudget int64
	// MaxStderrBytes bounds how much of a script's stderr is logged per request.
	MaxStderrBytes int
	// Version is reported as SERVER_SOFTWARE=cgihttpd/<Version>; "" means "dev".
	Version string
}

// DefaultCGIDirs are the CGI directories of Python's CGIHTTPRequestHandler.
var DefaultCGIDirs = []string{"/cgi-bin", "/htbin"}

// maxInternalRedirect bounds the chain of local Location answers followed for one request.
const maxInternalRedirect = 5

// DefaultConfig returns the defaults that New gives a zero field: the one place they are
// written. MaxScripts stays 0 (8 per CPU of the machine that runs New) and SpoolBudget 0
// (four bodies of MaxBodyBytes).
func DefaultConfig() Config {
	return Config{
		Root:           ".",
		CGIDirs:        DefaultCGIDirs,
		Indexes:        []string{"index.html", "index.htm"},
		Auth:           AuthConfig{Realm: "cgihttpd", MaxFailures: defaultAuthFailures},
		ExecutorMode:   "auto",
		Scripts:        executor.DefaultConfig(),
		Timeout:        60 * time.Second,
		MaxBodyBytes:   64 << 20,
		QueueTimeout:   5 * time.Second,
		HeaderTimeout:  30 * time.Second,
		FlushDelay:     2 * time.Millisecond,
		BodyTimeout:    60 * time.Second,
		BodyMinRate:    500,
		MaxStderrBytes: 64 << 10,
		Version:        "dev",
	}
}

// spoolBodies is SpoolBudget's default, in bodies of MaxBodyBytes.
const spoolBodies = 4

// withDefaults fills zero fields from DefaultConfig and refuses values that make no sense,
// naming the field's command-line flag.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	switch {
	case c.Timeout < 0:
		return c, fmt.Errorf("timeout %s: must be positive", c.Timeout)
	case c.MaxBodyBytes < 0:
		return c, fmt.Errorf("max-body %d: must be positive", c.MaxBodyBytes)
	case c.MaxScripts < 0:
		return c, fmt.Errorf("max-scripts %d: must not be negative", c.MaxScripts)
	case c.QueueTimeout < 0:
		return c, fmt.Errorf("queue-timeout %s: must be positive", c.QueueTimeout)
	case c.HeaderTimeout < 0:
		return c, fmt.Errorf("header-timeout %s: must be positive", c.HeaderTimeout)
	case c.IdleTimeout < 0:
		return c, fmt.Errorf("idle-timeout %s: must not be negative", c.IdleTimeout)
	case c.BodyTimeout < 0:
		return c, fmt.Errorf("body-timeout %s: must be positive", c.BodyTimeout)
	case c.SpoolBudget < 0:
		return c, fmt.Errorf("spool-budget %d: must not be negative", c.SpoolBudget)
	case c.MaxStderrBytes < 0:
		return c, fmt.Errorf("max-stderr %d: must be positive", c.MaxStderrBytes)
	}
	setDefault(&c.Root, d.Root)
	if c.CGIDirs == nil {
		c.CGIDirs = d.CGIDirs
	}
	if c.Indexes == nil {
		c.Indexes = d.Indexes
	}
	setDefault(&c.Auth.Realm, d.Auth.Realm)
	setDefault(&c.Auth.MaxFailures, d.Auth.MaxFailures)
	setDefault(&c.ExecutorMode, d.ExecutorMode)
	setDefault(&c.Timeout, d.Timeout)
	setDefault(&c.MaxBodyBytes, d.MaxBodyBytes)
	if c.MaxScripts == 0 {
		c.MaxScripts = 8 * runtime.NumCPU()
	}
	setDefault(&c.QueueTimeout, d.QueueTimeout)
	setDefault(&c.HeaderTimeout, d.HeaderTimeout)
	setDefault(&c.FlushDelay, d.FlushDelay)
	setDefault(&c.BodyTimeout, d.BodyTimeout)
	setDefault(&c.BodyMinRate, d.BodyMinRate)
	setDefault(&c.SpoolBudget, spoolBodies*c.MaxBodyBytes)
	if c.SpoolBudget < c.MaxBodyBytes {
		return c, fmt.Errorf("spool-budget %d: at least max-body (%d), or 0 for the default", c.SpoolBudget, c.MaxBodyBytes)
	}
	setDefault(&c.MaxStderrBytes, d.MaxStderrBytes)
	setDefault(&c.Version, d.Version)
	switch c.ExecutorMode {
	case "auto", "native", "inproc":
	default:
		return c, fmt.Errorf("executor mode %q: want auto, native or inproc", c.ExecutorMode)
	}
	return c, nil
}

// setDefault sets *field to def when it is the zero value.
func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}
