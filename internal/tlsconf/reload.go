package tlsconf

import (
	"context"
	"crypto/tls"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// DefaultPollInterval is how often a Reloader looks at its files when none is configured.
const DefaultPollInterval = 2 * time.Second

// Reloader serves the certificate of a Files pair and re-reads it when the files change. It
// looks at the files' identity (which file, size, modification time: what a renewal that
// writes new files, or renames or re-links them into place, changes) every poll interval,
// with no file-system notification, so it works the same on every system and on network
// file systems. A pair that fails to load (half written, a key that does not match) leaves the
// current certificate in place and is logged once; it is tried again when the files change
// again.
type Reloader struct {
	files    Files
	interval time.Duration
	log      hclog.Logger

	cert atomic.Pointer[tls.Certificate]
	mu   sync.Mutex    // serialises loads and guards seen
	seen []os.FileInfo // the files' identity at the last load attempt
}

// NewReloader loads the pair once, failing if it does not load, and returns a Reloader that
// serves it. interval ≤ 0 means DefaultPollInterval; a nil logger discards logs.
func NewReloader(f Files, interval time.Duration, logger hclog.Logger) (*Reloader, error) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	r := &Reloader{files: f, interval: interval, log: logger.Named("tls")}
	r.seen = r.identity()
	cert, err := Load(f)
	if err != nil {
		return nil, err
	}
	r.cert.Store(cert)
	return r, nil
}

// GetCertificate returns the current certificate; it fits tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Reload reads the pair now, whether or not the files changed (SIGHUP). On error the current
// certificate stays.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = r.identity()
	return r.load("reload requested")
}

// Run polls the files until ctx ends, reloading when their identity changes.
func (r *Reloader) Run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.poll()
		}
	}
}

func (r *Reloader) poll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.identity()
	if sameIdentity(now, r.seen) {
		return
	}
	r.seen = now
	_ = r.load("files changed")
}

// load reads the pair and, when it loads, serves it to new connections. r.mu is held.
func (r *Reloader) load(why string) error {
	cert, err := Load(r.files)
	if err != nil {
		r.log.Error("TLS certificate not reloaded; still serving the previous one", "why", why, "error", err)
		return err
	}
	r.cert.Store(cert)
	r.log.Info("TLS certificate reloaded", "why", why, "cert", r.files.CertFile, "not_after", cert.Leaf.NotAfter)
	return nil
}

// identity stats each file (following symlinks, as a renewal often swaps the link); a file
// that cannot be stat'ed is nil.
func (r *Reloader) identity() []os.FileInfo {
	names := []string{r.files.CertFile, r.files.KeyFile, r.files.PasswordFile}
	out := make([]os.FileInfo, len(names))
	for i, n := range names {
		if n == "" {
			continue
		}
		if fi, err := os.Stat(n); err == nil {
			out[i] = fi
		}
	}
	return out
}

func sameIdentity(a, b []os.FileInfo) bool {
	for i := range a {
		switch {
		case a[i] == nil || b[i] == nil:
			if a[i] != b[i] {
				return false
			}
		case !os.SameFile(a[i], b[i]) || a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()):
			return false
		}
	}
	return true
}
