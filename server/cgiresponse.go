package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxHeaderBlock bounds a script's header block (ARCHITECTURE.md, "The response").
const maxHeaderBlock = 64 << 10

var (
	errNoOutput      = errors.New("script produced no output")
	errNoHeaderEnd   = errors.New("script output ended inside its header block (no blank line)")
	errNoHeaders     = errors.New("script sent an empty header block (RFC 3875 wants at least one header)")
	errHeaderTooLong = fmt.Errorf("script header block exceeds %d bytes", maxHeaderBlock)
	errBadHeaderLine = errors.New("malformed header line")
	errBadStatus     = errors.New("malformed Status header")
)

// cgiHeader is a parsed script header block (RFC 3875 §6.3).
type cgiHeader struct {
	status   int    // 0 when the script sent no Status
	location string // "" when the script sent no Location
	header   http.Header
}

// hopByHop are header fields a script may not set: the server frames the body itself and owns
// the connection (CVE-2024-24795: a script's Content-Length or Transfer-Encoding is not trusted).
var hopByHop = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Upgrade": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
}

// parseCGIHeader parses a header block without its terminating blank line. Lines may end in
// LF or CRLF.
func parseCGIHeader(block []byte) (*cgiHeader, error) {
	if len(block) == 0 {
		return nil, errNoHeaders
	}
	h := &cgiHeader{header: make(http.Header)}
	for len(block) > 0 {
		line := block
		if i := bytes.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			block = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !isToken(name) {
			return nil, fmt.Errorf("%w: %q", errBadHeaderLine, truncate(line))
		}
		val := string(bytes.Trim(value, " \t"))
		if !validHeaderValue(val) {
			return nil, fmt.Errorf("%w: control character in %q", errBadHeaderLine, truncate(name))
		}
		key := http.CanonicalHeaderKey(string(name))
		switch key {
		case "Status":
			if h.status != 0 {
				return nil, fmt.Errorf("%w: sent twice", errBadStatus)
			}
			code, err := parseStatus(val)
			if err != nil {
				return nil, err
			}
			h.status = code
		case "Location":
			if h.location != "" {
				return nil, fmt.Errorf("%w: Location sent twice", errBadHeaderLine)
			}
			if val == "" {
				return nil, fmt.Errorf("%w: empty Location", errBadHeaderLine)
			}
			h.location = val
		default:
			if hopByHop[key] {
				continue
			}
			h.header.Add(key, val)
		}
	}
	return h, nil
}

// parseStatus reads "NNN" or "NNN reason". Go cannot send a custom reason phrase, so the
// reason is checked for sanity and then dropped. 1xx is refused: it cannot end a response.
func parseStatus(v string) (int, error) {
	codeStr, reason, _ := strings.Cut(v, " ")
	if len(codeStr) != 3 {
		return 0, fmt.Errorf("%w: %q", errBadStatus, truncate([]byte(v)))
	}
	code, err := strconv.Atoi(codeStr)
	if err != nil || code < 200 || code > 999 || codeStr[0] == '+' || codeStr[0] == '-' {
		return 0, fmt.Errorf("%w: %q", errBadStatus, truncate([]byte(v)))
	}
	_ = reason
	return code, nil
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func truncate(b []byte) string {
	const max = 80
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// headerEnd finds the blank line that ends the header block in buf and returns the index
// just past it, or -1. lineStart is where the current line began and scanned how far buf was
// already searched; both are updated so that no byte is scanned twice.
func headerEnd(buf []byte, lineStart, scanned *int) int {
	for {
		i := bytes.IndexByte(buf[*scanned:], '\n')
		if i < 0 {
			*scanned = len(buf)
			return -1
		}
		nl := *scanned + i
		line := buf[*lineStart:nl]
		*lineStart, *scanned = nl+1, nl+1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return nl + 1
		}
	}
}

// isLocalLocation reports whether loc is an abs-path ("/x", not "//host").
func isLocalLocation(loc string) bool {
	return strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//")
}

// bodyAllowed reports whether a response with this status may carry a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

// cgiResponseWriter receives a script's stdout: it gathers the header block, then either
// answers the client (status, headers, and the body streamed and flushed as it comes) or
// records a local redirect for the server to follow.
type cgiResponseWriter struct {
	w          http.ResponseWriter
	rc         *http.ResponseController
	discard    bool // HEAD, or a status without a body
	buf        []byte
	lineStart  int // where the header line being gathered began
	scanned    int // how much of buf was searched for line ends
	header     *cgiHeader
	err        error  // why the header block was refused
	redirect   string // local Location to re-dispatch
	wroteBody  int64
	headerSent bool
	wd         *watchdog // nil: no header or idle clock

	// Writes come from the script's output copy; flushes also from flushTimer.
	mu           sync.Mutex
	flushTimer   *time.Timer
	flushPending bool
	flushErr     error
	stopped      bool // the script is done: the handler owns w again
	flushDelay   time.Duration
}

// newCGIResponseWriter makes the writer for one script's output; a negative flushDelay
// flushes every write at once.
func newCGIResponseWriter(w http.ResponseWriter, head bool, flushDelay time.Duration) *cgiResponseWriter {
	return &cgiResponseWriter{w: w, rc: http.NewResponseController(w), discard: head, flushDelay: flushDelay}
}

func (c *cgiResponseWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.flushErr != nil:
		return 0, c.flushErr
	case c.err != nil:
		return 0, c.err
	case c.redirect != "":
		return len(p), nil // a local redirect's body is never shown
	case c.header != nil:
		return len(p), c.writeBody(p)
	}
	c.buf = append(c.buf, p...)
	end := headerEnd(c.buf, &c.lineStart, &c.scanned)
	if end < 0 {
		if len(c.buf) > maxHeaderBlock {
			c.err = errHeaderTooLong
			return 0, c.err
		}
		return len(p), nil
	}
	if end > maxHeaderBlock {
		c.err = errHeaderTooLong
		return 0, c.err
	}
	h, err := parseCGIHeader(bytes.TrimRight(c.buf[:end], "\r\n"))
	if err != nil {
		c.err = err
		return 0, err
	}
	c.header = h
	rest := c.buf[end:]
	c.buf = nil
	if h.status == 0 && isLocalLocation(h.location) {
		c.redirect = h.location
		return len(p), nil
	}
	c.sendHeader()
	if len(rest) > 0 && !c.discard {
		if err := c.writeBody(rest); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	// The client should see the status as soon as the script decided it, not with the body.
	c.scheduleFlush()
	return len(p), nil
}

// scheduleFlush arranges a flush flushDelay from now unless one is already due. c.mu is held.
func (c *cgiResponseWriter) scheduleFlush() {
	if c.flushPending || c.stopped {
		return
	}
	if c.flushDelay < 0 {
		if err := c.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			c.flushErr = err
		}
		return
	}
	c.flushPending = true
	if c.flushTimer == nil {
		c.flushTimer = time.AfterFunc(c.flushDelay, c.timedFlush)
	} else {
		c.flushTimer.Reset(c.flushDelay)
	}
}

func (c *cgiResponseWriter) timedFlush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushPending = false
	if c.stopped {
		return
	}
	if err := c.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		c.flushErr = err // the next write fails with it, which stops the script
	}
}

// refuse makes every later Write fail with err, unless the response has begun: then only
// stopping the script (the caller's part) can end it.
func (c *cgiResponseWriter) refuse(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.headerSent && c.err == nil {
		c.err = err
	}
}

// stopFlushing is called once the script is done, before the handler writes anything else:
// no timed flush runs after it returns.
func (c *cgiResponseWriter) stopFlushing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.flushTimer != nil {
		c.flushTimer.Stop()
	}
}

// sendHeader writes the status line and headers: Status if given, else 302 with a Location,
// else 200.
func (c *cgiResponseWriter) sendHeader() {
	h := c.header
	dst := c.w.Header()
	for k, v := range h.header {
		dst[k] = v
	}
	if h.header.Get("Content-Type") == "" {
		dst["Content-Type"] = nil // never sniff a script's output into a type it did not claim
	}
	status := h.status
	if h.location != "" {
		dst.Set("Location", h.location)
		if status == 0 {
			status = http.StatusFound
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	if !bodyAllowed(status) {
		c.discard = true
	}
	c.w.WriteHeader(status)
	c.headerSent = true
	if c.wd != nil {
		c.wd.headerSent()
	}
}

func (c *cgiResponseWriter) writeBody(p []byte) error {
	if c.wd != nil {
		c.wd.output()
	}
	if c.discard {
		return nil
	}
	n, err := c.w.Write(p)
	c.wroteBody += int64(n)
	if err != nil {
		return err
	}
	c.scheduleFlush()
	return nil
}

// finish reports why no response could be made from the output, after the script ended.
func (c *cgiResponseWriter) finish() error {
	switch {
	case c.err != nil:
		return c.err
	case c.header != nil:
		return nil
	case len(c.buf) == 0:
		return errNoOutput
	default:
		return errNoHeaderEnd
	}
}
