package server

import (
	"errors"
	"io/fs"
	"path"
	"strings"
)

var (
	errAboveRoot = errors.New("path climbs above the document root")
	errBadPath   = errors.New("malformed path")
)

// collapsePath turns an already percent-decoded URL path into an absolute path with no ".",
// ".." or empty segments. A trailing slash is kept, also when the last segment was "." or "..",
// as Python's _url_collapse_path does. A ".." above the root is an error, not a silent clamp.
func collapsePath(p string) (string, error) {
	if p == "" || p[0] != '/' {
		return "", errBadPath
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", errBadPath
	}
	if isCollapsed(p) {
		return p, nil // most paths: nothing to do, nothing to allocate
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) == 0 {
				return "", errAboveRoot
			}
			out = out[:len(out)-1]
		default:
			out = append(out, s)
		}
	}
	last := segs[len(segs)-1]
	trailing := last == "" || last == "." || last == ".."
	if len(out) == 0 {
		return "/", nil
	}
	joined := "/" + strings.Join(out, "/")
	if trailing {
		joined += "/"
	}
	return joined, nil
}

// isCollapsed reports whether the absolute path p has no empty, "." or ".." segment (but
// perhaps a final slash): collapsePath would return it unchanged.
func isCollapsed(p string) bool {
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		switch p[segStart:i] {
		case "":
			if i < len(p) { // "//"; an empty last segment is the final slash
				return false
			}
		case ".", "..":
			return false
		}
		segStart = i + 1
	}
	return true
}

// cgiPrefix returns the configured CGI directory that prefixes clean (segment-wise, exactly,
// case-sensitively), or "" when clean is not under any of them. The longest match wins.
func cgiPrefix(clean string, cgiDirs []string) string {
	best := ""
	for _, dir := range cgiDirs {
		if len(dir) <= len(best) {
			continue
		}
		if clean == dir || strings.HasPrefix(clean, dir+"/") {
			best = dir
		}
	}
	return best
}

// scriptTarget is the outcome of walking a CGI URL down to its script.
type scriptTarget struct {
	scriptName string      // URL path of the script: SCRIPT_NAME
	pathInfo   string      // the rest of the URL path: PATH_INFO ("" when none)
	rel        string      // the script's path below the root
	file       string      // its file-system path: SCRIPT_FILENAME, never opened by name
	info       fs.FileInfo // stat of rel; nil when it does not exist
	// opened is the script, when findScript found it by opening it: resolveScript takes it,
	// and whoever drops the target unused closes it (release).
	opened *opened
}

// release closes the script findScript opened, for a target that will not be resolved.
func (t scriptTarget) release() {
	if t.opened != nil {
		t.opened.close()
	}
}

// findScript walks from the CGI directory down while the next segment names a directory
// beneath the root; the first segment that does not is the script and the rest is
// PATH_INFO. When every segment is a directory, the target is the last directory itself.
// The walk only splits the URL: the script is then opened once, and that file is what is
// checked and run (resolveScript).
//
// The usual URL names the script itself: that is tried first by opening the whole path,
// which when it is a plain file ends the walk (every segment before it was a directory) and
// is the file resolveScript checks.
func (d *docRoot) findScript(clean, cgiDir string) scriptTarget {
	rest := strings.TrimPrefix(clean, cgiDir)
	if rest != "" && !strings.HasSuffix(rest, "/") {
		rel := relPath(clean)
		if o, err := d.open(rel); err == nil {
			if o.info.Mode().IsRegular() {
				return scriptTarget{scriptName: clean, rel: rel, file: d.fsPath(rel), info: o.info, opened: o}
			}
			o.close()
		}
	}
	t := scriptTarget{scriptName: cgiDir, rel: relPath(cgiDir)}
	t.info, _ = d.stat(t.rel)
	if t.info != nil && !t.info.IsDir() {
		t.info = nil // the CGI directory itself is never a script, even if a file has its name
	}
	for rest != "" && rest != "/" {
		if t.info == nil || !t.info.IsDir() {
			break
		}
		seg, _, _ := strings.Cut(rest[1:], "/")
		t.scriptName += "/" + seg
		t.rel = path.Join(t.rel, seg)
		t.info, _ = d.stat(t.rel)
		rest = rest[1+len(seg):]
	}
	if t.info != nil && !t.info.IsDir() {
		t.pathInfo = rest
	}
	t.file = d.fsPath(t.rel)
	return t
}
