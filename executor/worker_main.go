package executor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// workerArg is argv[1] of this binary re-run as an interpreter worker.
const workerArg = "__cgihttpd-inproc-worker"

// RunWorkerIfRequested must be called first in main, and in TestMain of tests whose binary
// runs in-process scripts (it is the worker's program, see InProcessConfig.WorkerPath).
// When this process was started as an interpreter worker it serves its channel until the
// server closes it and exits, never returning; otherwise it returns at once.
func RunWorkerIfRequested() {
	if len(os.Args) > 1 && os.Args[1] == workerArg {
		os.Exit(runWorker(os.Args[2:]))
	}
}

// runWorker is a worker's whole life.
func runWorker(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "cgihttpd worker: want ALLOW_GOROUTINES MAX_INTERPRETERS")
		return 2
	}
	allow, err1 := strconv.ParseBool(args[0])
	maxInterp, err2 := strconv.Atoi(args[1])
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintf(os.Stderr, "cgihttpd worker: %v\n", err)
		return 2
	}
	ch, err := workerChannel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cgihttpd worker: %v\n", err)
		return 2
	}
	e := newInProcessExecutor(InProcessConfig{AllowGoroutines: allow, MaxInterpreters: maxInterp}, hclog.NewNullLogger())
	e.onCaller = true
	serveChannel(ch, e)
	_ = e.Close()
	return 0
}

// serveChannel runs the requests that arrive on ch until it ends, then cancels those still
// running and waits for them.
func serveChannel(ch io.ReadWriter, e Executor) {
	w := &workerServer{e: e, out: newRecordWriter(ch), rr: newRecordReader(ch),
		runs: make(map[uint16]*workerRun), channelEnded: make(chan struct{})}
	w.read()
	<-w.channelEnded // the reader may have moved to another goroutine
	w.mu.Lock()
	for _, r := range w.runs {
		r.cancel()
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// workerServer is the worker's side of the channel.
type workerServer struct {
	e   Executor
	out *recordWriter
	rr  *recordReader // read by one goroutine at a time: the reader
	wg  sync.WaitGroup
	// channelEnded is closed by the reader that finds the channel at its end.
	channelEnded chan struct{}

	mu   sync.Mutex
	runs map[uint16]*workerRun
}

// inlineFor is how long the reader may run a request itself (see read) before another
// goroutine takes over reading the channel.
const inlineFor = time.Millisecond

// read is the reader: it acts on the server's records until the channel ends, or until it
// has handed reading over to another goroutine.
//
// A request whose records have all arrived (no body, or all of it) is run by the reader
// itself: starting a goroutine for it costs a scheduler wakeup, which is much of a small
// script's whole cost. While it runs, nobody reads the channel, so another goroutine takes
// over reading after inlineFor, or at once when the run waits for output credit. Those are
// the only records such a run can wait for; an abort waits at most inlineFor.
func (w *workerServer) read() {
	for {
		rec, err := w.rr.next()
		if err != nil {
			close(w.channelEnded)
			return
		}
		r, ok := w.handle(rec)
		if !ok {
			close(w.channelEnded)
			return
		}
		if r == nil {
			continue
		}
		if w.rr.nextIsEndOfStdin(r.id) {
			r.stdin.push(nil)
		}
		w.wg.Add(1)
		if !r.stdin.complete() {
			go w.run(r)
			continue
		}
		if !w.runInline(r) {
			return
		}
	}
}

// runInline runs r on the reader's goroutine and reports whether this goroutine is still
// the reader afterwards.
func (w *workerServer) runInline(r *workerRun) bool {
	var decided atomic.Bool // set by whichever comes first: the run's end, or a hand-over
	handOver := func() {
		if decided.CompareAndSwap(false, true) {
			w.read()
		}
	}
	t := time.AfterFunc(inlineFor, handOver)
	r.credit.onWait = func() {
		if decided.CompareAndSwap(false, true) {
			go w.read()
		}
	}
	w.run(r)
	t.Stop()
	return decided.CompareAndSwap(false, true)
}

// workerRun is one request in the worker.
type workerRun struct {
	id      uint16
	params  []byte
	started bool
	ctx     context.Context
	cancel  context.CancelFunc
	stdin   *inputBuffer
	credit  *outputCredit
}

// handle acts on one record from the server and returns the run that it made ready to
// start, if any; false ends the channel (the server never breaks the protocol, so a record
// that does is the end of trust in the stream).
func (w *workerServer) handle(rec record) (*workerRun, bool) {
	w.mu.Lock()
	r := w.runs[rec.id]
	w.mu.Unlock()
	if rec.typ == fcgiBeginRequest {
		if r != nil {
			return nil, false
		}
		ctx, cancel := context.WithCancel(context.Background())
		r = &workerRun{id: rec.id, ctx: ctx, cancel: cancel, stdin: newInputBuffer(), credit: newOutputCredit(ctx)}
		w.mu.Lock()
		w.runs[rec.id] = r
		w.mu.Unlock()
		return nil, true
	}
	if r == nil {
		// A request that ended here while the server still sent to it (its body, an
		// abort, credit): nothing to do.
		return nil, true
	}
	switch rec.typ {
	case fcgiParams:
		if r.started {
			return nil, false
		}
		if len(rec.content) > 0 {
			r.params = append(r.params, rec.content...)
			return nil, true
		}
		r.started = true
		return r, true
	case fcgiStdin:
		r.stdin.push(rec.content)
	case fcgiAbortRequest:
		r.cancel()
	case fcgiWindow:
		if len(rec.content) != 4 {
			return nil, false
		}
		r.credit.add(int(binary.BigEndian.Uint32(rec.content)))
	default:
		return nil, false
	}
	return nil, true
}

// run runs one request and sends its END_REQUEST; the caller has counted it in w.wg.
func (w *workerServer) run(r *workerRun) {
	defer w.wg.Done()
	defer func() {
		w.mu.Lock()
		delete(w.runs, r.id)
		w.mu.Unlock()
		r.credit.release()
		r.cancel()
		_ = r.stdin.Close()
	}()
	out := &runOutput{ch: w.out, id: r.id, credit: r.credit}
	inv := &Invocation{Stdin: r.stdin, Stdout: out.stream(fcgiStdout), Stderr: out.stream(fcgiStderr)}
	err := parseParams(r.params, func(name, value string) {
		switch name {
		case paramPath:
			inv.Path = value
		case paramArg:
			inv.Args = append(inv.Args, value)
		case paramIdentity:
			inv.checked = value
		default:
			inv.Env = append(inv.Env, name+"="+value)
		}
	})
	if err == nil {
		err = w.e.Run(r.ctx, inv)
	}
	var status int32
	var proto uint8
	var ee *ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		status = int32(ee.Code)
	case errors.Is(err, ErrRejected):
		proto = endRejected
	case errors.Is(err, ErrStart) && errors.Is(err, fs.ErrPermission):
		proto = endStartDenied
	case errors.Is(err, ErrStart):
		proto = endStartFailed
	default:
		proto = endFailed
	}
	msg := ""
	if proto != endComplete {
		// The server wraps the message in the sentinel again.
		msg = err.Error()
		for _, sentinel := range []error{ErrRejected, ErrStart} {
			msg = strings.Replace(msg, sentinel.Error()+": ", "", 1)
		}
	}
	_ = out.finish(appendRecords(nil, fcgiEndRequest, r.id, endRequestBody(status, proto, msg)))
}

// Names of the PARAMS that are not environment variables: no variable's name has a "=".
const (
	paramPath     = "=path"
	paramArg      = "=arg"
	paramIdentity = "=identity" // checkedIdentity of the script the server checked
)

// inputBuffer is a run's stdin as it arrives: the worker's reader never waits for a script
// to read, so one slow script cannot hold up the others' records. The server bounds a
// request body.
type inputBuffer struct {
	mu     sync.Mutex
	cond   *sync.Cond
	chunks [][]byte
	eof    bool // the server sent the end of the body, or the run ended
}

func newInputBuffer() *inputBuffer {
	b := &inputBuffer{}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// push appends a STDIN record's content; empty content is the end of the body.
func (b *inputBuffer) push(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.eof {
		return
	}
	if len(p) == 0 {
		b.eof = true
	} else {
		b.chunks = append(b.chunks, append([]byte(nil), p...))
	}
	b.cond.Broadcast()
}

// complete reports whether the whole body has arrived: reading it never waits.
func (b *inputBuffer) complete() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof
}

func (b *inputBuffer) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.chunks) == 0 {
		if b.eof {
			return 0, io.EOF
		}
		b.cond.Wait()
	}
	n := copy(p, b.chunks[0])
	if b.chunks[0] = b.chunks[0][n:]; len(b.chunks[0]) == 0 {
		b.chunks[0] = nil
		b.chunks = b.chunks[1:]
	}
	return n, nil
}

// Close ends the input and drops what was not read, waking a blocked Read.
func (b *inputBuffer) Close() error {
	b.mu.Lock()
	b.eof = true
	b.chunks = nil
	b.cond.Broadcast()
	b.mu.Unlock()
	return nil
}
