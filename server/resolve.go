package server

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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
	file       string      // file-system path of the script
	info       fs.FileInfo // stat of file; nil when it does not exist
}

// findScript walks from the CGI directory down while the next segment names a directory on
// disk; the first segment that does not is the script and the rest is PATH_INFO.
// When every segment is a directory, the target is the last directory itself.
func findScript(root, clean, cgiDir string) scriptTarget {
	rest := strings.TrimPrefix(clean, cgiDir)
	t := scriptTarget{scriptName: cgiDir, file: filepath.Join(root, filepath.FromSlash(cgiDir))}
	t.info, _ = os.Stat(t.file)
	if t.info != nil && !t.info.IsDir() {
		t.info = nil // the CGI directory itself is never a script, even if a file has its name
	}
	for rest != "" && rest != "/" {
		if t.info == nil || !t.info.IsDir() {
			break
		}
		seg, _, _ := strings.Cut(rest[1:], "/")
		t.scriptName += "/" + seg
		t.file = filepath.Join(t.file, seg)
		t.info, _ = os.Stat(t.file)
		rest = rest[1+len(seg):]
	}
	if t.info != nil && !t.info.IsDir() {
		t.pathInfo = rest
	}
	return t
}

// insideRoot reports whether path, with every symlink resolved, lies within realRoot (itself
// already resolved). A path that cannot be resolved is not inside.
func insideRoot(realRoot, path string) bool {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(realRoot, real)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel))
}
