package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/tlsconf"
)

const (
	// pebblePackage is Let's Encrypt's test ACME server, built through the tool line of go.mod.
	pebblePackage = "github.com/letsencrypt/pebble/v2/cmd/pebble"
	// certLifetime is what pebble issues for: short, so that a renewal comes during the test
	// (certmagic renews in the last third of a certificate's life).
	certLifetime = 24 // seconds
	// acmeTimeout bounds the whole test: build, obtain, serve, one renewal, shutdown.
	acmeTimeout = 3 * time.Minute
)

// servingHTTPSRE matches cgihttpd's startup line under TLS.
var servingHTTPSRE = regexp.MustCompile(`Serving HTTPS on \S+ \(https://[^:]+:(\d+)/\)`)

// TestACMEWithPebble runs pebble (Let's Encrypt's test CA) on loopback and cgihttpd with
// --acme-domain localhost against it: cgihttpd answers the HTTP-01 challenge on its
// --acme-http-port listener, obtains a certificate that chains to pebble's root, serves the
// example site with it (a CGI script sees HTTPS=on), redirects plain HTTP to HTTPS, and
// renews the certificate while it runs: a new connection gets the new one.
func TestACMEWithPebble(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), acmeTimeout)
	defer cancel()
	dir := tempDir(t, "cgihttpd-e2e-acme-*")
	site := worldDir(t, "cgihttpd-e2e-site-*")
	if err := copySite(filepath.Join("..", "examples", "site"), site); err != nil {
		t.Fatal(err)
	}
	bin := buildServer(t)
	pebble := buildTool(t, pebblePackage, "pebble")
	checkNoLeftovers(t, site, bin, pebble)

	// pebble validates by connecting to the name's first address; serve the challenge there.
	addrs, err := net.DefaultResolver.LookupHost(ctx, "localhost")
	if err != nil || len(addrs) == 0 {
		t.Skipf("localhost does not resolve here: %v", err)
	}
	loopback := addrs[0]
	httpPort := freePort(t, loopback)
	caAddr, mgmtAddr := startPebble(ctx, t, pebble, dir, httpPort)

	out := new(syncBuffer)
	cmd := exec.Command(bin, "--bind", loopback, "--directory", site,
		"--acme-domain", "localhost",
		"--acme-ca", "https://"+caAddr+"/dir",
		"--acme-ca-root", filepath.Join(dir, "pebble-https.pem"),
		"--acme-email", "e2e@example.com",
		"--acme-dir", filepath.Join(dir, "acme"),
		"--acme-http-port", strconv.Itoa(httpPort),
		"--acme-renew-check", "1s",
		"0")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := stopProcess(t, cmd, "cgihttpd", out)
	var port string
	for port == "" {
		if m := servingHTTPSRE.FindStringSubmatch(out.String()); m != nil {
			port = m[1]
		}
		if ctx.Err() != nil || ended(exited) {
			t.Fatalf("cgihttpd did not start serving HTTPS:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	httpsAddr := net.JoinHostPort(loopback, port)

	// pebble makes a new root each run: fetch it, and trust only it.
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(fetchPebble(t, mgmtAddr, dir, "/roots/0")) {
		t.Fatal("pebble's root is not PEM")
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
		// The URL says localhost (the certificate's name); connect where cgihttpd listens.
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, httpsAddr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "https://localhost:" + port

	// answer is what the test keeps of a response, its body read and closed.
	type answer struct {
		code          int
		status, proto string
		location      string
		peer          *x509.Certificate
	}
	get := func(c *http.Client, u, host string) (answer, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v\ncgihttpd:\n%s", u, err, out)
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		a := answer{code: resp.StatusCode, status: resp.Status, proto: resp.Proto, location: resp.Header.Get("Location")}
		if resp.TLS != nil {
			a.peer = resp.TLS.PeerCertificates[0]
		}
		return a, string(b)
	}

	// Obtained and served: the chain verifies against pebble's root, for localhost, over h2.
	resp, body := get(client, base+"/", "")
	if resp.code != 200 || resp.proto != "HTTP/2.0" || !strings.Contains(body, "cgihttpd example site") {
		t.Errorf("index over HTTPS: %s %s", resp.proto, resp.status)
	}
	first := resp.peer
	t.Logf("obtained serial %x, valid %s to %s", first.SerialNumber, first.NotBefore.Format(time.TimeOnly), first.NotAfter.Format(time.TimeOnly))
	if _, body = get(client, base+"/cgi-bin/env.sh", ""); !strings.Contains(body, "HTTPS=on") || !strings.Contains(body, "SERVER_PROTOCOL=HTTP/2.0") {
		t.Errorf("env.sh over HTTPS lacks HTTPS=on and HTTP/2.0:\n%s", body)
	}

	// Port 80's stand-in: a redirect to HTTPS for our name, 421 for any other.
	plain := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	httpBase := "http://" + net.JoinHostPort(loopback, strconv.Itoa(httpPort))
	if resp, _ := get(plain, httpBase+"/form.html?x=1", "localhost"); resp.code != http.StatusPermanentRedirect ||
		resp.location != base+"/form.html?x=1" {
		t.Errorf("plain HTTP: %s, Location %q; want 308 to %s/form.html?x=1", resp.status, resp.location, base)
	}
	if resp, _ := get(plain, httpBase+"/", "evil.example"); resp.code != http.StatusMisdirectedRequest {
		t.Errorf("plain HTTP for another host: %s, want 421", resp.status)
	}

	// Renewed while serving: a new connection gets a certificate with another serial, which
	// verifies too.
	deadline := time.Now().Add(2 * certLifetime * time.Second)
	for {
		tr.CloseIdleConnections()
		resp, _ := get(client, base+"/files/hello.txt", "")
		if now := resp.peer; now.SerialNumber.Cmp(first.SerialNumber) != 0 {
			t.Logf("renewed: serial %x, valid %s to %s", now.SerialNumber, now.NotBefore.Format(time.TimeOnly), now.NotAfter.Format(time.TimeOnly))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no renewal within %v:\n%s", 2*certLifetime*time.Second, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// buildTool builds a package named by a tool line of go.mod.
func buildTool(t *testing.T, pkg, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// freePort returns a port that was free on host a moment ago (pebble needs the HTTP-01
// port in its configuration before cgihttpd listens on it).
func freePort(t *testing.T, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPebble writes pebble's configuration and its HTTPS certificate (pebble-https.pem,
// which cgihttpd is told to trust) to dir, runs pebble on loopback with HTTP-01
// validation against httpPort, and returns its ACME and management addresses.
func startPebble(ctx context.Context, t *testing.T, bin, dir string, httpPort int) (string, string) {
	t.Helper()
	cert, _, err := tlsconf.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "pebble-https.pem"), filepath.Join(dir, "pebble-https.key")
	writePEM(t, certFile, "CERTIFICATE", cert.Certificate[0])
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	caAddr, mgmtAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t, "127.0.0.1"))), net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t, "127.0.0.1")))
	config := map[string]any{"pebble": map[string]any{
		"listenAddress":           caAddr,
		"managementListenAddress": mgmtAddr,
		"certificate":             certFile,
		"privateKey":              keyFile,
		"httpPort":                httpPort,
		"tlsPort":                 freePort(t, "127.0.0.1"),
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
		"profiles":                map[string]any{"default": map[string]any{"description": "short-lived, for the renewal test", "validityPeriod": certLifetime}},
	}}
	b, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(configFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := new(syncBuffer)
	cmd := exec.Command(bin, "-config", configFile)
	// No random sleeps before validating, no deliberately rejected nonces.
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := stopProcess(t, cmd, "pebble", out)
	for !strings.Contains(out.String(), "ACME directory available") {
		if ctx.Err() != nil || ended(exited) {
			t.Fatalf("pebble did not start:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return caAddr, mgmtAddr
}

// fetchPebble GETs path from pebble's management interface, trusting its HTTPS certificate.
func fetchPebble(t *testing.T, mgmtAddr, dir, path string) []byte {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(dir, "pebble-https.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + mgmtAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pebble %s: %s %v", path, resp.Status, err)
	}
	return b
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// stopProcess ends cmd with SIGINT when the test ends (SIGKILL after stopTimeout), and
// shows its output if the test failed.
func stopProcess(t *testing.T, cmd *exec.Cmd, name string, out fmt.Stringer) (exited <-chan struct{}) {
	t.Helper()
	done := make(chan error, 1)
	ended := make(chan struct{})
	go func() {
		err := cmd.Wait()
		close(ended)
		done <- err
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil && name == "cgihttpd" {
				t.Errorf("cgihttpd ended with %v after SIGINT", err)
			}
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			t.Errorf("%s still ran %v after SIGINT; killed it (%v)", name, stopTimeout, <-done)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out)
		}
	})
	return ended
}

// ended reports whether ch is closed.
func ended(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
