package cli

import (
	"strings"
	"testing"
	"time"
)

func TestParseTLS(t *testing.T) {
	o, err := Parse([]string{"-p", "HTTP/1.0", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-password-file", "pw", "8443"})
	if err != nil {
		t.Fatal(err)
	}
	topts := o.TLS.Options("::1")
	if o.Port != 8443 || !topts.HTTP1Only || topts.Files.CertFile != "c.pem" || topts.Files.KeyFile != "k.pem" ||
		topts.Files.PasswordFile != "pw" || !topts.Enabled() || topts.ACME.RenewCheck != 0 {
		t.Errorf("parsed %+v", topts)
	}
	o, err = Parse([]string{"--acme-domain", "a.example", "--acme-domain", "b.example", "--acme-http-port", "8080", "--acme-renew-check", "1s"})
	if err != nil {
		t.Fatal(err)
	}
	a := o.TLS.Options("0.0.0.0").ACME
	if len(a.Domains) != 2 || a.HTTPAddr != "0.0.0.0:8080" || a.RenewCheck != time.Second || o.TLS.Options("").HTTP1Only {
		t.Errorf("parsed %+v", a)
	}
	if o, err := Parse(nil); err != nil || o.TLS.Options("127.0.0.1").Enabled() || o.TLS.Protocol != "HTTP/1.1" {
		t.Errorf("defaults: %v, %+v", err, o.TLS)
	}
	for _, bad := range [][]string{
		{"-p", "HTTP/2"},
		{"--protocol", "http/1.1"},
		{"--acme-http-port", "0", "--acme-domain", "x"},
		{"--acme-renew-check", "0s", "--acme-domain", "x"},
		{"--tls-key", "k.pem"},
		{"--tls-password-file", "pw"},
		{"--tls-cert", "c.pem", "--acme-domain", "x"},
		{"--tls-self-signed", "--tls-cert", "c.pem"},
		{"--acme-ca", "https://ca.example/dir"},
	} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "-") {
			t.Errorf("%q: got %v, want an error naming the flag", bad, err)
		}
	}
}
