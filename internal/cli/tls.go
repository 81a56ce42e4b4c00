package cli

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/cgihttpd/cgihttpd/internal/tlsconf"
)

// TLS is the command line's HTTPS: Python 3.14's --tls-* and -p, --tls-self-signed, and ACME.
// tlsconf checks the combination (Options.Check), where it is used.
type TLS struct {
	Cert, Key, PasswordFile string
	SelfSigned              bool
	Protocol                string // HTTP/1.0 or HTTP/1.1
	ACME                    tlsconf.ACME
	ACMEHTTPPort            int
}

func tlsDefaults() TLS {
	return TLS{Protocol: "HTTP/1.1", ACMEHTTPPort: 80, ACME: tlsconf.ACME{RenewCheck: 10 * time.Minute}}
}

func defineTLS(fs *pflag.FlagSet, o *Options) {
	t := &o.TLS
	fs.StringVarP(&t.Protocol, "protocol", "p", t.Protocol, "`VERSION`: HTTP/1.1, or HTTP/1.0, which answers as HTTP/1.0 and closes the connection after each answer, as Python does")
	fs.StringVar(&t.Cert, "tls-cert", t.Cert, "serve HTTPS and HTTP/2 with this PEM certificate chain (`FILE`); re-read when it changes, and on SIGHUP")
	fs.StringVar(&t.Key, "tls-key", t.Key, "its PEM private key (`FILE`; default: the key is in the --tls-cert file)")
	fs.StringVar(&t.PasswordFile, "tls-password-file", t.PasswordFile, "`FILE` holding the key's passphrase (encrypted PKCS#8 or legacy PEM keys)")
	fs.BoolVar(&t.SelfSigned, "tls-self-signed", t.SelfSigned, "serve HTTPS with a fresh in-memory certificate for the bind address and localhost; its SHA-256 fingerprint is printed at start")
	fs.StringArrayVar(&t.ACME.Domains, "acme-domain", t.ACME.Domains, "obtain and renew a certificate for `NAME` over ACME and serve HTTPS; repeatable")
	fs.StringVar(&t.ACME.CA, "acme-ca", t.ACME.CA, "the ACME directory `URL` (default Let's Encrypt)")
	fs.StringVar(&t.ACME.Email, "acme-email", t.ACME.Email, "contact `ADDRESS` for the ACME account")
	fs.StringVar(&t.ACME.Dir, "acme-dir", t.ACME.Dir, "`DIR` for the ACME account key and certificates (default: cgihttpd/acme in the user's configuration directory)")
	fs.StringVar(&t.ACME.RootsFile, "acme-ca-root", t.ACME.RootsFile, "trust these PEM roots (`FILE`) for the ACME server's own HTTPS (a private CA)")
	fs.IntVar(&t.ACMEHTTPPort, "acme-http-port", t.ACMEHTTPPort, "`PORT` on the bind address that answers HTTP-01 challenges and redirects to HTTPS")
	fs.DurationVar(&t.ACME.RenewCheck, "acme-renew-check", t.ACME.RenewCheck, "how often ACME certificates are checked for renewal")
}

// Options returns what tlsconf needs; bind is the --bind address.
func (t TLS) Options(bind string) tlsconf.Options {
	a := t.ACME
	a.HTTPAddr = net.JoinHostPort(bind, strconv.Itoa(t.ACMEHTTPPort))
	if len(a.Domains) == 0 {
		a.RenewCheck = 0 // its default is no sign of ACME
	}
	return tlsconf.Options{
		Files:      tlsconf.Files{CertFile: t.Cert, KeyFile: t.Key, PasswordFile: t.PasswordFile},
		SelfSigned: t.SelfSigned,
		Hosts:      []string{bind},
		ACME:       a,
		HTTP1Only:  t.Protocol == "HTTP/1.0",
	}
}

// check validates what the command line owns: the protocol, the ACME port and interval, and
// which TLS flags go together (tlsconf.Options.Check).
func (t TLS) check() error {
	switch {
	case t.Protocol != "HTTP/1.0" && t.Protocol != "HTTP/1.1":
		return fmt.Errorf("invalid --protocol %q: want HTTP/1.0 or HTTP/1.1", t.Protocol)
	case t.ACMEHTTPPort < 1 || t.ACMEHTTPPort > 65535:
		return fmt.Errorf("invalid --acme-http-port %d", t.ACMEHTTPPort)
	case t.ACME.RenewCheck <= 0:
		return fmt.Errorf("invalid --acme-renew-check %s: must be positive", t.ACME.RenewCheck)
	}
	return t.Options("").Check()
}
