package executor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// workerConn is the server's side of one worker's channel: it sends requests and routes
// what the worker sends back to the runs that wait for it.
type workerConn struct {
	proc   *workerProc
	out    *recordWriter
	logger hclog.Logger
	born   time.Time
	dead   chan struct{} // closed once the worker is gone; deathErr is then set
	// deathErr says why the worker is gone: its exit and the start of its stderr.
	deathErr error

	mu       sync.Mutex
	reqs     map[uint16]*workerReq
	nextID   uint16
	failOnce sync.Once
	failErr  error // the first reason the server gave up on the worker
}

func newWorkerConn(proc *workerProc, logger hclog.Logger) *workerConn {
	return &workerConn{proc: proc, out: newRecordWriter(proc.channel), logger: logger, born: time.Now(),
		dead: make(chan struct{}), reqs: make(map[uint16]*workerReq)}
}

// workerReq is one run in flight on a channel. The reader appends what the worker sends;
// the run takes it. The worker may have at most outputWindow bytes in flight per run, so
// the server holds no more than that for a run whose client is slow.
type workerReq struct {
	id       uint16
	notify   chan struct{} // a token when there is something to take
	finished chan struct{} // closed when Run returns: the body copy stops

	mu      sync.Mutex
	chunks  []workerChunk
	pending int // output bytes received and not yet consumed
	end     *workerEvent
}

type workerChunk struct {
	stderr bool
	data   []byte
	buf    *[]byte // data's buffer, from chunkBuffers, to which the run gives it back
}

// chunkBuffers hold output records from the channel's reader to the run.
var chunkBuffers = sync.Pool{New: func() any { b := make([]byte, recordBufferSize); return &b }}

// begin allocates a request id and sends the request's BEGIN_REQUEST and PARAMS.
func (c *workerConn) begin(inv *Invocation) (*workerReq, error) {
	req := &workerReq{notify: make(chan struct{}, 1), finished: make(chan struct{})}
	c.mu.Lock()
	select {
	case <-c.dead:
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrWorkerDied, c.deathErr)
	default:
	}
	for len(c.reqs) < 65535 {
		if c.nextID++; c.nextID == 0 {
			c.nextID = 1
		}
		if c.reqs[c.nextID] == nil {
			req.id = c.nextID
			c.reqs[req.id] = req
			break
		}
	}
	c.mu.Unlock()
	if req.id == 0 {
		return nil, errors.New("too many runs in flight on the worker's channel")
	}
	params := appendParam(nil, paramPath, inv.Path)
	if inv.File != nil && inv.Info != nil {
		// The worker opens the script by its name: it runs it only if that name still leads
		// to the file the server checked.
		params = appendParam(params, paramIdentity, checkedIdentity(inv.File, inv.Info))
	}
	for _, a := range inv.Args {
		params = appendParam(params, paramArg, a)
	}
	for _, kv := range inv.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			params = appendParam(params, k, v)
		}
	}
	// One write for the whole request when it has no body: every write wakes the worker.
	records := appendRecords(nil, fcgiBeginRequest, req.id, []byte{0, fcgiResponder, fcgiKeepConn, 0, 0, 0, 0, 0})
	records = appendRecords(records, fcgiParams, req.id, params)
	records = appendRecords(records, fcgiParams, req.id, nil)
	if inv.Stdin == nil {
		records = appendRecords(records, fcgiStdin, req.id, nil)
	}
	if err := c.out.writeRaw(records); err != nil {
		c.end(req)
		c.fail(fmt.Errorf("write to the channel: %w", err))
		return nil, fmt.Errorf("%w: %w", ErrWorkerDied, err)
	}
	return req, nil
}

// end forgets req: from now on a record for its id breaks the protocol.
func (c *workerConn) end(req *workerReq) {
	c.mu.Lock()
	delete(c.reqs, req.id)
	c.mu.Unlock()
}

// sendStdin copies body to the worker as STDIN records until it ends or the run does. The
// returned channel is closed when the copy has stopped.
func (c *workerConn) sendStdin(req *workerReq, body io.Reader) <-chan struct{} {
	done := make(chan struct{})
	if body == nil { // begin sent its end
		close(done)
		return done
	}
	go func() {
		defer close(done)
		bp := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(bp)
		buf := *bp
		for {
			n, err := body.Read(buf)
			select {
			case <-req.finished:
				return
			default:
			}
			if n > 0 {
				if c.out.write(fcgiStdin, req.id, buf[:n]) != nil {
					return
				}
			}
			if err != nil {
				// The end of the body, or a failed read: either way the script sees its end.
				_ = c.out.write(fcgiStdin, req.id, nil)
				return
			}
		}
	}()
	return done
}

// take moves the received output into chunks and reports the END_REQUEST once it came.
func (r *workerReq) take(chunks []workerChunk) ([]workerChunk, *workerEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	chunks = append(chunks, r.chunks...)
	clear(r.chunks)
	r.chunks = r.chunks[:0]
	return chunks, r.end
}

// consumed releases n bytes of the run's window on the server's side.
func (r *workerReq) consumed(n int) {
	r.mu.Lock()
	r.pending -= n
	r.mu.Unlock()
}

// deliver hands one checked record to its run; kept reports that the run now owns buf,
// which holds ev's content.
func (r *workerReq) deliver(ev workerEvent, buf *[]byte) (kept bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.end != nil {
		return false, fmt.Errorf("%w: record type %d after the end of request %d", errProtocol, ev.typ, r.id)
	}
	if ev.typ == fcgiEndRequest {
		r.end = &ev
	} else if len(ev.data) > 0 {
		if r.pending += len(ev.data); r.pending > outputWindow {
			return false, fmt.Errorf("%w: request %d sent more than its window", errProtocol, r.id)
		}
		r.chunks = append(r.chunks, workerChunk{stderr: ev.typ == fcgiStderr, data: ev.data, buf: buf})
		kept = true
	}
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return kept, nil
}

// serve reads the worker's records until the channel ends, then waits for the worker to
// exit and records why it died in deathErr. Its caller closes dead.
func (c *workerConn) serve() {
	var stderrTail bytes.Buffer
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		// Keep the start, where a Go crash says what happened; drain the rest.
		_, _ = io.Copy(&limitedBuffer{b: &stderrTail, max: 2048}, c.proc.stderr)
	}()
	rr := newRecordReader(c.proc.channel)
	var readErr error
	buf := chunkBuffers.Get().(*[]byte)
	for {
		rec, err := rr.readInto(*buf)
		if err != nil {
			readErr = err
			break
		}
		ev, err := decodeWorkerRecord(rec)
		if err == nil {
			c.mu.Lock()
			req := c.reqs[ev.id]
			c.mu.Unlock()
			if req == nil {
				err = fmt.Errorf("%w: record type %d for request %d, which is not in flight", errProtocol, ev.typ, ev.id)
			} else if kept, derr := req.deliver(ev, buf); derr != nil {
				err = derr
			} else if kept {
				buf = chunkBuffers.Get().(*[]byte)
			}
		}
		if err != nil {
			readErr = err
			break
		}
	}
	if !errors.Is(readErr, io.EOF) {
		c.fail(readErr)
	}
	// A worker whose channel ended is dying or has died; make sure of it.
	c.fail(errors.New("its channel ended"))
	exit := c.proc.wait()
	<-stderrDone
	_ = c.proc.stderr.Close()
	_ = c.proc.channel.Close()
	reason := exit
	c.mu.Lock()
	if c.failErr != nil && !strings.HasPrefix(c.failErr.Error(), "its channel ended") {
		reason = c.failErr.Error() + " (" + exit + ")"
	}
	c.mu.Unlock()
	if s := strings.TrimSpace(stderrTail.String()); s != "" {
		first, _, _ := strings.Cut(s, "\n")
		reason += ": " + first
		c.logger.Debug("interpreter worker stderr", "pid", c.proc.pid, "stderr", s)
	}
	c.deathErr = errors.New(reason)
}

// fail gives up on the worker: it is killed, and every run in flight fails. The first
// reason is the one reported.
func (c *workerConn) fail(reason error) {
	c.failOnce.Do(func() {
		c.mu.Lock()
		c.failErr = reason
		c.mu.Unlock()
		c.proc.kill()
	})
}

// limitedBuffer keeps the first max bytes written to it and discards the rest.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
