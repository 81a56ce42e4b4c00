package server

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// fileCache keeps small static files in memory with their response headers made up front.
// An entry is used only while a fresh stat of its path shows the same file (os.SameFile),
// size and modification time: an edited or replaced file is read again on its next request.
// The stat is the one every static request makes anyway, so a hit costs no other system
// call, not even the confinement or CGI-alias checks: the entry's file passed them when it
// was read (see serveHot).
type fileCache struct {
	mu      sync.RWMutex
	entries map[string]*cachedFile
	bytes   int64
}

const (
	maxCachedFile = 64 << 10 // larger files are sent with sendfile from the open file
	maxCacheBytes = 32 << 20
	maxCacheFiles = 4096
)

// cachedFile is one file's content and the headers every full response to it carries.
type cachedFile struct {
	info          os.FileInfo
	content       []byte
	contentType   []string
	contentLength []string
	lastModified  []string
}

func newFileCache() *fileCache {
	return &fileCache{entries: make(map[string]*cachedFile)}
}

// get returns the entry for path if info (a fresh stat of path) shows the cached file.
func (c *fileCache) get(path string, info os.FileInfo) *cachedFile {
	c.mu.RLock()
	e := c.entries[path]
	c.mu.RUnlock()
	if e == nil || e.info.Size() != info.Size() || !e.info.ModTime().Equal(info.ModTime()) || !os.SameFile(e.info, info) {
		return nil
	}
	return e
}

// put reads f (open, regular, already confined to the root, described by info) into the
// cache when it is small enough, and returns the entry; nil means serve it from f.
func (c *fileCache) put(path string, f *os.File, info os.FileInfo) *cachedFile {
	size := info.Size()
	if size > maxCachedFile {
		return nil
	}
	content := make([]byte, size)
	if _, err := io.ReadFull(f, content); err != nil {
		return nil // changed under us: serve this one from the file, cache the next
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil
	}
	e := &cachedFile{
		info:          info,
		content:       content,
		contentType:   []string{contentType(path)},
		contentLength: []string{strconv.FormatInt(size, 10)},
	}
	if !modTimeUnset(info.ModTime()) {
		e.lastModified = []string{info.ModTime().UTC().Format(http.TimeFormat)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[path]; old != nil {
		c.bytes -= int64(len(old.content))
	}
	if len(c.entries) >= maxCacheFiles || c.bytes+size > maxCacheBytes {
		// Start over rather than track use: hot files come back on their next request.
		clear(c.entries)
		c.bytes = 0
	}
	c.entries[path] = e
	c.bytes += size
	return e
}

// serve answers r from e. A plain GET or HEAD gets the precomputed headers and the bytes;
// a conditional or Range request goes through http.ServeContent, as an uncached file does.
func (e *cachedFile) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = e.contentType
	if hasAny(r.Header, "Range", "If-Modified-Since", "If-None-Match", "If-Match", "If-Unmodified-Since", "If-Range") {
		http.ServeContent(w, r, e.info.Name(), e.info.ModTime(), bytes.NewReader(e.content))
		return
	}
	if e.lastModified != nil {
		h["Last-Modified"] = e.lastModified
	}
	h["Accept-Ranges"] = acceptRanges
	h["Content-Length"] = e.contentLength
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(e.content)
	}
}

var acceptRanges = []string{"bytes"}

// hasAny reports whether h has any of the canonical names, with a value that is not empty
// (as Header.Get sees it, without canonicalizing names that already are).
func hasAny(h http.Header, names ...string) bool {
	for _, name := range names {
		if v := h[name]; len(v) > 0 && v[0] != "" {
			return true
		}
	}
	return false
}

// modTimeUnset reports whether t says nothing, as http.ServeContent treats it (no
// Last-Modified then).
func modTimeUnset(t time.Time) bool { return t.IsZero() || t.Equal(time.Unix(0, 0)) }
