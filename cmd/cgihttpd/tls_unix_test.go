//go:build unix

package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/internal/tlsconf"
)

// pemPair is a self-signed certificate for localhost and 127.0.0.1 named cn, and its key
// (PKCS#8), PEM-encoded.
type pemPair struct {
	cn        string
	cert, key []byte
}

func newPEMPair(t *testing.T, cn string) pemPair {
	cert, key := testutil.CertPEM(t, cn)
	return pemPair{cn, cert, key}
}

// startMain runs this test binary as cgihttpd with args and returns the URL it serves, its
// log and the process, which is killed at the end of the test if still running.
func startMain(t *testing.T, args ...string) (string, *testutil.SyncBuffer, *exec.Cmd) {
	t.Helper()
	base, _, logs, cmd := startMainLines(t, args...)
	return base, logs, cmd
}

// startMainLines is startMain that also returns the lines printed before "Serving …".
func startMainLines(t *testing.T, args ...string) (string, []string, *testutil.SyncBuffer, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainVar+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.SyncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	out := bufio.NewReader(stdout)
	var before []string
	for {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("no startup line: %v; log:\n%s", err, logs.String())
		}
		if base := regexp.MustCompile(`https?://127\.0\.0\.1:\d+`).FindString(line); base != "" && strings.HasPrefix(line, "Serving") {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return base, before, logs, cmd
		}
		before = append(before, line)
	}
}

func stopMain(t *testing.T, cmd *exec.Cmd, logs *testutil.SyncBuffer) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v (want exit 0); log:\n%s", err, logs.String())
	}
}

// tlsSite is a document root with a static file and a script that prints its environment.
func tlsSite(t *testing.T) string {
	t.Helper()
	root := filepath.Join(testutil.WorldDir(t), "site")
	if err := os.MkdirAll(filepath.Join(root, "cgi-bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello over TLS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "cgi-bin", "env.sh"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nenv\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// servedCN opens a new TLS connection and returns the name on the certificate served.
func servedCN(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads what is served
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestHTTPSWithRenewal serves HTTPS with --tls-cert/--tls-key, over HTTP/1.1 and HTTP/2, and
// replaces the pair under the running server: a renewed pair reaches new connections, a
// half-written one does not, and SIGHUP reloads a change that polling cannot see.
func TestHTTPSWithRenewal(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := newPEMPair(t, "first")
	writeFile(t, certFile, first.cert)
	writeFile(t, keyFile, first.key)
	base, logs, cmd := startMain(t, "-d", tlsSite(t), "--tls-cert", certFile, "--tls-key", keyFile, "0")
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("serving %s, want https", base)
	}
	addr := strings.TrimPrefix(base, "https://")

	roots := x509.NewCertPool()
	for _, h2 := range []bool{false, true} {
		block, _ := pem.Decode(first.cert)
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		roots.AddCert(leaf)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		wantProto := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]
		for _, c := range []struct{ path, want string }{
			{"/hello.txt", "hello over TLS\n"},
			{"/cgi-bin/env.sh", "HTTPS=on\n"},
			{"/cgi-bin/env.sh", "REQUEST_SCHEME=https\n"},
			{"/cgi-bin/env.sh", "SERVER_PROTOCOL=" + wantProto + "\n"},
			{"/cgi-bin/env.sh", "SERVER_PORT=" + strings.Split(addr, ":")[1] + "\n"},
		} {
			req, _ := http.NewRequest(http.MethodGet, base+c.path, nil)
			resp, body := testutil.Do(t, client, req)
			if resp.StatusCode != 200 || !strings.Contains(body, c.want) || resp.Request == nil {
				t.Errorf("%s %s: %d, body lacks %q:\n%s", wantProto, c.path, resp.StatusCode, c.want, body)
			}
		}
		tr.CloseIdleConnections()
	}

	// Renewal as certbot does it: new files renamed into place.
	second := newPEMPair(t, "second")
	writeFile(t, certFile+".new", second.cert)
	writeFile(t, keyFile+".new", second.key)
	for _, f := range []string{keyFile, certFile} {
		if err := os.Rename(f+".new", f); err != nil {
			t.Fatal(err)
		}
	}
	waitCN := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if servedCN(t, addr) == want {
				return
			}
		}
		t.Fatalf("still serving %q, want %q; log:\n%s", servedCN(t, addr), want, logs.String())
	}
	waitCN("second")

	// Half written: a new certificate, the old key. Logged, and the old pair stays.
	third := newPEMPair(t, "third")
	writeFile(t, certFile, third.cert)
	if !waitForTextWithin(logs, "not reloaded", 30*time.Second) {
		t.Fatalf("a half-written pair was not reported; log:\n%s", logs.String())
	}
	if got := servedCN(t, addr); got != "second" {
		t.Fatalf("after a half-written pair: serving %q", got)
	}

	// SIGHUP: the key is rewritten in place with its old size and time, which polling cannot
	// see; only the signal brings the third pair in.
	info, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(third.key) != int(info.Size()) {
		t.Fatalf("P-256 PKCS#8 keys differ in size: %d and %d", len(third.key), info.Size())
	}
	f, err := os.OpenFile(keyFile, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(third.key); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if err := os.Chtimes(keyFile, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // past two poll intervals: polling must not have reloaded it
	if got := servedCN(t, addr); got != "second" {
		t.Fatalf("reloaded without SIGHUP: serving %q", got)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitCN("third")
	stopMain(t, cmd, logs)
}

// TestProtocolHTTP10 runs cgihttpd -p HTTP/1.0: an HTTP/1.1 request with keep-alive gets an
// HTTP/1.0 answer and the connection is closed after it.
func TestProtocolHTTP10(t *testing.T) {
	testutil.CheckLeaks(t)
	base, logs, cmd := startMain(t, "-d", tlsSite(t), "-p", "HTTP/1.0", "0")
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.WriteString(c, "GET /cgi-bin/env.sh HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	all, err := io.ReadAll(c) // ends only when the server closes
	_ = c.Close()
	if err != nil {
		t.Fatalf("connection not closed: %v", err)
	}
	if !bytes.HasPrefix(all, []byte("HTTP/1.0 200 OK\r\n")) || !bytes.Contains(all, []byte("SERVER_PROTOCOL=HTTP/1.0\n")) ||
		bytes.Contains(all, []byte("hello over TLS")) {
		t.Errorf("got %q", all)
	}
	stopMain(t, cmd, logs)
}

// TestSelfSigned: --tls-self-signed prints the fingerprint of the certificate it serves.
func TestSelfSigned(t *testing.T) {
	testutil.CheckLeaks(t)
	base, before, logs, cmd := startMainLines(t, "-d", tlsSite(t), "--tls-self-signed", "0")
	fp := regexp.MustCompile(`([0-9A-F]{2}:){31}[0-9A-F]{2}`).FindString(strings.Join(before, ""))
	addr := strings.TrimPrefix(base, "https://")
	if fp == "" || !strings.HasPrefix(base, "https://") {
		t.Fatalf("startup lines %q, serving %s; log:\n%s", before, base, logs.String())
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // checked by fingerprint below
	if err != nil {
		t.Fatal(err)
	}
	der := c.ConnectionState().PeerCertificates[0].Raw
	_ = c.Close()
	if got := tlsconf.Fingerprint(der); got != fp {
		t.Errorf("served %s, printed %s", got, fp)
	}
	stopMain(t, cmd, logs)
}

// TestTLSHandshakeBounded: a client that connects and never starts its TLS handshake is
// cut off after --read-header-timeout, as a slow plain-HTTP client is.
func TestTLSHandshakeBounded(t *testing.T) {
	testutil.CheckLeaks(t)
	base, logs, cmd := startMain(t, "-d", tlsSite(t), "--tls-self-signed", "--read-header-timeout", "1s", "0")
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(c) // returns when the server closes the connection
	if err != nil {
		t.Fatalf("the server kept a silent connection open: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 20*time.Second {
		t.Errorf("a silent connection was closed after %v, want about --read-header-timeout (1s)", d)
	}
	stopMain(t, cmd, logs)
}
