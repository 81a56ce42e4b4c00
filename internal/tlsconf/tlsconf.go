// Package tlsconf gives cgihttpd its TLS: a certificate and key from PEM files (the key
// possibly encrypted, with a passphrase from a file), re-read when the files change or on
// demand; a fresh self-signed certificate for development; or certificates obtained and renewed
// over ACME. Whatever the source, the result is a *tls.Config whose GetCertificate always
// answers with the source's current certificate, and Listener turns any net.Listener into a
// TLS one with it, so every listener the server serves on is wrapped the same way.
package tlsconf

import (
	"crypto/tls"
	"errors"
	"net"
)

var (
	// ErrNoCertificate means a file held no PEM certificate.
	ErrNoCertificate = errors.New("no PEM certificate found")
	// ErrNoKey means neither the key file nor the certificate file held a PEM private key.
	ErrNoKey = errors.New("no PEM private key found")
	// ErrPassword means the key is encrypted and the passphrase is missing or wrong.
	ErrPassword = errors.New("cannot decrypt the private key")
)

// Protocols lists the ALPN protocols offered: HTTP/2 first unless http1Only.
func Protocols(http1Only bool) []string {
	if http1Only {
		return []string{"http/1.1"}
	}
	return []string{"h2", "http/1.1"}
}

// ServerConfig returns the TLS configuration for serving HTTP with getCert's certificates:
// TLS 1.2 at least, and ALPN offering HTTP/2 unless http1Only.
func ServerConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), http1Only bool) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: getCert,
		NextProtos:     Protocols(http1Only),
	}
}

// Listener returns ln with every accepted connection wrapped in TLS under cfg. It is the one
// place a listener becomes a TLS listener: net/http sees *tls.Conn and so sets Request.TLS and
// hands "h2" connections to its HTTP/2 server.
func Listener(ln net.Listener, cfg *tls.Config) net.Listener {
	return tls.NewListener(ln, cfg)
}
