package server

import (
	"bytes"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// fileCache keeps small static files in memory with their response headers made up front.
// An entry answers a request only when the fstat of the descriptor that request just opened
// beneath the root shows the very file that was read: same device and inode, size,
// modification time and inode change time (where the platform keeps one). So it never answers for a file that the request's
// own checks did not pass, and any write, rename over or chmod is seen on the next request.
//
// A file changed within racyWindow of being read is served but not kept: timestamps are
// coarse (a clock tick, or 2 s on FAT), so a same-size edit within the same tick would leave
// them as they were, and the stale content would be trusted.
type fileCache struct {
	mu      sync.RWMutex
	entries map[string]*cachedFile
	bytes   int64
	racy    time.Duration // racyWindow; tests that write files and read them at once set 0
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
	ctime         int64 // changeTime(info)
	content       []byte
	contentType   []string
	contentLength []string
	lastModified  []string
}

func newFileCache() *fileCache {
	return &fileCache{entries: make(map[string]*cachedFile), racy: racyWindow}
}

// get returns the entry for rel if info, the fstat of the file just opened there, shows the
// cached file.
func (c *fileCache) get(rel string, info os.FileInfo) *cachedFile {
	c.mu.RLock()
	e := c.entries[rel]
	c.mu.RUnlock()
	if e == nil || e.info.Size() != info.Size() || !e.info.ModTime().Equal(info.ModTime()) ||
		e.ctime != changeTime(info) || !os.SameFile(e.info, info) {
		return nil
	}
	return e
}

// put reads f (opened beneath the root at rel and checked, regular, described by info) and
// returns an entry for it when it is small enough, kept for later requests unless it changed
// too recently; nil means serve it from f.
func (c *fileCache) put(rel string, f *os.File, info os.FileInfo) *cachedFile {
	size := info.Size()
	if size > maxCachedFile {
		return nil
	}
	readStart := time.Now()
	content := make([]byte, size)
	if _, err := f.ReadAt(content, 0); err != nil {
		return nil // changed under us: serve this one from the file, cache the next
	}
	e := &cachedFile{
		info:          info,
		ctime:         changeTime(info),
		content:       content,
		contentType:   []string{contentType(rel)},
		contentLength: []string{strconv.FormatInt(size, 10)},
	}
	if !modTimeUnset(info.ModTime()) {
		e.lastModified = []string{info.ModTime().UTC().Format(http.TimeFormat)}
	}
	recent := readStart.Add(-c.racy)
	if info.ModTime().After(recent) || time.Unix(0, e.ctime).After(recent) {
		return e // this answer only
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[rel]; old != nil {
		c.bytes -= int64(len(old.content))
	}
	if len(c.entries) >= maxCacheFiles || c.bytes+size > maxCacheBytes {
		// Start over rather than track use: hot files come back on their next request.
		clear(c.entries)
		c.bytes = 0
	}
	c.entries[rel] = e
	c.bytes += size
	return e
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
