package server

import (
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// serveStatic serves a file or a directory the way Python's SimpleHTTPRequestHandler does,
// with http.ServeContent for conditional requests, Range and HEAD.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request, clean string, id uint64) {
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
	fsPath := filepath.Join(s.root, filepath.FromSlash(clean))
	info, err := os.Stat(fsPath)
	if err != nil || !insideRoot(s.realRoot, fsPath) {
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
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && insideRoot(s.realRoot, p) {
				s.serveFile(w, r, p, id)
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
	s.serveFile(w, r, fsPath, id)
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, fsPath string, id uint64) {
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
		switch {
		case e.IsDir():
			display += "/"
			link += "/"
		case e.Type()&os.ModeSymlink != 0:
			display += "@"
			if st, err := os.Stat(filepath.Join(fsPath, e.Name())); err == nil && st.IsDir() {
				link += "/"
			}
		}
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a></li>\n", htmlEscape(link), htmlEscape(display))
	}
	b.WriteString(listingFoot)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(b.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(b.String()))
	}
}

const listingHead = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>body{font-family:system-ui,sans-serif;max-width:48em;margin:1.5em auto;padding:0 1em}
ul{list-style:none;padding:0}li{padding:.2em 0;border-bottom:1px solid #eee;overflow-wrap:anywhere}</style>
</head><body>
<h1>%s</h1>
<hr>
<ul>
`

const listingFoot = "</ul>\n<hr>\n</body></html>\n"

func htmlEscape(s string) string { return html.EscapeString(s) }

// baseName is the last segment of a URL path.
func baseName(p string) string { return path.Base(p) }
