package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

// TestBadTLSExit2: a missing or unreadable certificate, a wrong or missing password and
// contradictory TLS flags each give one line naming the problem and exit 2.
func TestBadTLSExit2(t *testing.T) {
	dir := testutil.WorldDir(t)
	td := filepath.Join("..", "..", "internal", "tlsconf", "testdata")
	wrong := filepath.Join(dir, "wrong")
	writeFile(t, wrong, []byte("wrong-horse\n"))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", filepath.Join(dir, "missing.pem")}, "TLS certificate"},
		{[]string{"--tls-cert", filepath.Join(td, "openssl.crt"), "--tls-key", filepath.Join(td, "openssl-pkcs8.key"), "--tls-password-file", wrong}, "cannot decrypt"},
		{[]string{"--tls-cert", filepath.Join(td, "openssl.crt"), "--tls-key", filepath.Join(td, "openssl-legacy.key"), "--tls-password-file", wrong}, "cannot decrypt"},
		{[]string{"--tls-cert", filepath.Join(td, "openssl.crt"), "--tls-key", filepath.Join(td, "openssl-pkcs8.key")}, "--tls-password-file"},
		{[]string{"--tls-cert", filepath.Join(td, "openssl.crt")}, "no PEM private key"},
		{[]string{"--tls-key", filepath.Join(td, "openssl-pkcs8.key")}, "need --tls-cert"},
		{[]string{"--tls-cert", filepath.Join(td, "openssl.crt"), "--tls-self-signed"}, "only one of"},
		{[]string{"--acme-email", "a@example.com"}, "need --acme-domain"},
		{[]string{"-p", "HTTP/2"}, "--protocol"},
		{[]string{"--acme-domain", "example.com", "--acme-ca-root", filepath.Join(dir, "missing.pem"), "--acme-dir", dir}, "ACME CA roots"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(append(c.args, "-d", dir, "0"), &stdout, &stderr)
		lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
		if code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "cgihttpd: ") || !strings.Contains(lines[0], c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line with %q", c.args, code, stderr.String(), c.want)
		}
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
