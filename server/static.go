package server

import (
	"errors"
	"fmt"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// serveStatic serves the file or directory at the collapsed path clean the way Python's
// SimpleHTTPRequestHandler does, with http.ServeContent for conditional requests, Range and
// HEAD. It is opened once beneath the root, and that descriptor is what is checked (no CGI
// directory holds it, by any name; credentials if it really lies in a protected directory)
// and then served or listed; user is the one authorize verified, if any.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request, clean, user string, id uint64) {
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
	o, ok := s.openServable(relPath(clean), id)
	if !ok {
		writeError(w, http.StatusNotFound, "File not found")
		return
	}
	defer o.close()
	if _, ok := s.authorizeOpened(w, r, o, user, id); !ok {
		return
	}
	if o.info.IsDir() {
		if !strings.HasSuffix(clean, "/") {
			target := (&url.URL{Path: clean + "/", RawQuery: r.URL.RawQuery}).String()
			w.Header().Set("Location", target)
			writeError(w, http.StatusMovedPermanently, "Moved to "+target)
			return
		}
		for _, index := range s.indexes {
			if cgiExtOf(index, s.cgiExts) != "" {
				continue // a script, which extScript runs; never served as content
			}
			idx, ok := s.openServable(path.Join(o.rel, index), id)
			if !ok {
				continue
			}
			if _, ok := s.authorizeOpened(w, r, idx, user, id); !ok {
				idx.close()
				return
			}
			if idx.info.Mode().IsRegular() {
				s.serveFile(w, r, idx)
				idx.close()
				return
			}
			idx.close()
		}
		s.listDirectory(w, r, o, clean, id)
		return
	}
	if strings.HasSuffix(clean, "/") || !o.info.Mode().IsRegular() {
		// A FIFO or device would block or misbehave: only plain files are served.
		writeError(w, http.StatusNotFound, "File not found")
		return
	}
	s.serveFile(w, r, o)
}

// openServable opens rel beneath the root and returns it if it may be served or listed; it
// logs why not otherwise.
func (s *Server) openServable(rel string, id uint64) (*opened, bool) {
	o, err := s.docs.open(rel)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.logger.Info("static path not opened", "req_id", id, "path", rel, "error", err)
		}
		return nil, false
	}
	if err := s.docs.checkServable(o); err != nil {
		s.logger.Warn("static path refused", "req_id", id, "path", rel, "reason", err)
		o.close()
		return nil, false
	}
	return o, true
}

// serveFile serves the opened regular file o: from the small-file cache when o's fstat
// shows the very file that was cached, else from o itself (sendfile for large ones).
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, o *opened) {
	if cached := s.files.get(o.rel, o.info); cached != nil {
		cached.serve(w, r)
		return
	}
	if cached := s.files.put(o.rel, o.f, o.info); cached != nil {
		cached.serve(w, r)
		return
	}
	w.Header().Set("Content-Type", contentType(o.rel))
	http.ServeContent(w, r, o.info.Name(), o.info.ModTime(), o.f)
}

// contentType guesses by extension like Python's guess_type: unknown is octet-stream, never
// sniffed from the content.
func contentType(name string) string {
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// listDirectory lists the opened directory o. Entries are read from o itself; their details
// are stat'ed beneath the root, so an entry whose symlink leaves the root is left out.
func (s *Server) listDirectory(w http.ResponseWriter, r *http.Request, o *opened, clean string, id uint64) {
	entries, err := o.f.ReadDir(-1)
	if err != nil {
		s.logger.Warn("list directory failed", "req_id", id, "path", o.rel, "error", err)
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
		// Never DirEntry.Info: it stats by the full name, which a rename can lead outside.
		child := path.Join(o.rel, e.Name())
		var info fs.FileInfo
		var infoErr error
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			// What a link leads to is what a reader wants to know about; a link that leaves
			// the root (or leads nowhere) is not shown at all.
			if info, infoErr = s.docs.stat(child); infoErr != nil {
				continue
			}
			display += "@"
			if info.IsDir() {
				link += "/"
			}
		default:
			info, infoErr = s.docs.dir.Lstat(child)
			if e.IsDir() {
				display += "/"
				link += "/"
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
