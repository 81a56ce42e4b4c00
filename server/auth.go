package server

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

var errAuthNeedsFile = errors.New("auth paths given without an auth file")

// AuthConfig asks clients for HTTP Basic credentials checked against an Apache htpasswd
// file. The zero value asks for none.
type AuthConfig struct {
	// File is the htpasswd file (bcrypt, APR1-MD5 or SHA-crypt entries); "" means no
	// authentication. It is read by New, and again when it changes.
	File string
	// Paths are the URL path prefixes that need credentials, matched segment-wise (and
	// without regard to case where file names are so compared); nil means every path.
	Paths []string
	// Realm is named in the WWW-Authenticate challenge.
	Realm string
	// MaxFailures is how many wrong credentials a client (an address; an IPv6 /64) may send
	// in a minute before it gets 429 until the minute is over; negative means no limit.
	MaxFailures int
}

// authenticator checks requests to the protected paths.
type authenticator struct {
	file      *passwdFile
	paths     []string
	challenge string // WWW-Authenticate value
	limit     *failureLimiter
	logger    hclog.Logger
	// hashing holds a token per password check under way: a hash costs CPU by design, and
	// requests with credentials, from one client or many, must not take every core.
	hashing chan struct{}
}

// authOutcome is what a request's credentials came to.
type authOutcome int

const (
	authNone      authOutcome = iota // no credentials needed, or none sent: see user
	authOK                           // verified: user is set
	authMissing                      // none or malformed: 401
	authWrong                        // wrong name or password: 401, counted
	authLimited                      // too many failures from this client: 429
	authUntracked                    // wrong, and the client could not be counted: 401
	authGone                         // the client left while its check waited: no answer needed
)

// newAuthenticator checks cfg and reads its file; it returns nil when cfg asks for nothing.
func newAuthenticator(cfg AuthConfig, logger hclog.Logger) (*authenticator, error) {
	if cfg.File == "" {
		if cfg.Paths != nil {
			return nil, errAuthNeedsFile
		}
		return nil, nil
	}
	realm := cfg.Realm
	if strings.ContainsFunc(realm, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, fmt.Errorf("auth realm %q: control characters are not allowed", realm)
	}
	a := &authenticator{
		challenge: `Basic realm="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(realm) + `", charset="UTF-8"`,
		logger:    logger,
		hashing:   make(chan struct{}, max(1, runtime.NumCPU()/2)),
	}
	paths := cfg.Paths
	if paths == nil {
		paths = []string{"/"}
	}
	for _, p := range paths {
		clean, err := collapsePath(p)
		if err != nil {
			return nil, fmt.Errorf("auth path %q: must be an absolute URL path", p)
		}
		a.paths = append(a.paths, strings.TrimSuffix(clean, "/"))
	}
	if cfg.MaxFailures > 0 {
		a.limit = newFailureLimiter(cfg.MaxFailures, authWindow)
	}
	var err error
	if a.file, err = openPasswdFile(cfg.File, logger); err != nil {
		return nil, err
	}
	return a, nil
}

// protects reports whether clean needs credentials.
func (a *authenticator) protects(clean string) bool {
	for _, p := range a.paths {
		if p == "" {
			return true // "/": everything
		}
		if len(clean) >= len(p) && sameName(clean[:len(p)], p) && (len(clean) == len(p) || clean[len(p)] == '/') {
			return true
		}
	}
	return false
}

// everything reports whether every path is protected.
func (a *authenticator) everything() bool { return slices.Contains(a.paths, "") }

// check verifies r's Basic credentials for a protected path; client is its address as the
// server believes it (trusted proxies applied).
func (a *authenticator) check(r *http.Request, client string) (string, authOutcome, time.Duration) {
	key, keyed := clientKey(client)
	if a.limit != nil && keyed {
		if wait, blocked := a.limit.blocked(key); blocked {
			return "", authLimited, wait
		}
	}
	user, password, ok := r.BasicAuth()
	if !ok || user == "" {
		return "", authMissing, 0
	}
	select {
	case a.hashing <- struct{}{}:
	case <-r.Context().Done():
		return user, authGone, 0
	}
	verified := a.file.verify(user, password)
	<-a.hashing
	if verified {
		return user, authOK, 0
	}
	if a.limit != nil && keyed && !a.limit.fail(key) {
		return user, authUntracked, 0
	}
	return user, authWrong, 0
}

// authorize answers a request to a protected path that lacks valid credentials (401 or 429)
// and returns false; otherwise it returns the verified user ("" when the path is open).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, clean string, id uint64) (string, bool) {
	if s.auth == nil || !s.auth.protects(clean) {
		return "", true
	}
	return s.demandCredentials(w, r, clean, id)
}

// authorizeOpened is authorize for the file or directory o that a request not yet
// authorized opened: o needs credentials when it really lies in a protected directory,
// whatever name reached it (a symlink from an open path; on Windows an 8.3 or other-case
// spelling). user is what authorize returned.
func (s *Server) authorizeOpened(w http.ResponseWriter, r *http.Request, o *opened, user string, id uint64) (string, bool) {
	if s.auth == nil || user != "" || s.auth.everything() {
		return user, true
	}
	protected, err := s.docs.inLocations(o, s.auth.paths)
	if err != nil {
		s.auth.logger.Warn("cannot tell whether a file lies in a protected directory; asking for credentials", "req_id", id, "path", o.rel, "error", err)
		protected = true
	}
	if !protected {
		return "", true
	}
	return s.demandCredentials(w, r, "/"+o.rel, id)
}

// demandCredentials checks r's credentials for a protected path, and answers 401 or 429
// when they do not do.
func (s *Server) demandCredentials(w http.ResponseWriter, r *http.Request, clean string, id uint64) (string, bool) {
	client, _, _ := s.clientAddr(r)
	user, outcome, wait := s.auth.check(r, client)
	switch outcome {
	case authOK:
		if lw, ok := w.(*logResponseWriter); ok {
			lw.user = user // the access line's user field
		}
		return user, true
	case authLimited:
		secs := int(math.Ceil(wait.Seconds()))
		s.auth.logger.Warn("login refused: too many failures", "req_id", id, "client", client, "retry_after", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, "Too many failed logins; try again later")
		return "", false
	case authGone:
		s.auth.logger.Debug("client went away while its password check waited", "req_id", id, "client", client)
		return "", false
	case authWrong, authUntracked:
		s.auth.logger.Warn("login failed", "req_id", id, "client", client, "user", user, "path", clean)
		if outcome == authUntracked {
			s.auth.logger.Warn("too many clients with failed logins to count this one", "req_id", id, "client", client)
		}
	default:
		s.auth.logger.Debug("credentials required", "req_id", id, "client", client, "path", clean)
	}
	w.Header().Set("WWW-Authenticate", s.auth.challenge)
	writeError(w, http.StatusUnauthorized, "Credentials required")
	return "", false
}

// warnIfAuthFileServed warns when the password file lies inside the document root, where
// anyone who may read files there could fetch its hashes and try them offline.
func (s *Server) warnIfAuthFileServed() {
	if s.auth == nil {
		return
	}
	file, err1 := filepath.EvalSymlinks(s.auth.file.path)
	root, err2 := filepath.EvalSymlinks(s.root)
	if err1 != nil || err2 != nil {
		return
	}
	if rel, err := filepath.Rel(root, file); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		s.logger.Warn("the auth file lies inside the document root, where it can be downloaded; move it out", "file", file)
	}
}

// WarnIfCleartextAuth logs a warning when the server asks for Basic credentials on a
// listener that is neither TLS nor loopback: the password would cross the network in clear.
func (s *Server) WarnIfCleartextAuth(addr net.Addr, tls bool) {
	if s.auth == nil || tls {
		return
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return
	}
	s.logger.Warn("Basic credentials travel in clear text on this listener: serve it behind a TLS proxy or on loopback only", "addr", addr.String())
}
