package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHTTP10: an HTTP/1.1 client with keep-alive gets an HTTP/1.0 answer, unchunked, and
// the connection is closed after it.
func TestHTTP10(t *testing.T) {
	ts := httptest.NewServer(HTTP10(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "proto="+r.Proto+"\n")
		w.(http.Flusher).Flush() // a streamed body: no length is known
		_, _ = io.WriteString(w, "more\n")
	})))
	defer ts.Close()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	req := "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(bufio.NewReader(c)) // ends only if the server closes
	if err != nil {
		t.Fatalf("reading: %v (the connection was not closed)", err)
	}
	got := string(all)
	if !strings.HasPrefix(got, "HTTP/1.0 200 OK\r\n") {
		t.Errorf("status line: %q", got)
	}
	if strings.Contains(strings.ToLower(got), "transfer-encoding") || !strings.HasSuffix(got, "proto=HTTP/1.0\nmore\n") {
		t.Errorf("response: %q", got)
	}
	if strings.Count(got, "200 OK") != 1 {
		t.Errorf("the second request was answered on the same connection: %q", got)
	}
}
