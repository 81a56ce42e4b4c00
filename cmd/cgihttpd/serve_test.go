package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/internal/cli"
)

// brokenListener fails every Accept, as a socket that went bad would.
type brokenListener struct{ addr net.Addr }

func (l brokenListener) Accept() (net.Conn, error) { return nil, errors.New("listener broke") }
func (l brokenListener) Close() error              { return nil }
func (l brokenListener) Addr() net.Addr            { return l.addr }

// TestServeStopsWhenOneListenerFails: serve on a working and a broken listener returns 1,
// and the working one is closed too, not left serving after serve returned.
func TestServeStopsWhenOneListenerFails(t *testing.T) {
	good, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = good.Close() }()
	broken := brokenListener{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}}
	done := make(chan int, 1)
	go func() {
		done <- serve([]net.Listener{good, broken}, "http", http.NotFoundHandler(), &cli.Options{ShutdownGrace: time.Second}, hclog.NewNullLogger(), io.Discard)
	}()
	select {
	case code := <-done:
		if code != 1 {
			t.Errorf("serve returned %d, want 1", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve still running 30s after a listener failed")
	}
	if c, err := net.DialTimeout("tcp", good.Addr().String(), 2*time.Second); err == nil {
		_ = c.Close()
		t.Error("the working listener still accepts after serve returned")
	}
}
