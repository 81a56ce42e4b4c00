package platform_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/cgihttpd/cgihttpd/internal/tlsconf"
	"github.com/cgihttpd/cgihttpd/server"
)

// startTLS serves f's test site over TLS the way cgihttpd does (tlsconf.Listener around a
// loopback listener, net/http's server, HTTP/2 offered by ALPN) with a self-signed
// certificate, and returns the site's address and a client that trusts the certificate and
// speaks HTTP/2 when h2 is set, else only HTTP/1.1.
func startTLS(t *testing.T, f executorFactory, h2 bool) (string, *http.Client, *testutil.SyncBuffer) {
	t.Helper()
	env := startServer(t, f, nil) // the site, the executor and the server; its plain listener goes unused
	cert, _, err := tlsconf.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: env.srv, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: hclog.New(&hclog.LoggerOptions{Output: env.logs}).StandardLogger(nil)}
	tln := tlsconf.Listener(server.TuneListener(ln), tlsconf.ServerConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }, false))
	served := make(chan error, 1)
	go func() { served <- hs.Serve(tln) }()
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // HTTP/1.1 only
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return ln.Addr().String(), client, env.logs
}

// TestOverTLS: a static file, a CGI script's environment and an nph script over HTTPS, with
// HTTP/1.1 and with HTTP/2 (where an nph script's status line and headers are relayed, since
// an HTTP/2 stream cannot be taken over).
func TestOverTLS(t *testing.T) {
	f := firstFactory()
	for _, proto := range []struct {
		name   string
		h2     bool
		wantSP string // SERVER_PROTOCOL
	}{{"HTTP/1.1", false, "HTTP/1.1"}, {"HTTP/2", true, "HTTP/2.0"}} {
		t.Run(proto.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			addr, client, logs := startTLS(t, f, proto.h2)
			get := func(path string) (*reply, string) {
				t.Helper()
				req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, body := testutil.Do(t, client, req)
				if resp.Request == nil || resp.StatusCode == 0 {
					t.Fatalf("no response for %s", path)
				}
				return resp, body
			}
			check := func(path string, resp *reply, body string, wantStatus int) {
				t.Helper()
				if resp.StatusCode != wantStatus {
					t.Errorf("%s: status %d, want %d; body:\n%s\nlog:\n%s", path, resp.StatusCode, wantStatus, body, logs.String())
				}
			}

			resp, body := get("/hello.txt")
			check("/hello.txt", resp, body, http.StatusOK)
			if body != "hello, static world\n" {
				t.Errorf("static body %q", body)
			}

			resp, body = get("/cgi-bin/env" + f.ext + "/extra?q=1")
			check("env", resp, body, http.StatusOK)
			e := envOf(body)
			want := map[string]string{"HTTPS": "on", "REQUEST_SCHEME": "https", "SERVER_PORT": portOf(addr),
				"SERVER_PROTOCOL": proto.wantSP, "PATH_INFO": "/extra", "QUERY_STRING": "q=1"}
			for k, v := range want {
				if e[k] != v {
					t.Errorf("%s=%q, want %q", k, e[k], v)
				}
			}

			path := "/cgi-bin/nph-raw" + f.ext
			resp, body = get(path)
			check(path, resp, body, 299)
			if resp.Header.Get("X-Nph") != "raw" || body != "raw body\n" {
				t.Errorf("nph: X-Nph %q, body %q", resp.Header.Get("X-Nph"), body)
			}
			if proto.h2 && resp.Header.Get("Connection") != "" {
				t.Errorf("a Connection header reached an HTTP/2 client: %q", resp.Header.Get("Connection"))
			}
			// Keep-alive after an nph answer under HTTP/2: the stream ended, not the connection.
			if resp, body = get("/hello.txt"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "hello") {
				t.Errorf("after the nph script: %d %q", resp.StatusCode, body)
			}
		})
	}
}
