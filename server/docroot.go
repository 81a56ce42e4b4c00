package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// docRoot is the document root, opened once. Every request's file-system access goes
// through it: a name is opened beneath the root (openat2 RESOLVE_BENEATH on Linux, else
// os.Root), which refuses any ".." or symlink that leaves it, also while the tree changes
// under it; and what is then served,
// listed, cached or run is the descriptor that open returned, never the name looked up again.
//
// Where a file really is (inside a CGI directory or not) is read from that descriptor too
// (fileLocation), so no second name for a file — a symlink, a case or 8.3 spelling, a hard
// link — changes what may be done with it.
type docRoot struct {
	dir      *os.Root
	fast     beneath  // the same root for openat2 on Linux: fewer system calls than dir
	path     string   // absolute path of the root as configured
	realPath string   // path with symlinks resolved at startup: for absolute symlinks only
	cgiDirs  []string // cleaned URL paths of the CGI directories
	cgiExts  []string // CGI extensions, lower case with their dot
}

// opened is a file or directory opened beneath the root, with its fstat.
type opened struct {
	f    *os.File
	info fs.FileInfo
	rel  string // slash-separated path below the root; "." for the root itself
}

func (o *opened) close() { _ = o.f.Close() }

// maxAliasWalk bounds the entries read below the CGI directories when a static file with
// more than one hard link is checked for a name inside them; past it, the file is refused.
const maxAliasWalk = 10000

var (
	errCGIAlias     = errors.New("a CGI script, by this or another name")
	errAliasUnknown = errors.New("too many files to rule out a hard link to a CGI script")
)

func openDocRoot(dir string, cgiDirs []string) (*docRoot, error) {
	realPath, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("document root: %w", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("document root: %w", err)
	}
	// Every request asks where its file really is: fail now, not on every request, where that
	// cannot be told (Linux without /proc mounted).
	if f, err := r.Open("."); err == nil {
		_, lerr := fileLocation(f)
		_ = f.Close()
		if lerr != nil && !errors.Is(lerr, errors.ErrUnsupported) {
			_ = r.Close()
			return nil, fmt.Errorf("document root: cannot tell where files really are (is /proc mounted?): %w", lerr)
		}
	}
	return &docRoot{dir: r, fast: newBeneath(dir), path: dir, realPath: realPath, cgiDirs: cgiDirs}, nil
}

func (d *docRoot) close() {
	d.fast.close()
	_ = d.dir.Close()
}

// openFile opens rel beneath the root: through openat2 where it can, else os.Root.
func (d *docRoot) openFile(rel string) (*os.File, error) {
	f, err := d.fast.open(rel, d.fsPath(rel))
	if errors.Is(err, errors.ErrUnsupported) {
		return d.dir.Open(rel)
	}
	return f, err
}

// relPath turns a collapsed URL path into the name below the root that os.Root takes.
func relPath(clean string) string {
	rel := strings.Trim(clean, "/")
	if rel == "" {
		return "."
	}
	return rel
}

// fsPath is the file-system path of rel as the configuration names it: for logs and for the
// script's environment (SCRIPT_FILENAME), never for opening.
func (d *docRoot) fsPath(rel string) string {
	return filepath.Join(d.path, filepath.FromSlash(rel))
}

// open opens rel beneath the root and fstats what it got. An absolute symlink on the way,
// which os.Root never follows, is resolved by name and the result opened beneath the root
// again: that costs the name check a race, but whatever the second open finds is still
// beneath the root.
func (d *docRoot) open(rel string) (*opened, error) {
	f, err := d.openFile(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
		if inside, ok := d.resolveByName(rel); ok && inside != rel {
			f, err = d.openFile(inside)
			rel = inside
		}
	}
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	return &opened{f: f, info: info, rel: rel}, nil
}

// stat is open and close, for walking a CGI path: only the final open is trusted.
func (d *docRoot) stat(rel string) (fs.FileInfo, error) {
	info, err := d.dir.Stat(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
		if inside, ok := d.resolveByName(rel); ok && inside != rel {
			return d.dir.Stat(inside)
		}
	}
	return info, err
}

// resolveByName resolves every symlink of rel by name and returns the result relative to
// the root, or false when it lies outside.
func (d *docRoot) resolveByName(rel string) (string, bool) {
	real, err := filepath.EvalSymlinks(d.fsPath(rel))
	if err != nil {
		return "", false
	}
	inside, err := filepath.Rel(d.realPath, real)
	if err != nil || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) || filepath.IsAbs(inside) {
		return "", false
	}
	return filepath.ToSlash(inside), true
}

// location returns where o really is, symlinks resolved: from the descriptor where the
// platform can tell (fileLocation), else from its name.
func (d *docRoot) location(o *opened) (string, error) { return d.locate(o.f, o.rel) }

func (d *docRoot) locate(f *os.File, rel string) (string, error) {
	loc, err := fileLocation(f)
	if errors.Is(err, errors.ErrUnsupported) {
		return filepath.EvalSymlinks(d.fsPath(rel))
	}
	return loc, err
}

// cgiDirLocation returns where the directory rel (a CGI or a protected directory) really
// is; ok is false when it cannot be opened beneath the root.
func (d *docRoot) cgiDirLocation(rel string) (loc string, ok bool, err error) {
	loc, found, err := d.fast.locate(rel)
	if !errors.Is(err, errors.ErrUnsupported) {
		if !found {
			return "", false, nil
		}
		return loc, err == nil, err
	}
	f, err := d.dir.Open(rel)
	if err != nil {
		return "", false, nil
	}
	defer func() { _ = f.Close() }()
	loc, err = d.locate(f, rel)
	return loc, err == nil, err
}

// cgiReason returns why o is a CGI script, judged by where it really is: it is not a
// directory and its real name has a CGI extension (why is "CGI extension", name the
// extension), or a CGI directory holds it ("CGI directory" and its URL path); "" when
// neither.
func (d *docRoot) cgiReason(o *opened, first ...string) (why, name string, err error) {
	loc, err := d.location(o)
	if err != nil {
		return "", "", fmt.Errorf("locate %s: %w", o.rel, err)
	}
	if ext := cgiExtOf(filepath.Base(loc), d.cgiExts); ext != "" && !o.info.IsDir() { // a directory is no script
		return "CGI extension", ext, nil
	}
	if len(first) > 0 && d.atItsName(loc, o.rel) && within(o.rel, relPath(first[0])) {
		return "CGI directory", first[0], nil
	}
	dir, err := d.cgiDirAt(loc, first...)
	if dir != "" {
		return "CGI directory", dir, err
	}
	return "", "", err
}

// atItsName reports whether the real location loc is rel below the root's real location: no
// symlink led there. Then every directory named on the way is on loc's real path, and a CGI
// directory that rel names holds the file; that answer costs no look-up. (It assumes the
// root itself has not moved since the start, which only someone with write access outside
// it could do; a moved root fails the comparison in all but contrived cases, and any
// failure takes the full look-up, cgiDirAt.)
func (d *docRoot) atItsName(loc, rel string) bool {
	return sameName(loc, filepath.Join(d.realPath, filepath.FromSlash(rel)))
}

// cgiDirHolding returns the CGI directory (its URL path) whose real location holds o, or ""
// when none does.
func (d *docRoot) cgiDirHolding(o *opened, first ...string) (string, error) {
	loc, err := d.location(o)
	if err != nil {
		return "", fmt.Errorf("locate %s: %w", o.rel, err)
	}
	return d.cgiDirAt(loc, first...)
}

// inLocations reports whether the real location of o is one of the directories at the URL
// paths dirs, or lies below one; a directory that cannot be opened beneath the root holds
// nothing.
func (d *docRoot) inLocations(o *opened, dirs []string) (bool, error) {
	loc, err := d.location(o)
	if err != nil {
		return false, fmt.Errorf("locate %s: %w", o.rel, err)
	}
	for _, dir := range dirs {
		dirLoc, ok, err := d.cgiDirLocation(relPath(dir))
		if err != nil {
			return false, fmt.Errorf("locate %s: %w", dir, err)
		}
		if ok && within(loc, dirLoc) {
			return true, nil
		}
	}
	return false, nil
}

// cgiDirAt returns the CGI directory whose real location holds the real location loc, or "".
// Where each CGI directory really is, is found afresh for every request (one can be replaced
// or moved while the server runs), first for the CGI directories in first: a script's own,
// whose answer ends the search. A CGI directory that cannot be opened beneath the root
// (missing, or a symlink out of it) holds nothing that could be reached through it.
func (d *docRoot) cgiDirAt(loc string, first ...string) (string, error) {
	for _, dirs := range [][]string{first, d.cgiDirs} {
		for _, dir := range dirs {
			dirLoc, ok, err := d.cgiDirLocation(relPath(dir))
			if err != nil {
				return "", fmt.Errorf("locate CGI directory %s: %w", dir, err)
			}
			if ok && within(loc, dirLoc) {
				return dir, nil
			}
		}
	}
	return "", nil
}

// checkServable returns nil when o may be served as content or listed: its real location is
// in no CGI directory and has no CGI extension, and (where fstat counts links) no other hard
// link to it is or has either.
func (d *docRoot) checkServable(o *opened) error {
	why, name, err := d.cgiReason(o)
	if err != nil {
		return err
	}
	if why != "" {
		return fmt.Errorf("%w: %s %s", errCGIAlias, why, name)
	}
	if o.info.Mode().IsRegular() && linkCount(o.info) > 1 {
		return d.checkHardLinks(o.info)
	}
	return nil
}

// checkHardLinks looks for info's file by identity below every CGI directory, and with CGI
// extensions anywhere below the root, reading them beneath the root and never following a
// symlink (a link is another name, not the file).
func (d *docRoot) checkHardLinks(info fs.FileInfo) error {
	budget := maxAliasWalk
	var walk func(rel string, byExt bool) error
	walk = func(rel string, byExt bool) error {
		dir, err := d.dir.Open(rel)
		if err != nil {
			return nil // gone, or not a directory: nothing below it to find
		}
		entries, err := dir.ReadDir(-1)
		_ = dir.Close()
		if err != nil {
			return nil
		}
		for _, e := range entries {
			if budget--; budget < 0 {
				return errAliasUnknown
			}
			child := path.Join(rel, e.Name())
			switch {
			case e.IsDir():
				if err := walk(child, byExt); err != nil {
					return err
				}
			case e.Type().IsRegular() && (!byExt || cgiExtOf(e.Name(), d.cgiExts) != ""):
				// Lstat beneath the root: DirEntry.Info would stat by the full name.
				if st, err := d.dir.Lstat(child); err == nil && os.SameFile(st, info) {
					return fmt.Errorf("%w: hard link %s", errCGIAlias, child)
				}
			}
		}
		return nil
	}
	for _, dir := range d.cgiDirs {
		if err := walk(relPath(dir), false); err != nil {
			return err
		}
	}
	if len(d.cgiExts) > 0 {
		return walk(".", true)
	}
	return nil
}

// within reports whether the real location loc is dir or lies below it.
func within(loc, dir string) bool {
	if len(loc) < len(dir) || !sameName(loc[:len(dir)], dir) {
		return false
	}
	rest := loc[len(dir):]
	return rest == "" || os.IsPathSeparator(rest[0]) || os.IsPathSeparator(dir[len(dir)-1])
}

// sameName compares two locations as the platform's usual file systems do: without regard
// to case on Windows and macOS.
func sameName(a, b string) bool {
	if caseInsensitiveNames {
		return strings.EqualFold(a, b)
	}
	return a == b
}
