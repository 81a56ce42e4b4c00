package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LetsEncrypt is the ACME directory used when none is given.
const LetsEncrypt = certmagic.LetsEncryptProductionCA

// ACME says which certificates to obtain over ACME and from where. Domains is required; the
// zero value of every other field is a default.
type ACME struct {
	Domains []string
	CA      string // the ACME directory URL; "" is Let's Encrypt
	Email   string // the account's contact, optional
	// Dir is where the account key and certificates are kept; "" is DefaultACMEDir.
	Dir string
	// RootsFile, if set, holds the PEM roots trusted for the CA's own HTTPS (a private or
	// test CA); otherwise the system's roots.
	RootsFile string
	// HTTPAddr is the address of the listener that answers the HTTP-01 challenge (the
	// caller serves HTTPHandler there): the CA connects to port 80 unless it is a test CA.
	HTTPAddr string
	// RenewCheck is how often certificates are checked for renewal; 0 is certmagic's default.
	RenewCheck time.Duration
}

// DefaultACMEDir is the storage directory used when ACME.Dir is empty: "cgihttpd/acme" under
// the user's configuration directory (~/.config on Linux).
func DefaultACMEDir() (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("ACME storage: %w (give a directory)", err)
	}
	return filepath.Join(base, "cgihttpd", "acme"), nil
}

// ACMEManager obtains and renews certificates with certmagic, the library behind Caddy's
// automatic HTTPS. It answers the HTTP-01 challenge on the caller's port-80 listener
// (TLS-ALPN-01 is off: the TLS listener may serve on a port the CA never dials).
type ACMEManager struct {
	domains  []string
	httpsURL func(host string) string
	cfg      *certmagic.Config
	cache    *certmagic.Cache
	issuer   *certmagic.ACMEIssuer
	log      hclog.Logger
}

// NewACME prepares the manager; Obtain then gets the certificates. httpsPort is the port the
// HTTPS listener serves on, for the redirects of HTTPHandler.
func NewACME(a ACME, httpsPort int, logger hclog.Logger) (*ACMEManager, error) {
	if len(a.Domains) == 0 {
		return nil, errors.New("ACME needs at least one domain")
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	log := logger.Named("acme")
	if a.Dir == "" {
		dir, err := DefaultACMEDir()
		if err != nil {
			return nil, err
		}
		a.Dir = dir
	}
	if a.CA == "" {
		a.CA = LetsEncrypt
	}
	var roots *x509.CertPool
	if a.RootsFile != "" {
		pem, err := os.ReadFile(a.RootsFile)
		if err != nil {
			return nil, fmt.Errorf("ACME CA roots: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ACME CA roots %s: %w", a.RootsFile, ErrNoCertificate)
		}
	}
	host, portStr, err := net.SplitHostPort(a.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("ACME HTTP-01 address %q: %w", a.HTTPAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("ACME HTTP-01 port %q: %w", portStr, err)
	}
	zl := zapLogger(log)
	m := &ACMEManager{domains: a.Domains, log: log}
	m.httpsURL = func(h string) string {
		if httpsPort == 443 {
			return "https://" + h
		}
		return "https://" + net.JoinHostPort(h, strconv.Itoa(httpsPort))
	}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.cfg, nil },
		RenewCheckInterval: a.RenewCheck,
		Logger:             zl,
	})
	m.cfg = certmagic.New(m.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: a.Dir},
		// Let's Encrypt ended OCSP in 2025; stapling would only try the network in vain.
		OCSP:    certmagic.OCSPConfig{DisableStapling: true},
		OnEvent: m.onEvent,
		Logger:  zl,
	})
	m.issuer = certmagic.NewACMEIssuer(m.cfg, certmagic.ACMEIssuer{
		CA:                      a.CA,
		Email:                   a.Email,
		Agreed:                  true,
		DisableTLSALPNChallenge: true,
		ListenHost:              host,
		AltHTTPPort:             port,
		TrustedRoots:            roots,
		Logger:                  zl,
	})
	m.cfg.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

// Obtain loads the certificates from storage or obtains them, and keeps them renewed until
// Close. The HTTP-01 listener must already be serving HTTPHandler.
func (m *ACMEManager) Obtain(ctx context.Context) error {
	if err := m.cfg.ManageSync(ctx, m.domains); err != nil {
		return fmt.Errorf("ACME certificates for %s: %w", strings.Join(m.domains, ", "), err)
	}
	return nil
}

// GetCertificate fits tls.Config.GetCertificate.
func (m *ACMEManager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.cfg.GetCertificate(hello)
}

// HTTPHandler answers the CA's HTTP-01 challenges and redirects every other request for one
// of the domains to HTTPS (308, so that a POST stays a POST). A request for any other host
// gets 421: the redirect never sends a client where its own Host header says.
func (m *ACMEManager) HTTPHandler() http.Handler {
	return m.issuer.HTTPChallengeHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(host)
		if !slices.Contains(m.domains, host) {
			m.log.Info("plain HTTP request for a host that is not ours", "host", r.Host, "remote", r.RemoteAddr)
			http.Error(w, "Misdirected Request", http.StatusMisdirectedRequest)
			return
		}
		http.Redirect(w, r, m.httpsURL(host)+r.URL.RequestURI(), http.StatusPermanentRedirect)
	}))
}

// Close stops renewals.
func (m *ACMEManager) Close() { m.cache.Stop() }

func (m *ACMEManager) onEvent(_ context.Context, event string, data map[string]any) error {
	var kv []any
	for _, k := range []string{"identifier", "renewal", "remaining", "issuer", "error"} {
		if v, ok := data[k]; ok {
			kv = append(kv, k, fmt.Sprint(v))
		}
	}
	switch event {
	case "cert_obtaining":
		m.log.Info("obtaining a certificate", kv...)
	case "cert_obtained":
		m.log.Info("certificate obtained", kv...)
	case "cert_failed":
		m.log.Error("certificate not obtained", kv...)
	}
	return nil
}

// zapLogger sends certmagic's warnings and errors to log, with hclog's "[LEVEL]" prefixes.
func zapLogger(log hclog.Logger) *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
		MessageKey: "msg",
		LevelKey:   "level",
		EncodeLevel: func(l zapcore.Level, pe zapcore.PrimitiveArrayEncoder) {
			pe.AppendString("[" + l.CapitalString() + "]")
		},
	})
	w := log.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zap.WarnLevel))
}
