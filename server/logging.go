package server

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// logResponseWriter remembers the status, the body size and the verified user for the
// access log.
type logResponseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	user   string
}

func (l *logResponseWriter) WriteHeader(code int) {
	if l.status == 0 && code >= 200 {
		l.status = code
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l *logResponseWriter) Write(p []byte) (int, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	n, err := l.ResponseWriter.Write(p)
	l.bytes += int64(n)
	return n, err
}

// ReadFrom passes a file on to net/http's own ReadFrom, which sends it with sendfile;
// without it every static file above the cache size went through a 32 KiB read/write loop.
// Anything else (the cache's in-memory ranges) is written through Write, so that it goes
// out in one write with the header.
func (l *logResponseWriter) ReadFrom(src io.Reader) (int64, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := l.ResponseWriter.(io.ReaderFrom); ok && isFile(src) {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{l.ResponseWriter}, src)
	}
	l.bytes += n
	return n, err
}

// isFile reports whether src is a file, or a file behind a LimitedReader (as io.CopyN and
// http.ServeContent pass it): what net/http can send with sendfile.
func isFile(src io.Reader) bool {
	if lr, ok := src.(*io.LimitedReader); ok {
		src = lr.R
	}
	_, ok := src.(*os.File)
	return ok
}

// writerOnly hides a writer's ReadFrom, so that io.Copy writes through Write.
type writerOnly struct{ io.Writer }

// Unwrap lets http.ResponseController reach Flush, Hijack and the deadlines.
func (l *logResponseWriter) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// noteRaw records what was written to a hijacked connection (nph scripts).
func noteRaw(w http.ResponseWriter, status int, n int64) {
	if l, ok := w.(*logResponseWriter); ok {
		l.status, l.bytes = status, n
	}
}

// logAccess writes one Common Log Format line. The CLF record is the message itself, so that
// plain-text logs read like any web server's access log.
func (s *Server) logAccess(r *http.Request, code int, bytes int64, user string, id uint64, start time.Time, aborted bool) {
	if !s.access.IsInfo() {
		return // the line is not built when nobody reads it
	}
	host, _ := splitAddr(r.RemoteAddr)
	status := "-"
	if code != 0 {
		status = strconv.Itoa(code)
	}
	size := "-"
	if bytes > 0 {
		size = strconv.FormatInt(bytes, 10)
	}
	authUser := "-"
	if user != "" {
		// A name with a space, quote or control character is quoted, so it stays one field.
		authUser = user
		if q := strconv.Quote(user); q != `"`+user+`"` || strings.Contains(user, " ") {
			authUser = q
		}
	}
	line := host + " - " + authUser + " [" + start.Format("02/Jan/2006:15:04:05 -0700") + "] " +
		strconv.Quote(r.Method+" "+r.RequestURI+" "+r.Proto) + " " + status + " " + size
	args := []any{"req_id", id, "duration_ms", time.Since(start).Milliseconds()}
	if aborted {
		args = append(args, "aborted", true)
	}
	s.access.Info(line, args...)
}

// stderrLogger logs a script's standard error line by line, bounded in total size so that a
// flooding script costs the log at most its limit in bytes; the rest is counted and dropped.
type stderrLogger struct {
	log     reqLog
	limit   int
	pid     atomic.Int64
	partial []byte
	logged  int
	dropped int64
}

const maxStderrLine = 4 << 10

func (e *stderrLogger) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if e.logged >= e.limit {
			e.dropped += int64(len(p))
			return n, nil
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			e.partial = append(e.partial, p...)
			if len(e.partial) >= maxStderrLine {
				e.emit(e.partial)
				e.partial = e.partial[:0]
			}
			return n, nil
		}
		e.partial = append(e.partial, p[:i]...)
		e.emit(e.partial)
		e.partial = e.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (e *stderrLogger) emit(line []byte) {
	if len(line) > maxStderrLine {
		line = line[:maxStderrLine]
	}
	e.logged += len(line) + 1
	e.log.Info("script stderr", "pid", e.pid.Load(), "line", strings.TrimRight(string(line), "\r"))
}

// close logs a last unterminated line and what was dropped.
func (e *stderrLogger) close() {
	if len(e.partial) > 0 && e.logged < e.limit {
		e.emit(e.partial)
	}
	if e.dropped > 0 {
		e.log.Warn("script stderr truncated", "pid", e.pid.Load(), "dropped_bytes", e.dropped)
	}
}
