package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/server"
)

// TestStatusListenerDropsIdleConnections checks the status listener's bounds: a connection
// that sends nothing, and one that goes idle after a request, are both closed.
func TestStatusListenerDropsIdleConnections(t *testing.T) {
	testutil.CheckLeaks(t)
	srv, err := server.New(server.Config{Root: t.TempDir(), ExecutorMode: "native"}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const limit = 300 * time.Millisecond
	stop := startStatus(ln, srv, statusTimeouts{header: limit, read: limit, idle: limit}, hclog.NewNullLogger())
	defer stop()

	// closedWithin reports whether the server closes conn within d (generous: CI is slow).
	closedWithin := func(conn net.Conn, r *bufio.Reader, d time.Duration) bool {
		_ = conn.SetReadDeadline(time.Now().Add(d))
		_, err := r.ReadByte()
		var ne net.Error
		return err != nil && (!errors.As(err, &ne) || !ne.Timeout())
	}

	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = silent.Close() }()
	start := time.Now()
	if !closedWithin(silent, bufio.NewReader(silent), 10*time.Second) {
		t.Errorf("a connection that sent nothing was still open after %v", time.Since(start))
	}

	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = idle.Close() }()
	if _, err := io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: status\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(idle)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}
	start = time.Now()
	if !closedWithin(idle, r, 10*time.Second) {
		t.Errorf("an idle keep-alive connection was still open after %v", time.Since(start))
	}
}
