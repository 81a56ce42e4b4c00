package server

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	htpasswd "github.com/tg123/go-htpasswd"
	"golang.org/x/crypto/bcrypt"
)

// maxPasswdFile bounds the password file read into memory.
const maxPasswdFile = 16 << 20

// passwdPoll is how often, at most, the password file's identity is looked at again.
const passwdPoll = time.Second

// passwdForms are the hash forms accepted in a password file: the ones Apache's htpasswd
// writes with -B (bcrypt), -m (APR1-MD5, its default), -2 and -5 (SHA-crypt). Unsalted
// SHA-1 (-s), crypt(3) (-d) and plain text (-p) are refused: RejectPlain claims every line
// that none of the others took, so an unknown form is never read as a plain password.
var passwdForms = []htpasswd.PasswdParser{
	htpasswd.AcceptBcrypt,
	htpasswd.AcceptMd5,
	htpasswd.AcceptCryptSha,
	htpasswd.RejectPlain,
}

var errNoUsers = errors.New("no usable entries")

// passwdTable is one reading of the password file.
type passwdTable struct {
	users map[string]htpasswd.EncodedPasswd
	// decoy is checked for a name that is not in the file, so that an unknown user costs the
	// same hash work as a wrong password: it is the first entry's hash, so the two take the
	// same time when the file's entries share one form and cost, as htpasswd's do.
	decoy htpasswd.EncodedPasswd
	info  fs.FileInfo // fstat of the file this was read from
}

// passwdFile is an Apache htpasswd file, read at start and again when its identity, size,
// modification or change time differ (looked at on a request, at most every passwdPoll). A
// new version that cannot be read leaves the old one in force.
type passwdFile struct {
	path    string
	logger  hclog.Logger
	poll    time.Duration
	table   atomic.Pointer[passwdTable]
	checked atomic.Int64 // UnixNano of the last look at the file
	mu      sync.Mutex   // one reload at a time
}

func openPasswdFile(path string, logger hclog.Logger) (*passwdFile, error) {
	p := &passwdFile{path: path, logger: logger, poll: passwdPoll}
	t, err := p.read()
	if err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	if len(t.users) == 0 {
		logger.Warn("the auth file has no usable entries: every protected request will be refused", "file", path)
	}
	p.table.Store(t)
	p.checked.Store(time.Now().UnixNano())
	return p, nil
}

// verify reports whether user and password match an entry. It does the same hash work
// whether or not user exists; the hash libraries compare in constant time.
func (p *passwdFile) verify(user, password string) bool {
	p.refresh()
	t := p.table.Load()
	enc, known := t.users[user]
	if !known {
		enc = t.decoy
	}
	match := enc.MatchesPassword(password)
	return known && match
}

// refresh re-reads the file when it changed, looking at most every poll.
func (p *passwdFile) refresh() {
	now := time.Now().UnixNano()
	last := p.checked.Load()
	if now-last < int64(p.poll) || !p.checked.CompareAndSwap(last, now) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	info, err := os.Stat(p.path)
	if err != nil {
		p.logger.Warn("auth file not readable; keeping the users read before", "file", p.path, "error", err)
		return
	}
	if sameVersion(info, p.table.Load().info) {
		return
	}
	t, err := p.read()
	if err != nil {
		p.logger.Warn("auth file not re-read; keeping the users read before", "file", p.path, "error", err)
		return
	}
	p.table.Store(t)
	p.logger.Info("auth file re-read", "file", p.path, "users", len(t.users))
}

// sameVersion reports whether a and b describe the same file, unchanged.
func sameVersion(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && changeTime(a) == changeTime(b)
}

// read reads and parses the file; the fstat of what was read is kept to notice changes.
func (p *passwdFile) read() (*passwdTable, error) {
	f, err := os.Open(p.path)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPasswdFile+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(data) > maxPasswdFile {
		return nil, fmt.Errorf("larger than %d bytes", maxPasswdFile)
	}
	t, err := parsePasswd(data, p.logger)
	if err != nil && !errors.Is(err, errNoUsers) {
		return nil, err
	}
	t.info = info
	return t, nil
}

// parsePasswd reads "name:hash" lines. Blank lines and lines starting with '#' are skipped;
// a line in a form not accepted is logged (its number and name, never its hash) and
// skipped; of two lines for one name the first counts, as in Apache.
func parsePasswd(data []byte, logger hclog.Logger) (*passwdTable, error) {
	t := &passwdTable{users: make(map[string]htpasswd.EncodedPasswd)}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxPasswdFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			logger.Warn("auth file line skipped: want name:hash", "line", n)
			continue
		}
		if _, dup := t.users[name]; dup {
			logger.Warn("auth file line skipped: the name is already defined above", "line", n, "user", name)
			continue
		}
		enc, err := parseHash(hash)
		if err != nil {
			logger.Warn("auth file line skipped: hash form not accepted (use htpasswd -B, -m, -2 or -5)", "line", n, "user", name)
			continue
		}
		t.users[name] = enc
		if t.decoy == nil {
			t.decoy = enc
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read lines: %w", err)
	}
	if t.decoy == nil {
		// No users: every check fails, still after the work of one bcrypt hash.
		secret := make([]byte, 18)
		_, _ = rand.Read(secret)
		h, err := bcrypt.GenerateFromPassword(secret, bcrypt.DefaultCost)
		if err != nil {
			return nil, fmt.Errorf("decoy hash: %w", err)
		}
		if t.decoy, err = htpasswd.AcceptBcrypt(string(h)); err != nil || t.decoy == nil {
			return nil, fmt.Errorf("decoy hash: %w", err)
		}
		return t, errNoUsers
	}
	return t, nil
}

// parseHash returns the verifier for one hash in an accepted form.
func parseHash(hash string) (htpasswd.EncodedPasswd, error) {
	for _, parse := range passwdForms {
		enc, err := parse(hash)
		if err != nil {
			return nil, fmt.Errorf("hash: %w", err)
		}
		if enc != nil {
			return enc, nil
		}
	}
	return nil, errors.New("hash: unknown form")
}
