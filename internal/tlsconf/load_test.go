package tlsconf

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cgihttpd/cgihttpd/internal/testutil"
)

func write(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadSeparateAndCombined(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := testutil.CertPEM(t, "separate")
	cert, err := Load(Files{CertFile: write(t, filepath.Join(dir, "c.pem"), certPEM), KeyFile: write(t, filepath.Join(dir, "k.pem"), keyPEM)})
	if err != nil {
		t.Fatal(err)
	}
	if cert.Leaf.Subject.CommonName != "separate" {
		t.Errorf("loaded %q", cert.Leaf.Subject.CommonName)
	}
	// Python's default: no --tls-key means the key is in the certificate file (either order).
	combined := write(t, filepath.Join(dir, "both.pem"), append(append([]byte{}, keyPEM...), certPEM...))
	if _, err := Load(Files{CertFile: combined}); err != nil {
		t.Errorf("key and certificate in one file: %v", err)
	}
}

func TestLoadOpenSSLEncryptedKeys(t *testing.T) {
	// Made by `openssl req -x509 -newkey rsa:2048 -passout …` (PKCS#8, PBES2) and
	// `openssl rsa -traditional -aes128` (legacy PEM encryption).
	for _, key := range []string{"testdata/openssl-pkcs8.key", "testdata/openssl-legacy.key"} {
		t.Run(filepath.Base(key), func(t *testing.T) {
			f := Files{CertFile: "testdata/openssl.crt", KeyFile: key, PasswordFile: "testdata/password.txt"}
			cert, err := Load(f)
			if err != nil {
				t.Fatalf("with the right password: %v", err)
			}
			if cert.Leaf.Subject.CommonName != "localhost" {
				t.Errorf("loaded %q", cert.Leaf.Subject.CommonName)
			}
			f.PasswordFile = write(t, filepath.Join(t.TempDir(), "wrong"), []byte("wrong-horse\n"))
			if _, err := Load(f); !errors.Is(err, ErrPassword) {
				t.Errorf("wrong password: got %v, want ErrPassword", err)
			}
			f.PasswordFile = ""
			if _, err := Load(f); !errors.Is(err, ErrPassword) || !strings.Contains(err.Error(), "--tls-password-file") {
				t.Errorf("no password: got %v, want ErrPassword naming --tls-password-file", err)
			}
		})
	}
}

func TestLoadBadFiles(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := testutil.CertPEM(t, "a")
	otherCert, _ := testutil.CertPEM(t, "b")
	cert := write(t, filepath.Join(dir, "c.pem"), certPEM)
	key := write(t, filepath.Join(dir, "k.pem"), keyPEM)
	garbage := write(t, filepath.Join(dir, "garbage"), []byte("not PEM at all\n"))
	cases := []struct {
		name string
		f    Files
		want string
	}{
		{"missing certificate", Files{CertFile: filepath.Join(dir, "nope"), KeyFile: key}, "nope"},
		{"certificate not PEM", Files{CertFile: garbage, KeyFile: key}, ErrNoCertificate.Error()},
		{"key not PEM", Files{CertFile: cert, KeyFile: garbage}, ErrNoKey.Error()},
		{"no key in the certificate file", Files{CertFile: cert}, ErrNoKey.Error()},
		{"key of another certificate", Files{CertFile: write(t, filepath.Join(dir, "o.pem"), otherCert), KeyFile: key}, "does not match"},
		{"missing password file", Files{CertFile: "testdata/openssl.crt", KeyFile: "testdata/openssl-pkcs8.key", PasswordFile: filepath.Join(dir, "nope")}, "password file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.f)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestSelfSigned(t *testing.T) {
	cert, fp, err := SelfSigned("0.0.0.0", "192.0.2.7", "example.test")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	for _, name := range []string{"localhost", "127.0.0.1", "192.0.2.7", "example.test"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("not valid for %s: %v", name, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "other.test"}); err == nil {
		t.Error("valid for a name it was not made for")
	}
	if fp != Fingerprint(cert.Certificate[0]) || len(fp) != 32*3-1 {
		t.Errorf("fingerprint %q", fp)
	}
	again, fp2, err := SelfSigned()
	if err != nil || fp2 == fp || again.Leaf.SerialNumber.Cmp(cert.Leaf.SerialNumber) == 0 {
		t.Errorf("a second certificate is not fresh: %v", err)
	}
}
