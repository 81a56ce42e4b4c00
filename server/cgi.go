package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cgihttpd/cgihttpd/executor"
)

// serveCGI opens the script t found under cgiDir ("" for a script by extension), runs it
// with user as REMOTE_USER ("" for none), and turns its output into the response.
func (s *Server) serveCGI(w http.ResponseWriter, r *http.Request, t scriptTarget, cgiDir, user string, id uint64, hops int) {
	log := reqLog{base: s.logger, fields: []any{"req_id", id}}
	if r.Method == http.MethodConnect || r.Method == http.MethodTrace {
		t.release()
		writeError(w, http.StatusNotImplemented, fmt.Sprintf("Unsupported method (%s)", r.Method))
		return
	}
	script, err := s.resolveScript(t, cgiDir)
	switch {
	case errors.Is(err, errNotPlainFile):
		log.Info("CGI script is not a plain file", "script", t.scriptName)
		writeError(w, http.StatusForbidden, "CGI script is not a plain file")
		return
	case errors.Is(err, errCGIOutside):
		log.Warn("CGI script refused", "script", t.scriptName, "reason", err)
		writeError(w, http.StatusNotFound, "No such CGI script")
		return
	case err != nil:
		log.Info("no such CGI script", "path", r.URL.Path, "reason", err)
		writeError(w, http.StatusNotFound, "No such CGI script")
		return
	}
	defer script.close()
	user, authorized := s.authorizeOpened(w, r, script, user, id)
	if !authorized {
		return
	}
	exec := s.executorFor(t.file)
	if exec == nil {
		log.Warn("no executor on this platform can run the script", "script", t.scriptName)
		writeError(w, http.StatusNotImplemented, "CGI scripts cannot run on this platform")
		return
	}
	if pf, ok := exec.(executor.Preflighter); ok {
		if err := pf.CanRun(t.file, script.info); err != nil {
			log.Info("CGI script cannot be run", "script", t.scriptName, "reason", err)
			writeError(w, http.StatusForbidden, "CGI script is not executable")
			return
		}
	}
	log = log.with("script", t.scriptName)
	nph := strings.HasPrefix(baseName(t.scriptName), "nph-")
	if s.cfg.RejectFunctionEnv {
		if name, bad := functionValue(r); bad {
			log.Warn("header value is a shell function definition", "header", name)
			refuseBody(w, r, http.StatusBadRequest, "Header value not allowed")
			return
		}
	}
	// A body that must be spooled is read before a script slot is taken, so that a client
	// trickling it in holds no slot.
	stdin, bodyLength, body, cleanup, err := s.requestBody(w, r, nph)
	defer cleanup()
	if err == nil && stdin != nil {
		// A script may answer before it reads its body. Without this, net/http would throw
		// away what is left of the body (up to 256 KiB) when the response header goes out.
		if ferr := http.NewResponseController(w).EnableFullDuplex(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
			log.Debug("full duplex not available", "error", ferr)
		}
	}
	if err != nil {
		switch {
		case errors.Is(err, errBodyTooLarge):
			log.Warn("request body too large", "limit", s.cfg.MaxBodyBytes)
			refuseBody(w, r, http.StatusRequestEntityTooLarge, "Request body too large")
		case errors.Is(err, errSpoolFull):
			log.Warn("request body spool budget exhausted", "spool_budget", s.cfg.SpoolBudget)
			s.writeSpoolFull(w, r)
		case errors.Is(err, errBodyTimeout):
			log.Warn("request body stalled", "body_timeout", s.cfg.BodyTimeout, "error", err)
			writeBodyTimeout(w)
		case errors.Is(err, errSpoolFailed):
			log.Error("cannot store the request body: the temporary directory must be writable", "error", err)
			refuseBody(w, r, http.StatusInternalServerError, "Could not store the request body")
		default:
			log.Warn("reading request body failed", "error", err)
			writeError(w, http.StatusBadRequest, "Could not read the request body")
		}
		return
	}
	release, ok := s.acquireScriptSlot(r.Context())
	if !ok {
		log.Warn("no free script slot", "max_scripts", s.cfg.MaxScripts, "waited", s.cfg.QueueTimeout)
		s.writeOverloaded(w)
		return
	}
	slotHeld := true
	defer func() {
		if slotHeld {
			release()
		}
	}()

	base, cancelCause := context.WithCancelCause(r.Context())
	defer cancelCause(nil)
	ctx, cancel := context.WithTimeout(base, s.cfg.Timeout)
	defer cancel()
	stderr := &stderrLogger{log: reqLog{base: s.stderrLog, fields: log.fields}, limit: s.cfg.MaxStderrBytes}
	inv := &executor.Invocation{
		Path:    t.file,
		Env:     s.buildEnv(cgiRequest{r: r, root: s.root, target: t, bodyLength: bodyLength, user: user}),
		Dir:     filepath.Dir(t.file),
		File:    script.f,
		Info:    script.info,
		Stdin:   stdin,
		Stderr:  stderr,
		Started: func(pid int) { stderr.pid.Store(int64(pid)) },
		// A script that closed its stdout and is being stopped keeps its slot until it is
		// gone, so that such scripts cannot pile up beyond MaxScripts.
		Lingering: func(gone <-chan struct{}) {
			slotHeld = false
			go func() {
				<-gone
				release()
			}()
		},
	}
	if !s.stderrLog.IsInfo() {
		inv.Stderr = nil // nothing at this log level would show it: not even collected
	}
	if nph && r.ProtoMajor == 1 {
		s.runNPH(ctx, w, exec, inv, log)
		stderr.close()
		return
	}
	cw := newCGIResponseWriter(w, r.Method == http.MethodHead, s.cfg.FlushDelay)
	cw.wd = newWatchdog(cancelCause, min(s.cfg.HeaderTimeout, s.cfg.Timeout), s.cfg.IdleTimeout)
	if body != nil {
		// A body that stalls ends the run: its output is refused from then on (it may take
		// the truncated body for the whole), then the script sees EOF on stdin and is stopped.
		stalled := func() {
			cw.refuse(errBodyTimeout)
			cancelCause(errBodyTimeout)
		}
		body.onStall.Store(&stalled)
	}
	inv.Stdout = cw
	if nph {
		inv.Stdout = &nphRelay{dst: cw} // HTTP/2: relayed, since it cannot be hijacked
	}
	runErr := exec.Run(ctx, inv)
	cw.stopFlushing()
	cw.wd.stop()
	stderr.close()
	timedOut := errors.Is(runErr, context.DeadlineExceeded) || errors.Is(runErr, errHeaderTimeout) || errors.Is(runErr, errIdleTimeout) ||
		errors.Is(runErr, errBodyTimeout)
	if timedOut {
		s.count.timeouts.Add(1)
	}
	log = log.with("pid", stderr.pid.Load())

	switch {
	case cw.redirect != "":
		s.followLocalRedirect(w, r, cw.redirect, id, hops, log)
	case cw.headerSent && errors.Is(runErr, executor.ErrOutputClosed):
		log.Info("script closed its output and kept running; response complete, script being stopped")
	case cw.headerSent:
		if runErr != nil && !isExit(runErr) {
			// The status line is gone: all that is left is to cut the response short.
			log.Warn("script stopped during its body", "error", runErr)
			if r.Context().Err() == nil {
				panic(http.ErrAbortHandler)
			}
		} else if runErr != nil {
			log.Info("script exited unsuccessfully after responding", "error", runErr)
		}
	case errors.Is(runErr, executor.ErrRejected):
		log.Error("script rejected", "error", runErr)
		writeError(w, http.StatusInternalServerError, "The CGI script was rejected")
	case errors.Is(runErr, executor.ErrStart):
		status := http.StatusBadGateway
		if errors.Is(runErr, fs.ErrPermission) {
			status = http.StatusForbidden
		}
		log.Error("script could not be started", "error", runErr)
		writeError(w, status, "The CGI script could not be started")
	case body != nil && body.stalled.Load():
		log.Warn("request body stalled; script stopped", "body_timeout", s.cfg.BodyTimeout, "error", runErr)
		writeBodyTimeout(w)
	case r.Context().Err() != nil:
		log.Info("client went away", "error", runErr)
	case timedOut:
		log.Warn("script timed out before sending its headers", "timeout", s.cfg.Timeout, "header_timeout", s.cfg.HeaderTimeout, "error", runErr)
		writeError(w, http.StatusGatewayTimeout, "The CGI script did not answer in time")
	default:
		reason := cw.finish()
		if reason == nil {
			reason = fmt.Errorf("script ended without a response: %w", runErr)
		}
		log.Error("bad script response", "reason", reason, "exit", errString(runErr))
		writeError(w, http.StatusBadGateway, "The CGI script sent a malformed response")
	}
}

var (
	errNotPlainFile = errors.New("not a plain file")
	errCGIOutside   = errors.New("the file lies outside every CGI directory and has no CGI extension")
)

// resolveScript opens the script t (found under cgiDir, or by its extension when cgiDir is
// "") beneath the root. The file opened is the one checked (a regular file whose real
// location is inside a CGI directory or has a CGI extension, whatever name led to it) and
// the one the executor runs.
func (s *Server) resolveScript(t scriptTarget, cgiDir string) (*opened, error) {
	if t.info == nil {
		return nil, fs.ErrNotExist
	}
	if !t.info.Mode().IsRegular() {
		return nil, errNotPlainFile
	}
	o, err := t.opened, error(nil)
	if o == nil {
		if o, err = s.docs.open(t.rel); err != nil {
			return nil, err
		}
	}
	if !o.info.Mode().IsRegular() {
		o.close()
		return nil, errNotPlainFile
	}
	var why string
	if cgiDir != "" {
		why, _, err = s.docs.cgiReason(o, cgiDir) // its own CGI directory first
	} else {
		why, _, err = s.docs.cgiReason(o)
	}
	if err == nil && why == "" {
		err = errCGIOutside
	}
	if err != nil {
		o.close()
		return nil, err
	}
	return o, nil
}

func isExit(err error) bool {
	var ee *executor.ExitError
	return errors.As(err, &ee)
}

func errString(err error) string {
	if err == nil {
		return "0"
	}
	return err.Error()
}

// followLocalRedirect re-dispatches a script's local Location (RFC 3875 §6.2.2) as a GET
// without a body.
func (s *Server) followLocalRedirect(w http.ResponseWriter, r *http.Request, loc string, id uint64, hops int, log reqLog) {
	if hops+1 > maxInternalRedirect {
		log.Error("too many local redirects", "location", loc, "limit", maxInternalRedirect)
		writeError(w, http.StatusInternalServerError, "Too many internal redirects")
		return
	}
	u, err := url.Parse(loc)
	if err != nil {
		log.Error("bad local redirect", "location", loc, "error", err)
		writeError(w, http.StatusBadGateway, "The CGI script sent a malformed response")
		return
	}
	r2 := r.Clone(r.Context())
	if r.Method != http.MethodHead {
		r2.Method = http.MethodGet
	}
	r2.Body = http.NoBody
	r2.ContentLength = 0
	r2.TransferEncoding = nil
	r2.Header.Del("Content-Type")
	r2.Header.Del("Content-Length")
	r2.URL = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	r2.RequestURI = loc
	s.dispatch(w, r2, id, hops+1)
}

// runNPH runs a non-parsed-header script over HTTP/1.x: its output goes to the client
// unmodified, so the connection is taken over and closed afterwards (the server cannot know
// the framing). Over HTTP/2, nphRelay carries the output instead.
func (s *Server) runNPH(ctx context.Context, w http.ResponseWriter, exec executor.Executor, inv *executor.Invocation, log reqLog) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		log.Error("nph script needs an HTTP/1.x connection", "error", err)
		writeError(w, http.StatusBadGateway, "nph scripts need HTTP/1.x")
		return
	}
	defer func() { _ = conn.Close() }()
	raw := &rawWriter{w: brw.Writer}
	inv.Stdout = raw
	runErr := exec.Run(ctx, inv)
	if runErr != nil {
		log.Info("nph script ended unsuccessfully", "error", runErr)
	}
	if raw.n == 0 && errors.Is(runErr, executor.ErrStart) {
		_, _ = brw.WriteString("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		_ = brw.Flush()
	}
	noteRaw(w, raw.status(), raw.n)
}

// rawWriter passes output through to a hijacked connection, flushing each write, and keeps the
// first bytes to read the status for the access log.
type rawWriter struct {
	w    *bufio.Writer
	n    int64
	head []byte
}

func (rw *rawWriter) Write(p []byte) (int, error) {
	if len(rw.head) < 16 {
		rw.head = append(rw.head, p[:min(len(p), 16-len(rw.head))]...)
	}
	n, err := rw.w.Write(p)
	rw.n += int64(n)
	if err == nil {
		err = rw.w.Flush()
	}
	return n, err
}

// status reads NNN from "HTTP/1.x NNN"; 0 when the output did not start like that.
func (rw *rawWriter) status() int {
	_, rest, ok := bytes.Cut(rw.head, []byte(" "))
	if !ok || len(rest) < 3 {
		return 0
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil {
		return 0
	}
	return code
}
