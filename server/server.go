// Package server is cgihttpd's http.Handler: it serves a directory's files the way Python's
// SimpleHTTPRequestHandler does and runs the CGI scripts under its CGI directories, following
// RFC 3875 for the environment and for the script's response (Status and Location are
// honoured; nph- scripts speak to the client directly over HTTP/1.x, and over HTTP/2 their
// status line and headers are relayed).
//
// # Embedding
//
// A Server is safe for concurrent use and is an ordinary http.Handler: mount it in a mux,
// wrap it in middleware, serve it with any http.Server (see the example). A program that
// runs in-process scripts in a worker (as root, see executor.NewInProcess) must call
// executor.RunWorkerIfRequested first in main, since the worker is the program re-run. The zero Config
// serves the working directory with /cgi-bin and /htbin as CGI directories; New checks the
// Config and fails rather than serve something other than what was asked.
//
// # Executors
//
// Scripts run through an executor.Executor chosen per script by Config.ExecutorMode: by
// default .go files run in-process (executor.NewInProcess) and everything else as a process
// (executor.NewNative). Where the platform has no native executor, only .go scripts run.
//
// # Safety
//
// Every request path is resolved inside Config.Root, symlinks included; a script gets an
// environment built from nothing, a deadline (Config.Timeout), a bounded request body, and
// is stopped with everything it started when the client goes away. When the process runs as
// root on Unix, scripts run as nobody (executor.Config.User): native ones directly, in-process
// ones in their interpreter worker.
package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/executor"
)

// Server is the http.Handler for one document root.
type Server struct {
	cfg     Config
	root    string   // absolute document root
	docs    *docRoot // the root, opened: every file access of a request goes through it
	files   *fileCache
	cgiDirs []string
	cgiExts []string // lower case, each with its dot
	indexes []string
	auth    *authenticator    // nil: no credentials asked for
	native  executor.Executor // nil where the platform has none
	inproc  executor.Executor // nil in "native" mode
	// ownsNative, ownsInproc: New made that executor, so Close closes it.
	ownsNative, ownsInproc bool
	extraEnv               map[string]string
	baseVars               []envVar // baseEnv(extraEnv), sorted: where every script's environment starts
	serverSoftware         string
	logger                 hclog.Logger
	access                 hclog.Logger
	stderrLog              hclog.Logger // scripts' stderr lines
	reqID                  atomic.Uint64
	slots                  chan struct{} // one token per running script
	spool                  spoolBudget
	count                  counters
}

// New checks cfg and returns a Server. A nil logger discards logs.
func New(cfg Config, logger hclog.Logger) (*Server, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("document root %q: %w", cfg.Root, err)
	}
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("document root: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("document root %q is not a directory", root)
	}
	s := &Server{
		cfg:      cfg,
		root:     root,
		files:    newFileCache(),
		logger:   logger.Named("server"),
		access:   logger.Named("access"),
		extraEnv: make(map[string]string),
		slots:    make(chan struct{}, cfg.MaxScripts),
	}
	s.spool.limit = cfg.SpoolBudget
	for _, d := range cfg.CGIDirs {
		clean, err := collapsePath(d)
		if err != nil || clean == "/" {
			return nil, fmt.Errorf("CGI directory %q: must be an absolute URL path below /", d)
		}
		s.cgiDirs = append(s.cgiDirs, strings.TrimSuffix(clean, "/"))
	}
	if err := s.configureCGIExts(cfg.CGIExtensions, cfg.Indexes); err != nil {
		return nil, err
	}
	if s.auth, err = newAuthenticator(cfg.Auth, logger.Named("auth")); err != nil {
		return nil, err
	}
	for _, name := range cfg.PassEnv {
		if v, ok := os.LookupEnv(name); ok {
			s.extraEnv[name] = v
		}
	}
	for _, kv := range cfg.Env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" || strings.ContainsAny(name, "\x00") {
			return nil, fmt.Errorf("environment entry %q: want NAME=VALUE", kv)
		}
		s.extraEnv[name] = value
	}
	s.stderrLog = s.logger.Named("stderr")
	s.baseVars = sortedVars(baseEnv(s.extraEnv))
	s.serverSoftware = "cgihttpd/" + cfg.Version
	if cfg.ExecutorMode != "inproc" {
		if s.native, err = nativeExecutor(cfg.Executor, cfg.Scripts, logger); err != nil {
			return nil, err
		}
		s.ownsNative = cfg.Executor == nil
		if s.native == nil {
			s.logger.Warn("no native executor on this platform: only in-process .go scripts can run")
		}
	}
	if cfg.ExecutorMode != "native" {
		s.inproc = cfg.InProcess
		if s.inproc == nil {
			sc := cfg.Scripts
			s.inproc = executor.NewInProcess(executor.InProcessConfig{AllowGoroutines: cfg.InProcessGoroutines,
				User: sc.User, AllowRoot: sc.AllowRoot, KillGrace: sc.KillGrace, MemoryBytes: sc.Limits.MemoryBytes, PIDs: sc.Limits.PIDs}, logger)
			s.ownsInproc = true
		}
	}
	s.warnIfUnreachable()
	s.warnIfAuthFileServed()
	// Last: nothing above may fail with it open.
	if s.docs, err = openDocRoot(root, s.cgiDirs); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.docs.cgiExts = s.cgiExts
	return s, nil
}

// Close releases what New opened, and what runs in the executors it made: the in-process
// interpreters and the kept run cgroups (executors passed in Config are the caller's to
// close). Call it once the http.Server serving s has shut down.
func (s *Server) Close() error {
	if s.docs != nil {
		s.docs.close()
	}
	var errs []error
	if c, ok := s.native.(io.Closer); ok && s.ownsNative {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the native executor: %w", err))
		}
	}
	if c, ok := s.inproc.(io.Closer); ok && s.ownsInproc {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the in-process executor: %w", err))
		}
	}
	return errors.Join(errs...)
}

// nativeExecutor returns configured, or else the platform's native executor, or nil where
// there is none.
func nativeExecutor(configured executor.Executor, cfg executor.Config, logger hclog.Logger) (executor.Executor, error) {
	if configured != nil {
		return configured, nil
	}
	native, err := executor.NewNative(cfg, logger)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("executor: %w", err)
	}
	return native, nil
}

// executorFor picks the executor for a script file; nil when nothing here can run it.
func (s *Server) executorFor(file string) executor.Executor {
	if s.inproc != nil && (s.native == nil || executor.IsGoScript(file)) {
		return s.inproc
	}
	return s.native
}

// warnIfUnreachable warns when the server runs as root (so scripts run as an unprivileged
// user) and a directory above the document root is closed to others: every script would then
// fail to start, which is a puzzling first experience with a checkout under /root.
func (s *Server) warnIfUnreachable() {
	if os.Geteuid() != 0 {
		return
	}
	realRoot, err := filepath.EvalSymlinks(s.root)
	if err != nil {
		return
	}
	for dir := realRoot; ; dir = filepath.Dir(dir) {
		if info, err := os.Stat(dir); err == nil && info.Mode().Perm()&0o001 == 0 {
			s.logger.Warn("scripts run unprivileged but cannot enter a directory above the document root; CGI requests will fail (chmod o+x it, or serve a copy elsewhere)", "dir", dir)
			return
		}
		if parent := filepath.Dir(dir); parent == dir {
			return
		}
	}
}

// Root returns the absolute document root.
func (s *Server) Root() string { return s.root }

// ServeHTTP serves a static file or runs a CGI script, and logs the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := s.reqID.Add(1)
	s.count.requests.Add(1)
	start := time.Now()
	lw := &logResponseWriter{ResponseWriter: w}
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler { //nolint:errorlint // a sentinel panic value
			s.logger.Error("handler panic", "req_id", id, "panic", fmt.Sprint(p))
		}
		s.logAccess(r, lw.status, lw.bytes, lw.user, id, start, p != nil)
		if p != nil {
			panic(p)
		}
	}()
	s.dispatch(lw, r, id, 0)
}

// dispatch routes one request, or a local redirect of it, to the CGI or the static side.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, id uint64, hops int) {
	clean, err := collapsePath(r.URL.Path)
	if err != nil {
		s.logger.Warn("bad request path", "req_id", id, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusBadRequest, "Bad request path")
		return
	}
	refuse := func(reason string) {
		// 404, as on a platform where such a name is just a file that does not exist.
		s.logger.Warn("request path refused", "req_id", id, "path", clean, "reason", reason)
		writeError(w, http.StatusNotFound, "File not found")
	}
	if reason := platformPathProblem(clean); reason != "" {
		refuse(reason)
		return
	}
	user, ok := s.authorize(w, r, clean, id)
	if !ok {
		return
	}
	if dir := cgiPrefix(clean, s.cgiDirs); dir != "" {
		s.serveCGI(w, r, s.docs.findScript(clean, dir), dir, user, id, hops)
		return
	}
	if t, ok := s.extScript(clean); ok {
		s.serveCGI(w, r, t, "", user, id, hops)
		return
	}
	s.serveStatic(w, r, clean, user, id)
}

// writeError sends a small HTML error page, like Python's send_error.
func writeError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if code == http.StatusBadRequest || code >= 500 {
		h.Set("Connection", "close")
	}
	w.WriteHeader(code)
	text := http.StatusText(code)
	_, _ = fmt.Fprintf(w, errorPage, code, htmlEscape(text), code, htmlEscape(text), htmlEscape(msg))
}

const errorPage = `<!DOCTYPE html>
<html lang="en"><head>
` + pageStyle + `<title>%d %s</title>
</head><body>
<h1>%d %s</h1>
<p>%s</p>
<footer>cgihttpd</footer>
</body></html>
`
