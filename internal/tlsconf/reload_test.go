package tlsconf

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
	"github.com/hashicorp/go-hclog"
)

// served dials a TLS listener and returns the common name of the certificate it presents.
func served(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads what is served
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// serveTLS accepts on a loopback TLS listener through Listener until the test ends.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln := Listener(ln, cfg)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = tln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// waitFor polls cond for up to 20 s (the poll interval is 50 ms: a generous margin for CI).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestReloaderServesRenewedPairToNewConnections(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c1, k1 := testutil.CertPEM(t, "first")
	write(t, certFile, c1)
	write(t, keyFile, k1)
	logs := &testutil.SyncBuffer{}
	r, err := NewReloader(Files{CertFile: certFile, KeyFile: keyFile}, 50*time.Millisecond, hclog.New(&hclog.LoggerOptions{Output: logs}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := serveTLS(t, ServerConfig(r.GetCertificate, false))
	if got := served(t, addr); got != "first" {
		t.Fatalf("serving %q", got)
	}

	// Half written: a new certificate beside the old key. The old pair stays, and why is logged.
	c2, k2 := testutil.CertPEM(t, "second")
	write(t, certFile, c2)
	waitFor(t, "the failed reload to be logged", func() bool { return bytes.Contains([]byte(logs.String()), []byte("not reloaded")) })
	if got := served(t, addr); got != "first" {
		t.Fatalf("a half-written pair was served: %q", got)
	}
	// The key arrives, as certbot writes it, by rename: the new pair goes to new connections.
	tmp := write(t, filepath.Join(dir, "key.tmp"), k2)
	if err := os.Rename(tmp, keyFile); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the renewed pair", func() bool { return served(t, addr) == "second" })

	// Certbot's way: live/ holds symlinks that are re-pointed at new files in archive/.
	c3, k3 := testutil.CertPEM(t, "third")
	archive3c, archive3k := write(t, filepath.Join(dir, "cert3.pem"), c3), write(t, filepath.Join(dir, "key3.pem"), k3)
	for _, swap := range [][2]string{{archive3k, keyFile}, {archive3c, certFile}} {
		link := swap[1] + ".link"
		if err := os.Symlink(swap[0], link); err != nil {
			t.Skipf("no symlinks here: %v", err)
		}
		if _, err := os.Lstat(link); err != nil {
			t.Skipf("no symlinks here (Wine reports one made, and makes none): %v", err)
		}
		if err := os.Rename(link, swap[1]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the pair behind the re-pointed symlinks", func() bool { return served(t, addr) == "third" })
}

func TestReloaderForcedReloadAndFailure(t *testing.T) {
	dir := t.TempDir()
	certFile := filepath.Join(dir, "both.pem")
	c1, k1 := testutil.CertPEM(t, "first")
	write(t, certFile, append(append([]byte{}, c1...), k1...))
	r, err := NewReloader(Files{CertFile: certFile}, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	cn := func() string {
		c, _ := r.GetCertificate(nil)
		return c.Leaf.Subject.CommonName
	}
	c2, k2 := testutil.CertPEM(t, "second")
	write(t, certFile, append(append([]byte{}, c2...), k2...))
	if got := cn(); got != "first" {
		t.Fatalf("changed before any reload: %q", got)
	}
	if err := r.Reload(); err != nil || cn() != "second" {
		t.Fatalf("Reload: %v, serving %q", err, cn())
	}
	write(t, certFile, []byte("truncated"))
	if err := r.Reload(); err == nil || cn() != "second" {
		t.Fatalf("Reload of a broken file: %v, serving %q", err, cn())
	}
	if _, err := NewReloader(Files{CertFile: certFile}, 0, nil); err == nil {
		t.Fatal("NewReloader accepted a broken file")
	}
}
