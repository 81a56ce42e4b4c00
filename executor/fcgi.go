package executor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The channel between the server and an interpreter worker carries FastCGI 1.0 records
// (https://fastcgi-archives.github.io/FastCGI_Specification.html, §3 and §5): the server
// sends BEGIN_REQUEST, PARAMS, STDIN and ABORT_REQUEST; the worker answers with STDOUT,
// STDERR and END_REQUEST. Two things are ours: the WINDOW record, with which the server
// grants a request more output (FastCGI leaves flow control to one connection per request,
// and one channel carries every request here), and an optional message after END_REQUEST's
// eight bytes of body, which says why a script did not run.
const (
	fcgiVersion = 1

	fcgiBeginRequest = 1
	fcgiAbortRequest = 2
	fcgiEndRequest   = 3
	fcgiParams       = 4
	fcgiStdin        = 5
	fcgiStdout       = 6
	fcgiStderr       = 7
	fcgiWindow       = 64 // content: a 4-byte count of output bytes the server consumed

	fcgiHeaderLen  = 8
	fcgiMaxContent = 65535
	fcgiResponder  = 1 // BEGIN_REQUEST role
	fcgiKeepConn   = 1 // BEGIN_REQUEST flags
)

// END_REQUEST protocol status: 0 is FastCGI's REQUEST_COMPLETE, with the script's exit code
// as the application status; the others are ours and carry a message.
const (
	endComplete    = 0
	endRejected    = 200 // ErrRejected
	endStartFailed = 201 // ErrStart
	endStartDenied = 202 // ErrStart for want of permission
	endFailed      = 203 // the run ended otherwise (cancelled, output failed)
)

// maxEndMessage bounds the message after an END_REQUEST body.
const maxEndMessage = 1024

// outputWindow is how many bytes of output a request may have in flight from the worker
// before the server acknowledges them; the server holds at most this much per request.
// outputChunk is the largest output record the worker sends, and ackEvery how much the
// server consumes before it acknowledges: less than outputWindow-outputChunk, so a worker
// waiting for credit always gets it.
const (
	outputWindow = 1 << 20
	outputChunk  = 63 << 10
	ackEvery     = 256 << 10
)

// errProtocol reports a record that breaks the channel's protocol.
var errProtocol = errors.New("worker protocol violation")

// record is one FastCGI record; content is valid until the next read.
type record struct {
	typ     uint8
	id      uint16
	content []byte
}

// recordReader reads records from a stream.
type recordReader struct {
	r   *bufio.Reader
	buf []byte
}

// recordBufferSize holds any record's content and padding.
const recordBufferSize = fcgiMaxContent + 255

// newRecordReader reads records from r, through a small buffer: small records come many to a
// read, and a large content is read straight where it goes.
func newRecordReader(r io.Reader) *recordReader {
	return &recordReader{r: bufio.NewReaderSize(r, 4096), buf: make([]byte, recordBufferSize)}
}

// next reads one record into the reader's own buffer. It returns io.EOF only at a record
// boundary.
func (rr *recordReader) next() (record, error) { return rr.readInto(rr.buf) }

// readInto reads one record whose content lands in buf, of length recordBufferSize.
func (rr *recordReader) readInto(buf []byte) (record, error) {
	var h [fcgiHeaderLen]byte
	if _, err := io.ReadFull(rr.r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return record{}, fmt.Errorf("%w: truncated header", errProtocol)
		}
		return record{}, err
	}
	if h[0] != fcgiVersion {
		return record{}, fmt.Errorf("%w: version %d", errProtocol, h[0])
	}
	n := int(binary.BigEndian.Uint16(h[4:6])) + int(h[6])
	if _, err := io.ReadFull(rr.r, buf[:n]); err != nil {
		return record{}, fmt.Errorf("%w: truncated record: %w", errProtocol, err)
	}
	return record{typ: h[1], id: binary.BigEndian.Uint16(h[2:4]), content: buf[:binary.BigEndian.Uint16(h[4:6])]}, nil
}

// nextIsEndOfStdin reports whether the next record, already read from the stream, is the
// end of request id's STDIN, and if so consumes it; it never waits for the stream.
func (rr *recordReader) nextIsEndOfStdin(id uint16) bool {
	if rr.r.Buffered() < fcgiHeaderLen {
		return false
	}
	h, err := rr.r.Peek(fcgiHeaderLen)
	if err != nil || h[0] != fcgiVersion || h[1] != fcgiStdin || binary.BigEndian.Uint16(h[2:4]) != id ||
		h[4] != 0 || h[5] != 0 || h[6] != 0 {
		return false
	}
	_, _ = rr.r.Discard(fcgiHeaderLen)
	return true
}

// recordWriter writes whole records to a stream shared by many goroutines.
type recordWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func newRecordWriter(w io.Writer) *recordWriter { return &recordWriter{w: w} }

// write sends content as records of type typ, split at fcgiMaxContent; empty content is one
// empty record (the end of a stream).
// A content this large is written after its header rather than copied behind it.
func (rw *recordWriter) write(typ uint8, id uint16, content []byte) error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	for first := true; first || len(content) > 0; first = false {
		chunk := content[:min(len(content), fcgiMaxContent)]
		content = content[len(chunk):]
		if len(chunk) < largeContent {
			rw.buf = appendRecords(rw.buf[:0], typ, id, chunk)
			if _, err := rw.w.Write(rw.buf); err != nil {
				return err
			}
			continue
		}
		rw.buf = appendRecords(rw.buf[:0], typ, id, nil)
		rw.buf[4], rw.buf[5] = byte(len(chunk)>>8), byte(len(chunk))
		if _, err := rw.w.Write(rw.buf); err != nil {
			return err
		}
		if _, err := rw.w.Write(chunk); err != nil {
			return err
		}
	}
	return nil
}

// largeContent is the size from which write saves a copy for a system call.
const largeContent = 16 << 10

// appendRecords appends content as records of type typ to b, as write sends them.
func appendRecords(b []byte, typ uint8, id uint16, content []byte) []byte {
	for first := true; first || len(content) > 0; first = false {
		chunk := content[:min(len(content), fcgiMaxContent)]
		content = content[len(chunk):]
		b = append(b, fcgiVersion, typ, byte(id>>8), byte(id), byte(len(chunk)>>8), byte(len(chunk)), 0, 0)
		b = append(b, chunk...)
	}
	return b
}

// writeRaw sends records made with appendRecords in one write.
func (rw *recordWriter) writeRaw(records []byte) error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	_, err := rw.w.Write(records)
	return err
}

// appendParam appends one FastCGI name-value pair (§3.4).
func appendParam(b []byte, name, value string) []byte {
	for _, n := range []int{len(name), len(value)} {
		if n < 128 {
			b = append(b, byte(n))
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(n)|1<<31)
		}
	}
	return append(append(b, name...), value...)
}

// parseParams decodes a PARAMS stream into pairs, calling f for each; the names and values
// share one string.
func parseParams(params []byte, f func(name, value string)) error {
	b := string(params)
	length := func() (int, error) {
		if len(b) == 0 {
			return 0, fmt.Errorf("%w: truncated params", errProtocol)
		}
		if b[0] < 128 {
			n := int(b[0])
			b = b[1:]
			return n, nil
		}
		if len(b) < 4 {
			return 0, fmt.Errorf("%w: truncated params", errProtocol)
		}
		n := int(b[0]&0x7f)<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		b = b[4:]
		return n, nil
	}
	for len(b) > 0 {
		nl, err := length()
		if err != nil {
			return err
		}
		vl, err := length()
		if err != nil {
			return err
		}
		if nl > len(b) || vl > len(b)-nl {
			return fmt.Errorf("%w: truncated params", errProtocol)
		}
		f(b[:nl], b[nl:nl+vl])
		b = b[nl+vl:]
	}
	return nil
}

// endRequestBody is an END_REQUEST's content.
func endRequestBody(appStatus int32, protocolStatus uint8, msg string) []byte {
	if len(msg) > maxEndMessage {
		msg = msg[:maxEndMessage]
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(appStatus))
	b = append(b, protocolStatus, 0, 0, 0)
	return append(b, msg...)
}

// workerEvent is one record from a worker, checked: what the server acts on.
type workerEvent struct {
	typ    uint8 // fcgiStdout, fcgiStderr or fcgiEndRequest
	id     uint16
	data   []byte // output; valid until the next read
	status int32  // END_REQUEST's application status
	proto  uint8  // END_REQUEST's protocol status
	msg    string // END_REQUEST's message
}

// decodeWorkerRecord checks a record that a worker sent. Everything a worker sends is
// untrusted: anything but output and the end of a request is a protocol violation, and so
// is an END_REQUEST that is short, too long or of an unknown status.
func decodeWorkerRecord(rec record) (workerEvent, error) {
	ev := workerEvent{typ: rec.typ, id: rec.id}
	if rec.id == 0 {
		return ev, fmt.Errorf("%w: record type %d for request 0", errProtocol, rec.typ)
	}
	switch rec.typ {
	case fcgiStdout, fcgiStderr:
		ev.data = rec.content
	case fcgiEndRequest:
		c := rec.content
		if len(c) < 8 || len(c) > 8+maxEndMessage {
			return ev, fmt.Errorf("%w: END_REQUEST of %d bytes", errProtocol, len(c))
		}
		ev.status = int32(binary.BigEndian.Uint32(c))
		ev.proto = c[4]
		switch ev.proto {
		case endComplete, endRejected, endStartFailed, endStartDenied, endFailed:
		default:
			return ev, fmt.Errorf("%w: END_REQUEST status %d", errProtocol, ev.proto)
		}
		ev.msg = string(c[8:])
	default:
		return ev, fmt.Errorf("%w: record type %d from the worker", errProtocol, rec.typ)
	}
	return ev, nil
}
