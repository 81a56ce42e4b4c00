package server

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

var parseCGIHeaderTests = []struct {
	name     string
	block    string
	err      error
	status   int
	location string
	header   http.Header // nil: not checked
}{
	{name: "empty", block: "", err: errNoHeaders},
	{name: "content type", block: "Content-Type: text/plain",
		header: http.Header{"Content-Type": {"text/plain"}}},
	{name: "status with reason", block: "Status: 404 Not Found", status: 404, header: http.Header{}},
	{name: "status lower case", block: "status: 404 Not Found", status: 404},
	{name: "status upper case", block: "STATUS: 201", status: 201},
	{name: "status no reason", block: "Status: 200", status: 200},
	{name: "status highest", block: "Status: 999 Custom", status: 999},
	{name: "status spaces around", block: "Status:   302   Found  ", status: 302},
	{name: "status letters", block: "Status: abc", err: errBadStatus},
	{name: "status two digits", block: "Status: 99", err: errBadStatus},
	{name: "status four digits", block: "Status: 1000", err: errBadStatus},
	{name: "status short", block: "Status: 20", err: errBadStatus},
	{name: "status signed", block: "Status: +20", err: errBadStatus},
	{name: "status negative", block: "Status: -20", err: errBadStatus},
	{name: "status 1xx", block: "Status: 100 Continue", err: errBadStatus},
	{name: "status 101", block: "Status: 101", err: errBadStatus},
	{name: "status zero", block: "Status: 000", err: errBadStatus},
	{name: "status mixed", block: "Status: 2x0", err: errBadStatus},
	{name: "status empty", block: "Status:", err: errBadStatus},
	{name: "status tab reason", block: "Status: 200\tOK", err: errBadStatus},
	{name: "status twice", block: "Status: 200\nStatus: 404", err: errBadStatus},
	{name: "status twice other case", block: "Status: 200\nstatus: 200", err: errBadStatus},
	{name: "location", block: "Location: /x?y=1", location: "/x?y=1", header: http.Header{}},
	{name: "location lower case", block: "location: http://example.com/", location: "http://example.com/"},
	{name: "location with status", block: "Status: 301\r\nLocation: http://example.com/", status: 301,
		location: "http://example.com/"},
	{name: "location twice", block: "Location: /a\nLocation: /b", err: errBadHeaderLine},
	{name: "location empty", block: "Location:", err: errBadHeaderLine},
	{name: "set-cookie kept apart", block: "Set-Cookie: a=1; Path=/\nSet-Cookie: b=2",
		header: http.Header{"Set-Cookie": {"a=1; Path=/", "b=2"}}},
	{name: "names canonicalised", block: "x-custom: 1\nX-CUSTOM: 2",
		header: http.Header{"X-Custom": {"1", "2"}}},
	{name: "framing headers dropped",
		block:  "Content-Length: 5\nTransfer-Encoding: chunked\nConnection: close\nKeep-Alive: timeout=5\nTE: trailers\nTrailer: X\nUpgrade: h2c\nProxy-Connection: keep-alive\nContent-Type: text/html",
		header: http.Header{"Content-Type": {"text/html"}}},
	{name: "CRLF", block: "Content-Type: text/plain\r\nX-A: 1\r\n",
		header: http.Header{"Content-Type": {"text/plain"}, "X-A": {"1"}}},
	{name: "LF", block: "Content-Type: text/plain\nX-A: 1\n",
		header: http.Header{"Content-Type": {"text/plain"}, "X-A": {"1"}}},
	{name: "mixed line ends", block: "Content-Type: text/plain\r\nX-A: 1\nX-B: 2",
		header: http.Header{"Content-Type": {"text/plain"}, "X-A": {"1"}, "X-B": {"2"}}},
	{name: "value trimmed", block: "X-A: \t 1 2 \t", header: http.Header{"X-A": {"1 2"}}},
	{name: "empty value", block: "X-A:", header: http.Header{"X-A": {""}}},
	{name: "colon in value", block: "X-A: a:b", header: http.Header{"X-A": {"a:b"}}},
	{name: "obs-text in value", block: "X-A: caf\xc3\xa9", header: http.Header{"X-A": {"caf\xc3\xa9"}}},
	{name: "no colon", block: "Content-Type text/plain", err: errBadHeaderLine},
	{name: "HTTP status line", block: "HTTP/1.1 200 OK\nContent-Type: text/plain", err: errBadHeaderLine},
	{name: "space in name", block: "Content Type: text/plain", err: errBadHeaderLine},
	{name: "space before colon", block: "Content-Type : text/plain", err: errBadHeaderLine},
	{name: "empty name", block: ": value", err: errBadHeaderLine},
	{name: "separator in name", block: "X(A): 1", err: errBadHeaderLine},
	{name: "non-ASCII name", block: "X-\xc3\xa9: 1", err: errBadHeaderLine},
	{name: "continuation line", block: "X-A: 1\n continued", err: errBadHeaderLine},
	{name: "continuation line with colon", block: "X-A: 1\n\tX-B: 2", err: errBadHeaderLine},
	{name: "empty line inside", block: "X-A: 1\n\nX-B: 2", err: errBadHeaderLine},
	{name: "NUL in value", block: "X-A: a\x00b", err: errBadHeaderLine},
	{name: "CR in value", block: "X-A: a\rb", err: errBadHeaderLine},
	{name: "lone CR line end", block: "X-A: a\rX-B: b", err: errBadHeaderLine},
	{name: "escape in value", block: "X-A: a\x1bb", err: errBadHeaderLine},
	{name: "DEL in value", block: "X-A: a\x7f", err: errBadHeaderLine},
	{name: "control char in location", block: "Location: /a\x01", err: errBadHeaderLine},
}

func TestParseCGIHeader(t *testing.T) {
	for _, tc := range parseCGIHeaderTests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parseCGIHeader([]byte(tc.block))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("parseCGIHeader(%q) = %+v, %v; want error %v", tc.block, h, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCGIHeader(%q): %v", tc.block, err)
			}
			if h.status != tc.status || h.location != tc.location {
				t.Errorf("parseCGIHeader(%q) = status %d, location %q; want %d, %q",
					tc.block, h.status, h.location, tc.status, tc.location)
			}
			if tc.header != nil && !reflect.DeepEqual(h.header, tc.header) {
				t.Errorf("parseCGIHeader(%q).header = %v, want %v", tc.block, h.header, tc.header)
			}
		})
	}
}

// feed writes chunks to a cgiResponseWriter over a recorder, stopping at the first error as
// the executor's copy does, and returns the recorder, the writer, and that error.
func feed(chunks [][]byte, head bool) (*httptest.ResponseRecorder, *cgiResponseWriter, error) {
	rec := httptest.NewRecorder()
	cw := newCGIResponseWriter(rec, head, DefaultConfig().FlushDelay)
	for _, p := range chunks {
		n, err := cw.Write(p)
		if err != nil {
			return rec, cw, err
		}
		if n != len(p) {
			return rec, cw, errors.New("short write without an error")
		}
	}
	return rec, cw, nil
}

func oneChunk(s string) [][]byte { return [][]byte{[]byte(s)} }

func byteChunks(s string) [][]byte {
	out := make([][]byte, len(s))
	for i := range s {
		out[i] = []byte{s[i]}
	}
	return out
}

func sizedChunks(s string, size int) [][]byte {
	var out [][]byte
	for len(s) > size {
		out = append(out, []byte(s[:size]))
		s = s[size:]
	}
	return append(out, []byte(s))
}

func TestCGIResponseWriter(t *testing.T) {
	longLine := "X-Long: " + strings.Repeat("a", maxHeaderBlock) + "\n"
	var manyLines strings.Builder
	for manyLines.Len() <= maxHeaderBlock {
		manyLines.WriteString("X-Line: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
	}
	// A header block of exactly maxHeaderBlock bytes, blank line included, is accepted.
	exact := "X-Fill: " + strings.Repeat("b", maxHeaderBlock-len("X-Fill: \n\n")) + "\n\n"

	tests := []struct {
		name       string
		chunks     [][]byte
		head       bool
		writeErr   error // from Write; nil: none
		finishErr  error // from finish; nil: none
		sent       bool  // whether a response went to the recorder
		code       int
		header     map[string]string // "" means absent
		body       string
		redirect   string
		headerOnly bool // check that nothing beyond the headers was written
	}{
		{
			name:   "one write",
			chunks: oneChunk("Content-Type: text/plain\r\nX-A: 1\r\n\r\nhello"),
			sent:   true, code: 200, body: "hello",
			header: map[string]string{"Content-Type": "text/plain", "X-A": "1"},
		},
		{
			name:   "one-byte writes",
			chunks: byteChunks("Content-Type: text/plain\r\nX-A: 1\r\n\r\nhello\r\n\r\nworld"),
			sent:   true, code: 200, body: "hello\r\n\r\nworld",
			header: map[string]string{"Content-Type": "text/plain", "X-A": "1"},
		},
		{
			name:   "LF only, body in later writes",
			chunks: [][]byte{[]byte("Content-Type: text/plain\n"), []byte("\n"), []byte("a"), []byte("b\n")},
			sent:   true, code: 200, body: "ab\n",
		},
		{
			name:      "empty header block",
			chunks:    oneChunk("\r\nbody"),
			writeErr:  errNoHeaders,
			finishErr: errNoHeaders,
		},
		{
			name:      "no output",
			chunks:    nil,
			finishErr: errNoOutput,
		},
		{
			name:      "empty writes",
			chunks:    [][]byte{{}, {}},
			finishErr: errNoOutput,
		},
		{
			name:      "no blank line",
			chunks:    oneChunk("Content-Type: text/plain\r\n"),
			finishErr: errNoHeaderEnd,
		},
		{
			name:      "no line end",
			chunks:    oneChunk("Content-Type: text/plain"),
			finishErr: errNoHeaderEnd,
		},
		{
			name:      "bad header line",
			chunks:    oneChunk("Hello, world\n\n"),
			writeErr:  errBadHeaderLine,
			finishErr: errBadHeaderLine,
		},
		{
			name:      "bad status",
			chunks:    byteChunks("Status: 2x0\n\nbody"),
			writeErr:  errBadStatus,
			finishErr: errBadStatus,
		},
		{
			name:      "too long without newline",
			chunks:    sizedChunks(strings.Repeat("a", maxHeaderBlock+1), 4096),
			writeErr:  errHeaderTooLong,
			finishErr: errHeaderTooLong,
		},
		{
			name:      "too long line, one write",
			chunks:    oneChunk(longLine + "\nbody"),
			writeErr:  errHeaderTooLong,
			finishErr: errHeaderTooLong,
		},
		{
			name:      "too many lines, one write",
			chunks:    oneChunk(manyLines.String() + "\r\nbody"),
			writeErr:  errHeaderTooLong,
			finishErr: errHeaderTooLong,
		},
		{
			name:      "too many lines, chunked",
			chunks:    sizedChunks(manyLines.String()+"\r\nbody", 1000),
			writeErr:  errHeaderTooLong,
			finishErr: errHeaderTooLong,
		},
		{
			name:   "exactly the limit",
			chunks: sizedChunks(exact+"body", 1000),
			sent:   true, code: 200, body: "body",
		},
		{
			name:      "one byte over the limit",
			chunks:    sizedChunks("X"+exact+"body", 1000),
			writeErr:  errHeaderTooLong,
			finishErr: errHeaderTooLong,
		},
		{
			name:     "local redirect",
			chunks:   byteChunks("Location: /other/x.sh?q=1\r\nX-A: 1\r\n\r\nignored body"),
			redirect: "/other/x.sh?q=1",
			header:   map[string]string{"Location": "", "X-A": ""},
		},
		{
			name:   "client redirect",
			chunks: oneChunk("Location: http://example.com/x\n\n"),
			sent:   true, code: 302,
			header: map[string]string{"Location": "http://example.com/x"},
		},
		{
			name:   "network-path Location is not local",
			chunks: oneChunk("Location: //example.com/x\n\n"),
			sent:   true, code: 302,
			header: map[string]string{"Location": "//example.com/x"},
		},
		{
			name:   "client redirect with status",
			chunks: oneChunk("Status: 301 Moved Permanently\nLocation: http://example.com/x\n\n"),
			sent:   true, code: 301,
			header: map[string]string{"Location": "http://example.com/x"},
		},
		{
			name:   "local Location with status is sent",
			chunks: oneChunk("Status: 303\nLocation: /x\n\n"),
			sent:   true, code: 303,
			header: map[string]string{"Location": "/x"},
		},
		{
			name:   "status with body",
			chunks: oneChunk("Status: 404 Not Found\nContent-Type: text/plain\n\nnot here"),
			sent:   true, code: 404, body: "not here",
		},
		{
			name:   "204 body discarded",
			chunks: oneChunk("Status: 204\n\nnot allowed"),
			sent:   true, code: 204, body: "",
		},
		{
			name:   "304 body discarded",
			chunks: [][]byte{[]byte("Status: 304\n\n"), []byte("not allowed")},
			sent:   true, code: 304, body: "",
		},
		{
			name:   "HEAD",
			chunks: oneChunk("Content-Type: text/plain\nX-A: 1\n\nbody"),
			head:   true,
			sent:   true, code: 200, body: "",
			header: map[string]string{"Content-Type": "text/plain", "X-A": "1"},
		},
		{
			name:   "no Content-Type is not sniffed",
			chunks: oneChunk("X-A: 1\n\n<!DOCTYPE html><html><body>hi</body></html>"),
			sent:   true, code: 200, body: "<!DOCTYPE html><html><body>hi</body></html>",
			header: map[string]string{"Content-Type": ""},
		},
		{
			name:   "script framing ignored",
			chunks: oneChunk("Content-Type: text/plain\nContent-Length: 100\nTransfer-Encoding: chunked\nConnection: keep-alive\n\nshort"),
			sent:   true, code: 200, body: "short",
			header: map[string]string{"Content-Length": "", "Transfer-Encoding": "", "Connection": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, cw, err := feed(tc.chunks, tc.head)
			if !errors.Is(err, tc.writeErr) || (err == nil) != (tc.writeErr == nil) {
				t.Fatalf("Write error = %v, want %v", err, tc.writeErr)
			}
			if err != nil {
				// Once refused, the writer stays refused.
				if _, again := cw.Write([]byte("more\n\n")); !errors.Is(again, tc.writeErr) {
					t.Errorf("Write after %v = %v, want the same error", err, again)
				}
			}
			if ferr := cw.finish(); !errors.Is(ferr, tc.finishErr) || (ferr == nil) != (tc.finishErr == nil) {
				t.Errorf("finish() = %v, want %v", ferr, tc.finishErr)
			}
			if cw.redirect != tc.redirect {
				t.Errorf("redirect = %q, want %q", cw.redirect, tc.redirect)
			}
			if cw.headerSent != tc.sent {
				t.Fatalf("headerSent = %v, want %v", cw.headerSent, tc.sent)
			}
			res := rec.Result()
			defer func() { _ = res.Body.Close() }()
			if !tc.sent {
				if rec.Body.Len() != 0 || len(rec.Header()) != 0 || rec.Flushed {
					t.Errorf("nothing should reach the client; got header %v, body %q", rec.Header(), rec.Body)
				}
				return
			}
			if res.StatusCode != tc.code {
				t.Errorf("status = %d, want %d", res.StatusCode, tc.code)
			}
			if got := rec.Body.String(); got != tc.body {
				t.Errorf("body = %q, want %q", got, tc.body)
			}
			for name, want := range tc.header {
				if got := res.Header.Get(name); got != want {
					t.Errorf("header %s = %q, want %q", name, got, want)
				}
			}
			// A script still running must not hold its output back: it is flushed soon after
			// it was written, without more output or the script's end.
			if tc.body != "" && !eventuallyFlushed(cw, rec) {
				t.Error("body was not flushed")
			}
			cw.stopFlushing()
		})
	}
}

// eventuallyFlushed waits up to 5s for the timed flush of cw to reach rec.
func eventuallyFlushed(cw *cgiResponseWriter, rec *httptest.ResponseRecorder) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		cw.mu.Lock()
		flushed := rec.Flushed
		cw.mu.Unlock()
		if flushed {
			return true
		}
	}
	return false
}

// validToken reports whether s is an RFC 9110 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isASCIIAlnum(c) && strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}

// randomChunks splits data at random points chosen by seed.
func randomChunks(data []byte, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out [][]byte
	for len(data) > 0 {
		n := 1 + rng.IntN(min(len(data), 64))
		if rng.IntN(8) == 0 {
			out = append(out, nil) // an empty write now and then
		}
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

type responseOutcome struct {
	writeErr, finishErr string
	sent                bool
	redirect            string
	code                int
	header              http.Header
	body                string
}

func outcome(chunks [][]byte, head bool) responseOutcome {
	rec, cw, err := feed(chunks, head)
	cw.stopFlushing() // as the handler does once the script ends; rec is then ours alone
	o := responseOutcome{sent: cw.headerSent, redirect: cw.redirect, code: rec.Code, header: rec.Header(), body: rec.Body.String()}
	if err != nil {
		o.writeErr = err.Error()
	}
	if ferr := cw.finish(); ferr != nil {
		o.finishErr = ferr.Error()
	}
	return o
}

func FuzzParseCGIHeader(f *testing.F) {
	for i, tc := range parseCGIHeaderTests {
		f.Add([]byte(tc.block+"\r\n\r\nbody"), uint64(i))
		f.Add([]byte(tc.block), uint64(i))
	}
	f.Add([]byte("Status: 204\n\nx"), uint64(7))
	f.Add([]byte("Location: /x\n\nx"), uint64(8))
	f.Add([]byte("\n"), uint64(9))
	f.Add([]byte("X: a\r\r\n\r\n"), uint64(10))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		h, err := parseCGIHeader(data)
		if err == nil {
			if h.status != 0 && (h.status < 200 || h.status > 999) {
				t.Fatalf("status %d from %q", h.status, data)
			}
			if strings.ContainsAny(h.location, "\r\n\x00") {
				t.Fatalf("location %q from %q", h.location, data)
			}
			for name, values := range h.header {
				if !validToken(name) || hopByHop[name] || name == "Status" || name == "Location" {
					t.Fatalf("header name %q from %q", name, data)
				}
				for _, v := range values {
					if strings.ContainsAny(v, "\r\n\x00") {
						t.Fatalf("header %s value %q from %q", name, v, data)
					}
				}
			}
		}

		// Through the writer: no panic, and the chunking makes no difference.
		head := seed&1 == 1
		whole := outcome([][]byte{data}, head)
		chunked := outcome(randomChunks(data, seed), head)
		if !reflect.DeepEqual(whole, chunked) {
			t.Fatalf("%q: one write gives %+v, random writes give %+v", data, whole, chunked)
		}
		switch {
		case whole.sent && (whole.code < 200 || whole.code > 999):
			t.Fatalf("%q: sent status %d", data, whole.code)
		case whole.sent && whole.redirect != "":
			t.Fatalf("%q: both sent and redirected", data)
		case whole.redirect != "" && !isLocalLocation(whole.redirect):
			t.Fatalf("%q: redirect to non-local %q", data, whole.redirect)
		case !whole.sent && (whole.body != "" || len(whole.header) != 0):
			t.Fatalf("%q: output reached the client without a header: %+v", data, whole)
		case (whole.finishErr == "") != (whole.sent || whole.redirect != ""):
			t.Fatalf("%q: finish() = %q but sent=%v redirect=%q", data, whole.finishErr, whole.sent, whole.redirect)
		}
		if whole.sent && !head && bodyAllowed(whole.code) {
			if want := bodyAfterHeader(data); whole.body != want {
				t.Fatalf("%q: body %q, want %q", data, whole.body, want)
			}
		}
	})
}

// bodyAfterHeader returns what follows the first empty line ("\n" or "\r\n") of out.
func bodyAfterHeader(out []byte) string {
	for rest := out; ; {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return ""
		}
		if len(line) == 0 || string(line) == "\r" {
			return string(after)
		}
		rest = after
	}
}
