package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// FrontConfig bounds the clients that a Front listener serves itself, as the http.Server
// fields of the same names bound the rest. Zero values mean net/http's defaults: no header
// or idle deadline, and http.DefaultMaxHeaderBytes.
type FrontConfig struct {
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
}

// Front returns a listener for an http.Server serving s, which answers the simplest requests
// for hot static files itself, below net/http: a keep-alive GET or HEAD of a hot path with no
// body, no conditional or Range header and nothing else that could change the answer. Such a
// request costs net/http about twice what writing the file costs, so a client fetching hot
// files is served at about twice the rate.
//
// Every accepted connection starts here. At its first request that is not that simple (or
// not for a hot file), the connection is handed to the http.Server through Accept with every
// byte read so far, to be read again from the start of that request, and net/http serves it
// from then on. So net/http parses, and answers, or refuses, everything but the requests
// recognized here, and those get the same answer that net/http would send. Where no
// file is ever hot (no change notification), ln is returned as it is.
//
// Close closes ln and the connections still served here, once their answer in progress
// is written (it waits a second at most for that).
func (s *Server) Front(ln net.Listener, cfg FrontConfig) net.Listener {
	if !hotFilesSupported {
		return ln
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	f := &frontListener{
		Listener: ln,
		s:        s,
		cfg:      cfg,
		handoff:  make(chan accepted),
		done:     make(chan struct{}),
		conns:    make(map[net.Conn]struct{}),
	}
	f.wg.Add(1)
	go f.acceptLoop()
	return f
}

// frontBufSize is the most of a request that the front reads before it hands the connection
// to net/http: requests with more header than that are not the simple ones.
const frontBufSize = 4 << 10

// frontCloseWait bounds how long Close waits for an answer being written.
const frontCloseWait = time.Second

// frontWriteTimeout bounds the writing of an answer when there is no IdleTimeout to.
const frontWriteTimeout = time.Minute

type frontListener struct {
	net.Listener
	s       *Server
	cfg     FrontConfig
	handoff chan accepted // connections for net/http, and the inner listener's errors
	done    chan struct{} // closed by Close
	date    atomic.Pointer[dateStamp]

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // connections served here now
	closed bool
	wg     sync.WaitGroup // acceptLoop and every serveConn
}

type accepted struct {
	c   net.Conn
	err error
}

var errFrontClosed = errors.New("listener closed")

// Accept returns the next connection for net/http to serve.
func (f *frontListener) Accept() (net.Conn, error) {
	select {
	case a := <-f.handoff:
		return a.c, a.err
	case <-f.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: f.Addr(), Err: errFrontClosed}
	}
}

// Close stops accepting, wakes the connections waiting here for a request and closes them,
// and returns once every connection served here is closed or handed on.
func (f *frontListener) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.done)
	err := f.Listener.Close()
	for c := range f.conns {
		_ = c.SetReadDeadline(time.Unix(1, 0))
		// An answer is small and usually already in the socket's buffer; only a client
		// that stopped reading could keep Close (and a graceful shutdown) waiting.
		_ = c.SetWriteDeadline(time.Now().Add(frontCloseWait))
	}
	f.mu.Unlock()
	f.wg.Wait()
	return err
}

func (f *frontListener) acceptLoop() {
	defer f.wg.Done()
	for {
		c, err := f.Listener.Accept()
		if err != nil {
			// http.Server retries temporary errors and returns on the others.
			select {
			case f.handoff <- accepted{err: err}:
				continue
			case <-f.done:
				return
			}
		}
		if !f.track(c) {
			_ = c.Close()
			return
		}
		go f.serveConn(c)
	}
}

// closing reports whether Close was called.
func (f *frontListener) closing() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// track records c as served here; false once the listener is closed.
func (f *frontListener) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	f.wg.Add(1)
	return true
}

func (f *frontListener) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	f.wg.Done()
}

// serveConn answers c's requests while they are simple hot hits, then hands c on, or closes it
// when the client does, a deadline passes or the listener is closed.
func (f *frontListener) serveConn(c net.Conn) {
	defer f.untrack(c)
	fc := frontConn{c: c, buf: make([]byte, 0, frontBufSize)}
	// The first request must come within the header timeout, as net/http has it.
	setReadDeadline(c, time.Now(), f.cfg.ReadHeaderTimeout)
	waiting := false  // for a next request, under the idle deadline
	answered := false // a request on c
	for {
		end := bytes.Index(fc.buf, requestEnd)
		if end < 0 {
			// net/http takes lines that end in a bare LF too; so do not wait for CRLF CRLF.
			if len(fc.buf) == cap(fc.buf) || len(fc.buf) > f.cfg.MaxHeaderBytes || hasBareLF(fc.buf) {
				f.handOn(&fc)
				return
			}
			if waiting && len(fc.buf) > 0 {
				// The next request began: from here it has the header timeout.
				waiting = false
				setReadDeadline(c, time.Now(), f.cfg.ReadHeaderTimeout)
			}
			n, err := c.Read(fc.buf[len(fc.buf):cap(fc.buf)])
			fc.buf = fc.buf[:len(fc.buf)+n]
			// net/http answers a request cut short with 400, but for a later request on the
			// connection only once it has 4 bytes of it (it waits for those under the idle
			// deadline).
			if errors.Is(err, io.EOF) && (len(fc.buf) >= 4 || !answered && len(fc.buf) > 0) {
				f.handOn(&fc)
				return
			}
			if err != nil {
				// The client left, or kept a deadline waiting: net/http closes such a
				// connection without an answer too.
				_ = c.Close()
				return
			}
			continue
		}
		end += len(requestEnd)
		if end > f.cfg.MaxHeaderBytes {
			f.handOn(&fc)
			return
		}
		now := time.Now()
		head, ok := parseSimpleRequest(fc.buf[:end])
		var file *cachedFile
		if ok {
			file = f.s.hot.lookup(head.target, now)
			if file == nil && f.s.hot.known(head.target) {
				file = f.s.recheckHot(head.target, now)
			}
		}
		if file == nil {
			f.handOn(&fc)
			return
		}
		if f.closing() {
			_ = c.Close()
			return
		}
		if !f.answer(&fc, head, file, now) {
			_ = c.Close()
			return
		}
		answered = true
		fc.buf = fc.buf[:copy(fc.buf, fc.buf[end:])]
		if f.closing() {
			_ = c.Close()
			return
		}
		if len(fc.buf) == 0 {
			waiting = true
			setReadDeadline(c, now, f.cfg.IdleTimeout)
		} else {
			setReadDeadline(c, now, f.cfg.ReadHeaderTimeout) // a pipelined request
		}
	}
}

var requestEnd = []byte("\r\n\r\n")

// hasBareLF reports whether b has a line feed that no carriage return comes before.
func hasBareLF(b []byte) bool {
	for i := bytes.IndexByte(b, '\n'); i >= 0; {
		if i == 0 || b[i-1] != '\r' {
			return true
		}
		j := bytes.IndexByte(b[i+1:], '\n')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// setReadDeadline sets c's read deadline d after now; none for d <= 0, as net/http has it.
func setReadDeadline(c net.Conn, now time.Time, d time.Duration) {
	var t time.Time
	if d > 0 {
		t = now.Add(d)
	}
	_ = c.SetReadDeadline(t)
}

// frontConn is one connection's state while the front serves it.
type frontConn struct {
	c      net.Conn
	buf    []byte // read and not yet answered
	remote string // c's remote address, once the access log has needed it
	head   []byte // the response header being written
	out    net.Buffers
	parts  [2][]byte
}

// handOn gives fc's connection to net/http, to be read from the unanswered request on.
func (f *frontListener) handOn(fc *frontConn) {
	_ = fc.c.SetDeadline(time.Time{}) // net/http sets its own
	c := handedConn(fc.c, fc.buf)
	select {
	case f.handoff <- accepted{c: c}:
	case <-f.done:
		_ = fc.c.Close()
	}
}

// answer writes file's whole answer to a request that parseSimpleRequest recognized, with
// the headers that cachedFile.serveWhole sets through net/http, and logs it.
func (f *frontListener) answer(fc *frontConn, head simpleRequest, file *cachedFile, now time.Time) bool {
	s := f.s
	id := s.reqID.Add(1)
	s.count.requests.Add(1)
	fc.head = append(fc.head[:0], file.wireHeader...)
	fc.head = append(fc.head, "Date: "...)
	fc.head = append(fc.head, f.httpDate(now)...)
	fc.head = append(fc.head, "\r\n\r\n"...)
	fc.parts[0] = fc.head
	fc.out = fc.parts[:1]
	var body int64
	if !head.head {
		fc.parts[1] = file.content
		fc.out = fc.parts[:2]
		body = int64(len(file.content))
	}
	// A client that reads nothing must not hold the connection, or Close, forever.
	d := f.cfg.IdleTimeout
	if d <= 0 {
		d = frontWriteTimeout
	}
	_ = fc.c.SetWriteDeadline(now.Add(d))
	_, err := fc.out.WriteTo(fc.c)
	fc.parts = [2][]byte{}
	if s.access.IsInfo() {
		if fc.remote == "" {
			fc.remote = fc.c.RemoteAddr().String()
		}
		method := http.MethodGet
		if head.head {
			method = http.MethodHead
		}
		s.logAccessLine(fc.remote, method, head.target, "HTTP/1.1", http.StatusOK, body, id, now, err != nil)
	}
	return err == nil
}

// dateStamp is the Date header's value for one second.
type dateStamp struct {
	unix int64
	text []byte
}

func (f *frontListener) httpDate(now time.Time) []byte {
	sec := now.Unix()
	if d := f.date.Load(); d != nil && d.unix == sec {
		return d.text
	}
	d := &dateStamp{unix: sec, text: now.UTC().AppendFormat(nil, http.TimeFormat)}
	f.date.Store(d)
	return d.text
}

// simpleRequest is what the front needs of a request it answers itself.
type simpleRequest struct {
	target string
	head   bool // HEAD, not GET
}

// parseSimpleRequest recognizes an HTTP/1.1 GET or HEAD request (its header block, CRLF
// CRLF included) whose answer can only be a static file's: an origin-form target without
// percent-encoding, query or fragment (so it is its own URL path), one valid Host, and no
// header that asks for a body, a condition, a range, a protocol change or a close. Anything
// else, valid or not, is left to net/http: ok false.
func parseSimpleRequest(b []byte) (req simpleRequest, ok bool) {
	switch {
	case bytes.HasPrefix(b, []byte("GET /")):
		b = b[len("GET "):]
	case bytes.HasPrefix(b, []byte("HEAD /")):
		b, req.head = b[len("HEAD "):], true
	default:
		return req, false
	}
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 {
		return req, false
	}
	for _, c := range b[:sp] {
		if !pathByte[c] {
			return req, false
		}
	}
	target := b[:sp]
	b = b[sp:]
	if !bytes.HasPrefix(b, []byte(" HTTP/1.1\r\n")) {
		return req, false
	}
	b = b[len(" HTTP/1.1\r\n"):]
	hosts := 0
	for {
		eol := bytes.Index(b, []byte("\r\n"))
		if eol < 0 {
			return req, false
		}
		line := b[:eol]
		b = b[eol+2:]
		if len(line) == 0 {
			break // the blank line that ends the header block
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return req, false
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		for _, c := range name {
			if !tokenByte[c] {
				return req, false
			}
		}
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return req, false
			}
		}
		switch {
		case bytes.EqualFold(name, []byte("Host")):
			hosts++
			if len(value) == 0 {
				return req, false
			}
			for _, c := range value {
				if !hostByte[c] {
					return req, false
				}
			}
		case bytes.EqualFold(name, []byte("Connection")):
			if !bytes.EqualFold(value, []byte("keep-alive")) {
				return req, false
			}
		case answerChanging(name):
			return req, false
		}
	}
	if hosts != 1 || len(b) != 0 {
		return req, false
	}
	req.target = string(target)
	return req, true
}

// answerChanging reports whether a request header named name (not empty) could make the
// answer anything but the file's whole 200, or bring a body.
func answerChanging(name []byte) bool {
	is := func(n string) bool { return bytes.EqualFold(name, []byte(n)) }
	switch name[0] | 0x20 { // lower case, for a letter
	case 'i':
		return len(name) > 3 && bytes.EqualFold(name[:3], []byte("If-"))
	case 'r':
		return is("Range")
	case 'c':
		return is("Content-Length") || is("Content-Type") || is("Content-Encoding")
	case 't':
		return is("Transfer-Encoding") || is("TE") || is("Trailer")
	case 'e':
		return is("Expect")
	case 'u':
		return is("Upgrade")
	}
	return false
}

var (
	// pathByte: what a target may hold to be its own URL path, unescaped: RFC 3986's
	// unreserved and sub-delims, ':', '@' and '/'. Not '%', '?' or '#'.
	pathByte = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/")
	// tokenByte: RFC 9110's tchar, what a header name is made of.
	tokenByte = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~")
	// hostByte: a host name, an IPv4 or bracketed IPv6 address, and a port.
	hostByte = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._:[]")
)

func byteSet(s string) (set [256]bool) {
	for i := 0; i < len(s); i++ {
		set[s[i]] = true
	}
	return set
}

// handedConn returns c, which has already been read from, reading pending first.
func handedConn(c net.Conn, pending []byte) net.Conn {
	if tc, ok := c.(*net.TCPConn); ok {
		// Keep the TCP connection's methods, ReadFrom above all: net/http sends files and
		// script output with it (sendfile, splice).
		return &handedTCPConn{TCPConn: tc, pending: pending}
	}
	return &handedAnyConn{Conn: c, pending: pending}
}

// pendingBytes are what was read from a connection before it was handed on.
type pendingBytes []byte

// read reads from b, or from r once b is empty.
func (b *pendingBytes) read(p []byte, r io.Reader) (int, error) {
	if len(*b) == 0 {
		return r.Read(p)
	}
	n := copy(p, *b)
	*b = (*b)[n:]
	return n, nil
}

type handedTCPConn struct {
	*net.TCPConn
	pending pendingBytes
}

func (c *handedTCPConn) Read(p []byte) (int, error) { return c.pending.read(p, c.TCPConn) }

// WriteTo must not skip the pending bytes, as the TCP connection's own would.
func (c *handedTCPConn) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if len(c.pending) > 0 {
		m, err := w.Write(c.pending)
		n += int64(m)
		c.pending = c.pending[m:]
		if err != nil {
			return n, err
		}
	}
	m, err := c.TCPConn.WriteTo(w)
	return n + m, err
}

type handedAnyConn struct {
	net.Conn
	pending pendingBytes
}

func (c *handedAnyConn) Read(p []byte) (int, error) { return c.pending.read(p, c.Conn) }
