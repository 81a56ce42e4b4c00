package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Options is the command line's TLS choice: at most one of Files.CertFile, SelfSigned and
// ACME.Domains. None of them means plain HTTP.
type Options struct {
	Files      Files
	SelfSigned bool
	Hosts      []string // what a self-signed certificate is for, besides localhost
	ACME       ACME
	HTTP1Only  bool          // offer no HTTP/2 (--protocol HTTP/1.0)
	Poll       time.Duration // how often Files are looked at; 0 is DefaultPollInterval
}

// Enabled reports whether o asks for TLS at all.
func (o Options) Enabled() bool {
	return o.Files.CertFile != "" || o.SelfSigned || len(o.ACME.Domains) > 0
}

// Check reports a contradictory or incomplete choice, naming the flags.
func (o Options) Check() error {
	n := 0
	for _, on := range []bool{o.Files.CertFile != "", o.SelfSigned, len(o.ACME.Domains) > 0} {
		if on {
			n++
		}
	}
	switch {
	case n > 1:
		return errors.New("give only one of --tls-cert, --tls-self-signed and --acme-domain")
	case o.Files.CertFile == "" && (o.Files.KeyFile != "" || o.Files.PasswordFile != ""):
		return errors.New("--tls-key and --tls-password-file need --tls-cert")
	case len(o.ACME.Domains) == 0 && (o.ACME.CA != "" || o.ACME.Email != "" || o.ACME.Dir != "" || o.ACME.RootsFile != "" || o.ACME.RenewCheck != 0):
		return errors.New("the --acme-* flags need --acme-domain")
	}
	return nil
}

// Source is where a TLS server's certificates come from while it runs.
type Source struct {
	Config      *tls.Config
	Fingerprint string // of a self-signed certificate, else ""
	reloader    *Reloader
	acme        *ACMEManager
}

// New loads or makes the certificate that o names (for ACME: prepares the manager; the
// caller serves ACMEHandler on ACME.HTTPAddr, then calls Obtain). httpsPort is the TLS
// listener's port. Bad files, a wrong password or a bad ACME setting are errors.
func New(o Options, httpsPort int, logger hclog.Logger) (*Source, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	s := &Source{}
	var get func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	switch {
	case o.Files.CertFile != "":
		r, err := NewReloader(o.Files, o.Poll, logger)
		if err != nil {
			return nil, err
		}
		s.reloader, get = r, r.GetCertificate
	case o.SelfSigned:
		cert, fp, err := SelfSigned(o.Hosts...)
		if err != nil {
			return nil, err
		}
		s.Fingerprint = fp
		get = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }
	case len(o.ACME.Domains) > 0:
		m, err := NewACME(o.ACME, httpsPort, logger)
		if err != nil {
			return nil, err
		}
		s.acme, get = m, m.GetCertificate
	default:
		return nil, errors.New("no TLS certificate source given")
	}
	s.Config = ServerConfig(get, o.HTTP1Only)
	return s, nil
}

// ACMEHandler is what the port-80 listener serves under ACME (challenges, then redirects);
// nil otherwise.
func (s *Source) ACMEHandler() http.Handler {
	if s.acme == nil {
		return nil
	}
	return s.acme.HTTPHandler()
}

// Obtain gets ACME certificates (a no-op for the other sources).
func (s *Source) Obtain(ctx context.Context) error {
	if s.acme == nil {
		return nil
	}
	return s.acme.Obtain(ctx)
}

// Run watches the certificate files until ctx ends (returns at once for other sources).
func (s *Source) Run(ctx context.Context) {
	if s.reloader != nil {
		s.reloader.Run(ctx)
	}
}

// Reload re-reads the certificate files now (SIGHUP). Self-signed and ACME certificates
// have nothing to re-read: certmagic renews on its own.
func (s *Source) Reload() error {
	if s.reloader == nil {
		return fmt.Errorf("nothing to reload: the certificate is not from --tls-cert")
	}
	return s.reloader.Reload()
}

// Close stops ACME renewals.
func (s *Source) Close() {
	if s.acme != nil {
		s.acme.Close()
	}
}
