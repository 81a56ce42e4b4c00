package server

import (
	"fmt"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// staticFile is a static request path with what is on disk there.
type staticFile struct {
	clean, fsPath string
	info          fs.FileInfo // nil when nothing can be found there
}

func (s *Server) staticTarget(clean string) staticFile {
	t := staticFile{clean: clean, fsPath: filepath.Join(s.root, filepath.FromSlash(clean))}
	if info, err := os.Stat(t.fsPath); err == nil {
		t.info = info
	}
	return t
}

// serveHot answers a GET or HEAD of a file in the hot-file cache and reports whether it did.
// An entry exists only for a path that passed every check (confinement, CGI directory
// aliases) when it was cached, and is used only while the stat shows the very same file,
// size and mtime: serving it again reveals nothing that was not served then. So a hit skips
// those checks, which stat every directory on the way.
func (s *Server) serveHot(w http.ResponseWriter, r *http.Request, t staticFile) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	cached := s.freshCached(t, time.Now())
	if cached == nil {
		return false
	}
	cached.serve(w, r)
	return true
}

// freshCached returns t's fileCache entry, and makes t's path hot (again), when the stat in t
// shows the cached file; else nil.
func (s *Server) freshCached(t staticFile, now time.Time) *cachedFile {
	if t.info == nil || !t.info.Mode().IsRegular() || strings.HasSuffix(t.clean, "/") {
		return nil
	}
	s.hot.readPending()
	cached := s.files.get(t.fsPath, t.info)
	if cached != nil {
		s.hot.promote(t.clean, t.fsPath, cached, now)
	}
	return cached
}

// recheckHot is for a path that was hot but is no longer trusted (hotTrust passed, or a
// change came): it stats it as dispatch would, and returns the entry to answer with if the
// file is still the cached one, hot again. So a connection whose first request comes after
// a quiet second stays with the front. Like lookup, it relies on the path having passed
// dispatch's other checks (clean, not refused, not a CGI path) when it was made hot: they
// depend on nothing that changes while the server runs.
func (s *Server) recheckHot(clean string, now time.Time) *cachedFile {
	return s.freshCached(s.staticTarget(clean), now)
}

// serveHotDirect answers an unconditional GET or HEAD of a hot path (see hotFiles) with the
// status and body size that it reports for the access log. It writes to the connection's
// own ResponseWriter, without the access-log wrapper, so that a hot hit allocates nothing
// beyond what net/http allocates for every request.
func (s *Server) serveHotDirect(w http.ResponseWriter, r *http.Request, now time.Time) (int64, bool) {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || hasAny(r.Header, conditionalHeaders...) {
		return 0, false
	}
	// Only clean paths that passed every check were made hot, so the raw path is the key.
	cached := s.hot.lookup(r.URL.Path, now)
	if cached == nil {
		return 0, false
	}
	return cached.serveWhole(w, r), true
}

// serveStatic serves a file or a directory the way Python's SimpleHTTPRequestHandler does,
// with http.ServeContent for conditional requests, Range and HEAD.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request, t staticFile, id uint64) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		writeError(w, http.StatusNotImplemented, "Can only POST to CGI scripts")
		return
	default:
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusNotImplemented, fmt.Sprintf("Unsupported method (%s)", r.Method))
		return
	}
	clean, fsPath, info := t.clean, t.fsPath, t.info
	if info == nil || !s.confined(fsPath) {
		writeError(w, http.StatusNotFound, "File not found")
		return
	}
	if info.IsDir() {
		if !strings.HasSuffix(clean, "/") {
			target := (&url.URL{Path: clean + "/", RawQuery: r.URL.RawQuery}).String()
			w.Header().Set("Location", target)
			writeError(w, http.StatusMovedPermanently, "Moved to "+target)
			return
		}
		for _, index := range []string{"index.html", "index.htm"} {
			p := filepath.Join(fsPath, index)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && s.confined(p) {
				s.serveFile(w, r, p, "", id)
				return
			}
		}
		s.listDirectory(w, r, fsPath, clean, id)
		return
	}
	if strings.HasSuffix(clean, "/") || !info.Mode().IsRegular() {
		// A FIFO or device would block or misbehave: only plain files are served.
		writeError(w, http.StatusNotFound, "File not found")
		return
	}
	s.serveFile(w, r, fsPath, clean, id)
}

// serveFile serves the regular file at fsPath. hotKey is the request path that may answer
// with it from memory from now on; "" for a directory's index, which a new file can change.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, fsPath, hotKey string, id uint64) {
	f, err := os.Open(fsPath)
	if err != nil {
		s.logger.Warn("open failed", "req_id", id, "path", fsPath, "error", err)
		writeError(w, http.StatusNotFound, "File not found")
		return
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		writeError(w, http.StatusNotFound, "File not found")
		return
	}
	if cached := s.files.put(fsPath, f, info); cached != nil {
		if hotKey != "" {
			s.hot.promote(hotKey, fsPath, cached, time.Now())
		}
		cached.serve(w, r)
		return
	}
	w.Header().Set("Content-Type", contentType(fsPath))
	http.ServeContent(w, r, info.Name(), info.ModTime(), f)
}

// contentType guesses by extension like Python's guess_type: unknown is octet-stream, never
// sniffed from the content.
func contentType(name string) string {
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (s *Server) listDirectory(w http.ResponseWriter, r *http.Request, fsPath, clean string, id uint64) {
	entries, err := os.ReadDir(fsPath)
	if err != nil {
		s.logger.Warn("list directory failed", "req_id", id, "path", fsPath, "error", err)
		writeError(w, http.StatusNotFound, "No permission to list directory")
		return
	}
	sort.Slice(entries, func(i, j int) bool {
		a, b := strings.ToLower(entries[i].Name()), strings.ToLower(entries[j].Name())
		if a != b {
			return a < b
		}
		return entries[i].Name() < entries[j].Name()
	})
	var b strings.Builder
	title := "Directory listing for " + clean
	fmt.Fprintf(&b, listingHead, htmlEscape(title), htmlEscape(title))
	if clean != "/" {
		b.WriteString(`<li><a href="../">../</a></li>` + "\n")
	}
	for _, e := range entries {
		display, link := e.Name(), url.PathEscape(e.Name())
		info, infoErr := e.Info()
		switch {
		case e.IsDir():
			display += "/"
			link += "/"
		case e.Type()&os.ModeSymlink != 0:
			display += "@"
			// What a link leads to is what a reader wants to know about.
			if st, err := os.Stat(filepath.Join(fsPath, e.Name())); err == nil {
				info, infoErr = st, nil
				if st.IsDir() {
					link += "/"
				}
			}
		}
		meta := ""
		if infoErr == nil {
			meta = info.ModTime().UTC().Format("2006-01-02 15:04")
			if info.Mode().IsRegular() {
				meta = formatSize(info.Size()) + " · " + meta
			}
		}
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a><span>%s</span></li>\n", htmlEscape(link), htmlEscape(display), meta)
	}
	b.WriteString(listingFoot)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(b.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(b.String()))
	}
}

// pageStyle is shared by listings and error pages: no external assets, readable from a
// phone's width up, and dark when the reader's system is.
const pageStyle = `<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:48em;margin:1.5em auto;padding:0 1em}
h1{font-size:1.4em;overflow-wrap:anywhere}
ul{list-style:none;padding:0;border-top:1px solid #8884}
li{display:flex;flex-wrap:wrap;justify-content:space-between;gap:0 1em;padding:.35em 0;border-bottom:1px solid #8884}
li a{overflow-wrap:anywhere}
li span,footer{color:#888;font-size:.875em;white-space:nowrap}
</style>
`

const listingHead = `<!DOCTYPE html>
<html lang="en"><head>
` + pageStyle + `<title>%s</title>
</head><body>
<h1>%s</h1>
<ul>
`

const listingFoot = "</ul>\n<footer>cgihttpd</footer>\n</body></html>\n"

// formatSize writes n bytes the way ls -h does, in powers of 1024.
func formatSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, unit := float64(n)/1024, 0
	for f >= 1024 && unit < 4 {
		f /= 1024
		unit++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTP"[unit])
}

func htmlEscape(s string) string { return html.EscapeString(s) }

// baseName is the last segment of a URL path.
func baseName(p string) string { return path.Base(p) }
