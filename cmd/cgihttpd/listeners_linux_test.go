//go:build linux

package main

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// socketActivate returns the path of systemd-socket-activate, or skips: Debian's systemd
// package has it (.ci/run installs it, and .ci/service.sh fails when these tests skip).
func socketActivate(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate not installed (Debian: apt-get install systemd)")
	}
	return path
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// activated starts this test binary as cgihttpd under systemd-socket-activate with
// activateArgs (-l ADDRESS...) and cgihttpd's args; the process is killed when the test ends.
func activated(t *testing.T, activateArgs, args []string) (*exec.Cmd, *testutil.SyncBuffer) {
	t.Helper()
	argv := append(activateArgs, "-E", runMainVar+"=1", "-E", "PATH", os.Args[0])
	cmd := exec.Command(socketActivate(t), append(argv, args...)...)
	logs := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	// The environment that a unit's Environment= would give; systemd-socket-activate passes
	// on only what -E names, LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES.
	cmd.Env = append(os.Environ(), "SECRET_OF_THE_SERVER=do-not-pass")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, logs
}

// TestSocketActivationServesEveryPassedSocket: under systemd-socket-activate with two
// sockets, cgihttpd serves on both and binds nothing itself, and a script that asks for the
// activation variables with --pass-env and lists its open descriptors finds neither.
func TestSocketActivationServesEveryPassedSocket(t *testing.T) {
	root := testutil.WorldDir(t)
	if err := os.Mkdir(filepath.Join(root, "cgi-bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nenv\n" +
		"for fd in /proc/self/fd/*; do echo \"fd ${fd##*/} $(readlink $fd)\"; done\n"
	if err := os.WriteFile(filepath.Join(root, "cgi-bin", "env.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p1, p2, unused := freePort(t), freePort(t), freePort(t)
	a1, a2 := net.JoinHostPort("127.0.0.1", strconv.Itoa(p1)), net.JoinHostPort("127.0.0.1", strconv.Itoa(p2))
	cmd, logs := activated(t, []string{"-l", a1, "-l", a2, "--fdname", "web:web2"},
		[]string{"-d", root, "-b", "127.0.0.1", strconv.Itoa(unused),
			"--pass-env", "LISTEN_FDS", "--pass-env", "LISTEN_PID", "--pass-env", "LISTEN_FDNAMES"})

	client := &http.Client{Timeout: 30 * time.Second}
	var body string
	// The first connection starts cgihttpd: systemd-socket-activate waits for it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://" + a1 + "/cgi-bin/env.sh")
		if err == nil {
			var r *testutil.Reply
			r, body, err = testutil.ReadReply(resp)
			_ = resp.Body.Close()
			if err != nil || r.StatusCode != 200 {
				t.Fatalf("env.sh on the first socket: %v %d %q; log:\n%s", err, r.StatusCode, body, logs.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first socket: %v; log:\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "LISTEN_") || strings.HasPrefix(line, "SECRET_") {
			t.Errorf("a script's environment holds %q", line)
		}
		if strings.HasPrefix(line, "fd ") && strings.Contains(line, "socket:") {
			t.Errorf("a script holds a socket: %q", line)
		}
	}
	if !strings.Contains(body, "fd 1 ") {
		t.Fatalf("the script listed no descriptors: %q", body)
	}

	resp, err := client.Get("http://" + a2 + "/cgi-bin/env.sh")
	if err != nil {
		t.Fatalf("second socket: %v; log:\n%s", err, logs.String())
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("second socket: status %d", resp.StatusCode)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(unused)), 2*time.Second); err == nil {
		_ = c.Close()
		t.Errorf("cgihttpd listens on the -b address and port too")
	}
	if out := logs.String(); !strings.Contains(out, "Serving HTTP on "+a1) || !strings.Contains(out, "Serving HTTP on "+a2) {
		t.Errorf("the startup lines do not name both sockets:\n%s", out)
	}

	// systemd stops the service with SIGTERM: a clean exit.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; log:\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("no exit 60s after SIGTERM; log:\n%s", logs.String())
	}
}

// TestSocketActivationRefusesWhatItCannotServe: a socket unit with Accept=yes passes a
// connection, a datagram socket unit a UDP socket; cgihttpd says so and exits 1, instead of
// failing at its first Accept or serving nothing.
func TestSocketActivationRefusesWhatItCannotServe(t *testing.T) {
	for _, mode := range []string{"--accept", "--datagram"} {
		t.Run(mode, func(t *testing.T) {
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
			_, logs := activated(t, []string{mode, "-l", addr}, []string{"-d", t.TempDir()})
			network := "tcp"
			if mode == "--datagram" {
				network = "udp"
			}
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(logs.String(), "not a listening socket") {
				if time.Now().After(deadline) {
					t.Fatalf("no refusal; log:\n%s", logs.String())
				}
				if c, err := net.DialTimeout(network, addr, 2*time.Second); err == nil {
					_, _ = c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
					_ = c.Close()
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}

// TestListenersWithoutActivation: activation variables meant for another process (a parent
// that was itself activated) are ignored and removed, and cgihttpd binds -b and the port.
func TestListenersWithoutActivation(t *testing.T) {
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getppid()))
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_FDNAMES", "http")
	passed := passedSockets()
	if len(passed) != 0 {
		t.Fatalf("passedSockets = %v for another process's LISTEN_PID", passed)
	}
	lns, err := listeners(passed, "127.0.0.1", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeListeners(lns)
	if len(lns) != 1 || !lns[0].Addr().(*net.TCPAddr).IP.IsLoopback() {
		t.Errorf("listeners = %v, want one on 127.0.0.1", lns)
	}
	for _, name := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if v, ok := os.LookupEnv(name); ok {
			t.Errorf("%s=%q is still set", name, v)
		}
	}
	if _, err := listeners(nil, "256.0.0.1", 0, nil); err == nil {
		t.Error("listening on 256.0.0.1: no error")
	}
}

// TestFileListener checks the descriptor test that socket activation relies on: a listening
// socket is served; a connection, a datagram socket and a plain file are refused.
func TestFileListener(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tcp.Close() }()
	conn, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = udp.Close() }()
	file, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = file.Close() }()

	listening, err := tcp.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = listening.Close() }()
	ln, err := fileListener(listening)
	if err != nil {
		t.Fatalf("a listening socket: %v", err)
	}
	_ = ln.Close()

	connFile, err := conn.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = connFile.Close() }()
	udpFile, err := udp.(*net.UDPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = udpFile.Close() }()
	for name, f := range map[string]*os.File{"connection": connFile, "udp": udpFile, "file": file} {
		if ln, err := fileListener(f); !errors.Is(err, errNotListening) {
			t.Errorf("%s: %v, %v; want errNotListening", name, ln, err)
		}
	}
}

// TestSocketActivationServesHTTPS: with HTTPS on, every passed socket serves HTTPS (and
// HTTP/2), and none of them plain HTTP.
func TestSocketActivationServesHTTPS(t *testing.T) {
	root := testutil.WorldDir(t)
	if err := os.Mkdir(filepath.Join(root, "cgi-bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nHTTPS=%s\\n' \"$HTTPS\"\n"
	if err := os.WriteFile(filepath.Join(root, "cgi-bin", "https.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	a1 := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	a2 := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	_, logs := activated(t, []string{"-l", a1, "-l", a2}, []string{"-d", root, "--tls-self-signed"})
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true} // a self-signed test certificate
	defer tr.CloseIdleConnections()
	client := &http.Client{Timeout: 30 * time.Second, Transport: tr}
	for _, addr := range []string{a1, a2} {
		var resp *http.Response
		var err error
		deadline := time.Now().Add(30 * time.Second)
		for { // the first connection starts cgihttpd
			if resp, err = client.Get("https://" + addr + "/cgi-bin/https.sh"); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%s: %v; log:\n%s", addr, err, logs.String())
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "HTTPS=on") || resp.ProtoMajor != 2 {
			t.Errorf("%s: %s %d %q; want HTTP/2 200 with HTTPS=on", addr, resp.Proto, resp.StatusCode, body)
		}
		plain, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/")
		if err == nil {
			_ = plain.Body.Close()
			if plain.StatusCode == 200 {
				t.Errorf("%s answers plain HTTP with 200", addr)
			}
		}
	}
}
