package server

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// fileCache keeps small static files in memory with their response headers made up front.
// An entry is used only while a fresh stat of its path shows the same file (os.SameFile),
// size and modification time: an edited or replaced file is read again on its next request.
// The stat is the one every static request makes anyway, so a hit costs no other system
// call, not even the confinement or CGI-alias checks: the entry's file passed them when it
// was read (see serveHot). Where change notification exists, hotFiles goes further and
// answers without the stat (see hotfiles_linux.go); it revokes entries through this cache.
//
// A file modified within racyWindow of being read is served but not kept: a file system's
// timestamps are coarse (a clock tick, or 2 s on FAT), so a same-size edit within the same
// tick would leave size and mtime as they were, and the stale content would be trusted.
type fileCache struct {
	mu      sync.RWMutex
	entries map[string]*cachedFile
	bytes   int64
	// watchEpoch counts the change watches ever added (by hotFiles). An entry records it
	// before its file is read, so an entry read before some watch on its path existed is
	// known as one whose changes that watch may have missed.
	watchEpoch atomic.Uint64
}

const racyWindow = 2 * time.Second

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
	wireHeader    []byte      // the same headers, with the status line, as the front writes them
	readEpoch     uint64      // watchEpoch before the file was read
	revoked       atomic.Bool // no longer the cache's entry for its path: never trusted again
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
	epoch, readStart := c.watchEpoch.Load(), time.Now()
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
		readEpoch:     epoch,
	}
	if !modTimeUnset(info.ModTime()) {
		e.lastModified = []string{info.ModTime().UTC().Format(http.TimeFormat)}
	}
	e.wireHeader = e.appendWireHeader(nil)
	if info.ModTime().After(readStart.Add(-racyWindow)) {
		e.revoked.Store(true) // this answer only
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(path)
	if len(c.entries) >= maxCacheFiles || c.bytes+size > maxCacheBytes {
		// Start over rather than track use: hot files come back on their next request.
		c.revokeAllLocked()
	}
	c.entries[path] = e
	c.bytes += size
	return e
}

func (c *fileCache) removeLocked(path string) {
	if old := c.entries[path]; old != nil {
		old.revoked.Store(true)
		c.bytes -= int64(len(old.content))
		delete(c.entries, path)
	}
}

func (c *fileCache) revokeAllLocked() {
	for _, e := range c.entries {
		e.revoked.Store(true)
	}
	clear(c.entries)
	c.bytes = 0
}

// serve answers r from e. A plain GET or HEAD gets the precomputed headers and the bytes;
// a conditional or Range request goes through http.ServeContent, as an uncached file does.
func (e *cachedFile) serve(w http.ResponseWriter, r *http.Request) {
	if hasAny(r.Header, conditionalHeaders...) {
		w.Header()["Content-Type"] = e.contentType
		http.ServeContent(w, r, e.info.Name(), e.info.ModTime(), bytes.NewReader(e.content))
		return
	}
	e.serveWhole(w, r)
}

// serveWhole answers 200 with the precomputed headers and the whole file (none for HEAD),
// and returns the body bytes written.
func (e *cachedFile) serveWhole(w http.ResponseWriter, r *http.Request) int64 {
	h := w.Header()
	h["Content-Type"] = e.contentType
	if e.lastModified != nil {
		h["Last-Modified"] = e.lastModified
	}
	h["Accept-Ranges"] = acceptRanges
	h["Content-Length"] = e.contentLength
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return 0
	}
	n, _ := w.Write(e.content)
	return int64(n)
}

// appendWireHeader appends the status line and the headers that serveWhole sets, as net/http
// writes them (less Date, which the writer adds).
func (e *cachedFile) appendWireHeader(b []byte) []byte {
	b = append(b, "HTTP/1.1 200 OK\r\nAccept-Ranges: bytes\r\nContent-Length: "...)
	b = append(b, e.contentLength[0]...)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, e.contentType[0]...)
	b = append(b, "\r\n"...)
	if e.lastModified != nil {
		b = append(b, "Last-Modified: "...)
		b = append(b, e.lastModified[0]...)
		b = append(b, "\r\n"...)
	}
	return b
}

var (
	acceptRanges = []string{"bytes"}
	// conditionalHeaders make an answer depend on more than the file: http.ServeContent's.
	conditionalHeaders = []string{"Range", "If-Modified-Since", "If-None-Match", "If-Match", "If-Unmodified-Since", "If-Range"}
)

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
