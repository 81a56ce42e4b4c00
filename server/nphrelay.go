package server

import (
	"bytes"
	"io"
)

// maxNPHStatusLine bounds the status line an nph script may send over HTTP/2 before its
// headers; the header block after it has cgiResponseWriter's own bound.
const maxNPHStatusLine = 1 << 10

// nphRelay carries an nph script's output where the connection cannot be taken over
// (HTTP/2 multiplexes streams on it): the script's status line "HTTP/1.x NNN Reason" becomes
// a "Status: NNN Reason" header, and the rest (headers, blank line, body) goes to dst, a
// cgiResponseWriter, which parses and frames it as any CGI response. Hop-by-hop headers the
// script wrote for its HTTP/1.x line, such as Connection, are dropped by net/http's HTTP/2
// server. Output that does not start with a status line passes through unchanged, so that
// the header parser reports it.
type nphRelay struct {
	dst  io.Writer
	line []byte // the status line so far
	done bool   // the status line is behind us
}

func (n *nphRelay) Write(p []byte) (int, error) {
	if n.done {
		return n.dst.Write(p)
	}
	i := bytes.IndexByte(p, '\n')
	if i < 0 && len(n.line)+len(p) <= maxNPHStatusLine {
		n.line = append(n.line, p...)
		return len(p), nil
	}
	if i < 0 {
		i = len(p) - 1 // an over-long "status line": hand it on for the parser to refuse
	}
	n.line = append(n.line, p[:i+1]...)
	n.done = true
	if _, err := n.dst.Write(statusHeader(n.line)); err != nil {
		return 0, err
	}
	if _, err := n.dst.Write(p[i+1:]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// statusHeader turns "HTTP/1.1 200 OK\r\n" into "Status: 200 OK\r\n"; anything else is
// returned as it came.
func statusHeader(line []byte) []byte {
	proto, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || !bytes.HasPrefix(proto, []byte("HTTP/")) {
		return line
	}
	return append([]byte("Status: "), bytes.TrimLeft(rest, " ")...)
}
