package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// spoolMemory is how much of a length-less request body is kept in memory before spooling
// to a temporary file.
const spoolMemory = 1 << 20

const (
	// lingerBytes and lingerTime bound how much of a refused body is read and dropped so
	// that the refusal reaches the client: Go's server resets a connection that still has
	// more than 256 KiB unread, and the client may then never see the response.
	lingerBytes = 8 << 20
	lingerTime  = 5 * time.Second
)

var (
	errBodyTooLarge = errors.New("request body too large")
	// errSpoolFailed is the server's own failure to store a body (no writable temp
	// directory, a full disk): not the client's fault.
	errSpoolFailed = errors.New("spool body")
	errBodyTimeout = errors.New("request body stalled")
	errSpoolFull   = errors.New("request body spool budget exhausted")
)

// requestBody returns the script's stdin and CONTENT_LENGTH (-1: no body). A body of known
// length streams straight through; a length-less one (chunked, or any body of an nph script,
// which must be read before the connection is taken over) is spooled, bounded. Either way
// its reads are held to the body deadline; body, when not nil, is the stdin of a streamed
// body, whose stalls the caller may want to hear of.
func (s *Server) requestBody(w http.ResponseWriter, r *http.Request, spoolAlways bool) (stdin io.Reader, length int64, body *deadlineBody, cleanup func(), err error) {
	noop := func() {}
	hasLength := r.Header.Get("Content-Length") != ""
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, -1, nil, noop, errBodyTooLarge
	}
	if r.Body == nil || r.Body == http.NoBody || (r.ContentLength == 0 && hasLength) {
		if hasLength {
			return nil, 0, nil, noop, nil
		}
		return nil, -1, nil, noop, nil
	}
	body = s.newDeadlineBody(w, r.Body)
	if r.ContentLength > 0 && !spoolAlways {
		return body, r.ContentLength, body, noop, nil
	}
	stdin, length, cleanup, err = s.spoolBody(body)
	body.stopClock()
	return stdin, length, nil, cleanup, err
}

// deadlineBody is a request body held to a deadline in the manner of Apache's mod_reqtimeout
// (body=T,MinRate=R): each read must bring data within T, and the whole body must have
// arrived by its start + T + received/R, so a client that trickles slower than R falls behind
// and is cut off. That bounds what a slow client holds: a spool's memory, a script slot.
// Its Close abandons a Read that blocks on a client that stopped sending.
type deadlineBody struct {
	body    io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	minRate int64 // bytes a second; 0: none
	start   time.Time
	n       int64
	closed  atomic.Bool
	stalled atomic.Bool
	onStall atomic.Pointer[func()] // called once, from the reading goroutine, on a stall
}

func (s *Server) newDeadlineBody(w http.ResponseWriter, body io.ReadCloser) *deadlineBody {
	return &deadlineBody{body: body, rc: http.NewResponseController(w), timeout: s.cfg.BodyTimeout,
		minRate: max(s.cfg.BodyMinRate, 0), start: time.Now()}
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, os.ErrClosed
	}
	deadline := time.Now().Add(b.timeout)
	if b.minRate > 0 {
		credit := time.Duration(b.n/b.minRate)*time.Second + time.Duration(b.n%b.minRate)*time.Second/time.Duration(b.minRate)
		if byRate := b.start.Add(b.timeout + credit); byRate.Before(deadline) {
			deadline = byRate
		}
	}
	_ = b.rc.SetReadDeadline(deadline) // ErrNotSupported: a test's recorder, no connection
	n, err := b.body.Read(p)
	b.n += int64(n)
	var ne net.Error
	if err != nil && !b.closed.Load() && (errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()) {
		if b.stalled.CompareAndSwap(false, true) {
			if f := b.onStall.Load(); f != nil {
				(*f)()
			}
		}
		return n, fmt.Errorf("%w after %d bytes: %w", errBodyTimeout, b.n, err)
	}
	return n, err
}

// Close abandons a blocked Read by moving the connection's read deadline into the past.
func (b *deadlineBody) Close() error {
	b.closed.Store(true)
	return b.rc.SetReadDeadline(time.Now())
}

// stopClock lifts the deadline once the body has been read whole (spooled): the connection
// is then the server's again.
func (b *deadlineBody) stopClock() { _ = b.rc.SetReadDeadline(time.Time{}) }

// spoolBudget bounds the bytes that all spooled bodies hold at once, in memory and in temp files.
type spoolBudget struct {
	used  atomic.Int64
	limit int64
}

// take reports whether n more bytes fit; if so they are held until give.
func (b *spoolBudget) take(n int64) bool {
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *spoolBudget) give(n int64) { b.used.Add(-n) }

// budgetReader reads from r, holding each byte read against the budget.
type budgetReader struct {
	r      io.Reader
	budget *spoolBudget
	held   int64
}

func (br *budgetReader) Read(p []byte) (int, error) {
	n, err := br.r.Read(p)
	if n > 0 {
		if !br.budget.take(int64(n)) {
			return 0, errSpoolFull
		}
		br.held += int64(n)
	}
	return n, err
}

// spoolBody reads body whole: up to spoolMemory in memory, the rest in a temporary file that
// is removed by the returned cleanup, which also gives back what the spool took of the budget.
func (s *Server) spoolBody(body io.Reader) (io.Reader, int64, func(), error) {
	limit := s.cfg.MaxBodyBytes
	br := &budgetReader{r: body, budget: &s.spool}
	release := func() { s.spool.give(br.held) }
	var mem bytes.Buffer
	n, err := io.Copy(&mem, io.LimitReader(br, min(limit, spoolMemory)+1))
	if err != nil {
		release()
		return nil, -1, func() {}, fmt.Errorf("read body: %w", err)
	}
	if n <= spoolMemory {
		if n > limit {
			release()
			return nil, -1, func() {}, errBodyTooLarge
		}
		return bytes.NewReader(mem.Bytes()), n, release, nil
	}
	f, err := os.CreateTemp("", "cgihttpd-body-*")
	if err != nil {
		release()
		return nil, -1, func() {}, fmt.Errorf("%w: %w", errSpoolFailed, err)
	}
	cleanup := func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
		release()
	}
	total, err := io.Copy(f, io.MultiReader(&mem, io.LimitReader(br, limit+1-n)))
	if err == nil && total > limit {
		err = errBodyTooLarge
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		if !errors.Is(err, errBodyTooLarge) && !errors.Is(err, errSpoolFull) && !errors.Is(err, errBodyTimeout) {
			err = fmt.Errorf("%w: %w", errSpoolFailed, err)
		}
		return nil, -1, func() {}, err
	}
	return f, total, cleanup, nil
}

// writeSpoolFull answers 503 to a body that did not fit the spool budget, with a Retry-After
// of the queue timeout, at least a second, and lingers so that the answer arrives.
func (s *Server) writeSpoolFull(w http.ResponseWriter, r *http.Request) {
	s.count.overloaded.Add(1)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(s.cfg.QueueTimeout.Round(time.Second)/time.Second))))
	refuseBody(w, r, http.StatusServiceUnavailable, "Too many request bodies are being received; try again shortly")
}

// writeBodyTimeout answers 408 to a client whose body stalled, and closes the connection.
func writeBodyTimeout(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusRequestTimeout, "The request body did not arrive in time")
}

// refuseBody answers a request whose body will not be read, then reads and drops some of the
// body (bounded in bytes and time) so that the answer reaches the client, and closes.
func refuseBody(w http.ResponseWriter, r *http.Request, code int, msg string) {
	w.Header().Set("Connection", "close")
	writeError(w, code, msg)
	if r.Header.Get("Expect") != "" {
		return // the client waits for 100 Continue, which reading would send: nothing to drain
	}
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	_ = rc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, r.Body, lingerBytes)
}
