package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cgihttpd/cgihttpd/internal/tlsconf"
)

// acmeObtainTimeout bounds getting the first ACME certificates at startup.
const acmeObtainTimeout = 5 * time.Minute

// tlsOptions are the flags for HTTPS (Python 3.14's --tls-* and -p, and ACME).
type tlsOptions struct {
	cert, key, passwordFile string
	selfSigned              bool
	protocol                string
	acme                    tlsconf.ACME
	acmeHTTPPort            int
}

func defineTLSFlags(fs *flag.FlagSet, t *tlsOptions) {
	fs.StringVar(&t.cert, "tls-cert", "", "")
	fs.StringVar(&t.key, "tls-key", "", "")
	fs.StringVar(&t.passwordFile, "tls-password-file", "", "")
	fs.BoolVar(&t.selfSigned, "tls-self-signed", false, "")
	fs.StringVar(&t.protocol, "p", "HTTP/1.1", "")
	fs.StringVar(&t.protocol, "protocol", "HTTP/1.1", "")
	fs.Var(listFlag{&t.acme.Domains}, "acme-domain", "")
	fs.StringVar(&t.acme.CA, "acme-ca", "", "")
	fs.StringVar(&t.acme.Email, "acme-email", "", "")
	fs.StringVar(&t.acme.Dir, "acme-dir", "", "")
	fs.StringVar(&t.acme.RootsFile, "acme-ca-root", "", "")
	fs.IntVar(&t.acmeHTTPPort, "acme-http-port", 80, "")
	fs.DurationVar(&t.acme.RenewCheck, "acme-renew-check", 10*time.Minute, "")
}

// options builds what tlsconf needs; bind is the --bind address.
func (t tlsOptions) options(bind string) tlsconf.Options {
	a := t.acme
	a.HTTPAddr = net.JoinHostPort(bind, strconv.Itoa(t.acmeHTTPPort))
	if len(a.Domains) == 0 {
		a.RenewCheck = 0 // its default is no sign of ACME
	}
	return tlsconf.Options{
		Files:      tlsconf.Files{CertFile: t.cert, KeyFile: t.key, PasswordFile: t.passwordFile},
		SelfSigned: t.selfSigned,
		Hosts:      []string{bind},
		ACME:       a,
		HTTP1Only:  t.protocol == "HTTP/1.0",
	}
}

func (t tlsOptions) check(bind string) error {
	if t.protocol != "HTTP/1.0" && t.protocol != "HTTP/1.1" {
		return fmt.Errorf("invalid --protocol %q: want HTTP/1.0 or HTTP/1.1", t.protocol)
	}
	if t.acmeHTTPPort < 1 || t.acmeHTTPPort > 65535 {
		return fmt.Errorf("invalid --acme-http-port %d", t.acmeHTTPPort)
	}
	if t.acme.RenewCheck <= 0 {
		return fmt.Errorf("invalid --acme-renew-check %s: must be positive", t.acme.RenewCheck)
	}
	return t.options(bind).Check()
}

// tlsConfigError is a TLS failure that is the command line's fault (exit 2), not the
// network's (exit 1).
type tlsConfigError struct{ err error }

func (e tlsConfigError) Error() string { return e.err.Error() }
func (e tlsConfigError) Unwrap() error { return e.err }

// startTLS makes the certificate source, and under ACME serves the challenge listener and
// obtains the certificates. It returns the function that makes a listener TLS (every listener
// the server serves on goes through it) and stop, which ends the file watcher, the SIGHUP
// handler, the challenge listener and renewals.
func startTLS(t tlsOptions, bind string, httpsPort int, logger hclog.Logger, stdout io.Writer) (wrap func(net.Listener) net.Listener, stop func(), err error) {
	src, err := tlsconf.New(t.options(bind), httpsPort, logger)
	if err != nil {
		return nil, nil, tlsConfigError{err}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var challenge *http.Server
	stop = func() {
		if challenge != nil {
			_ = challenge.Close()
		}
		cancel()
		wg.Wait()
		src.Close()
	}
	if fp := src.Fingerprint; fp != "" {
		_, _ = fmt.Fprintf(stdout, "Self-signed TLS certificate, SHA-256 fingerprint %s\n", fp)
		logger.Info("self-signed TLS certificate", "sha256", fp)
	}
	if h := src.ACMEHandler(); h != nil {
		addr := t.options(bind).ACME.HTTPAddr
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("ACME HTTP-01 listener: %w", err)
		}
		challenge = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
			ErrorLog: logger.Named("acme-http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := challenge.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("ACME HTTP-01 listener stopped", "error", err)
			}
		}()
		logger.Info("answering ACME HTTP-01 challenges and redirecting to HTTPS", "addr", ln.Addr().String())
		octx, ocancel := context.WithTimeout(ctx, acmeObtainTimeout)
		err = src.Obtain(octx)
		ocancel()
		if err != nil {
			stop()
			return nil, nil, err
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	wg.Add(2)
	go func() { defer wg.Done(); src.Run(ctx) }()
	go func() {
		defer wg.Done()
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := src.Reload(); err != nil {
					logger.Warn("SIGHUP: TLS certificate not reloaded", "error", err)
				}
			}
		}
	}()
	config := src.Config
	return func(ln net.Listener) net.Listener { return tlsconf.Listener(ln, config) }, stop, nil
}
