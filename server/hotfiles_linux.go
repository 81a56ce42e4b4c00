package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// inotifyHotFiles makes a static file hot once inotify watches the file and every directory
// from the document root down to it, and revokes its fileCache entry on any event there:
// the file written, truncated, touched, linked, moved or deleted, or a directory on the way
// moved, deleted or replaced. A watch on the file itself also sees writes through another
// hard link.
//
// A CGI path's resolution (script, PATH_INFO, confinement) is kept the same way, but more
// bluntly: any event at all drops every kept resolution, as scripts are few and their
// directories rarely change.
//
// No goroutine reads the events. Each lookup that finds a hot path first asks the kernel
// whether events are queued (one ioctl, about a quarter of a stat's cost and no
// allocation), and reads them before answering. So a change made before a request arrived
// is always seen by it, also when a script writes a file and then redirects to it.
type inotifyHotFiles struct {
	root   string
	files  *fileCache
	logger hclog.Logger
	fd     atomic.Int32 // the inotify instance, made on the first promotion; -1 before
	closed atomic.Bool

	mu          sync.Mutex // guards the watches and reading the events
	watches     map[int32]*fileWatch
	maxWatches  int
	noInotify   bool // making the instance failed: it is not tried again
	buf         []byte
	warnedLimit bool

	events atomic.Uint64 // events read, ever

	hotMu   sync.RWMutex
	hot     map[string]hotEntry  // by clean URL path
	scripts map[string]hotScript // by clean URL path
}

// scriptMark is what was known of the changes when a resolution began: the newest watch
// and the count of events read.
type scriptMark struct{ epoch, events uint64 }

type hotScript struct {
	target  scriptTarget
	events  uint64    // events read when it was resolved
	checked time.Time // when it was resolved
}

// fileWatch is one inotify watch: a directory or a file, and the paths it was added by (more
// than one for a hard-linked file or a bind-mounted directory).
type fileWatch struct {
	paths []string
	dir   bool
	epoch uint64 // fileCache.watchEpoch when it was added
}

type hotEntry struct {
	file    *cachedFile
	checked time.Time // last validated by a stat or a read
}

// hotTrust is how long a hot path is trusted after its last stat. Change notification
// misses some changes (writes through a shared mapping, other hosts' writes to a network
// file system, a symlink swapped above the document root): at worst those are served a
// second late, as by lighttpd's stat cache.
const hotTrust = time.Second

const (
	watchDirMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR
	watchFileMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
		unix.IN_DONT_FOLLOW
	// inotifyBufSize holds many events, and at least one with the longest name (the read
	// fails with EINVAL when one does not fit).
	inotifyBufSize = 16 << 10
	// maxWatches bounds the watches kept: they come out of the user's inotify allowance,
	// which other programs of root share, and files that left the cache keep theirs.
	maxWatches = 2 * maxCacheFiles
)

// hotFilesSupported reports whether paths can become hot here: yes, through inotify.
const hotFilesSupported = true

func newHotFiles(root string, files *fileCache, logger hclog.Logger) hotFiles {
	h := &inotifyHotFiles{
		root:       root,
		files:      files,
		logger:     logger,
		watches:    make(map[int32]*fileWatch),
		maxWatches: maxWatches,
		buf:        make([]byte, inotifyBufSize),
		hot:        make(map[string]hotEntry),
		scripts:    make(map[string]hotScript),
	}
	h.fd.Store(-1)
	return h
}

// openLocked makes the inotify instance if there is none yet. It is made when first needed,
// not in New: instances are few (128 per user by default, shared with the user's other
// programs), and a server that never serves a file twice needs none.
func (h *inotifyHotFiles) openLocked() bool {
	if h.fd.Load() >= 0 {
		return true
	}
	if h.noInotify {
		return false
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		h.noInotify = true
		h.logger.Warn("no inotify: every static request stats its file", "error", err)
		return false
	}
	h.fd.Store(int32(fd))
	return true
}

func (h *inotifyHotFiles) lookup(urlPath string, now time.Time) *cachedFile {
	h.hotMu.RLock()
	e, ok := h.hot[urlPath]
	h.hotMu.RUnlock()
	if !ok || h.closed.Load() {
		return nil
	}
	h.readPending()
	if !e.file.current() || now.Sub(e.checked) >= hotTrust {
		return nil
	}
	return e.file
}

func (h *inotifyHotFiles) known(urlPath string) bool {
	h.hotMu.RLock()
	defer h.hotMu.RUnlock()
	_, ok := h.hot[urlPath]
	return ok
}

func (h *inotifyHotFiles) promote(clean, fsPath string, e *cachedFile, now time.Time) {
	if h.closed.Load() {
		return
	}
	h.readPending()
	if !e.current() {
		return
	}
	h.hotMu.Lock()
	if old, ok := h.hot[clean]; ok && old.file == e {
		// Hot already, and unchanged since (a change would have revoked e): trusted anew.
		h.hot[clean] = hotEntry{file: e, checked: now}
		h.hotMu.Unlock()
		return
	}
	h.hotMu.Unlock()

	h.mu.Lock()
	defer h.mu.Unlock()
	newest, ok := h.watchPathLocked(fsPath)
	if !ok {
		return
	}
	if info, err := os.Lstat(fsPath); err != nil || !os.SameFile(info, e.info) {
		return // a symlink now, or replaced: the events will tell
	}
	if newest > e.readEpoch {
		// A watch came after the file was read, so a change in between went unseen: read
		// it again on the next request, now under the watches.
		h.files.revoke(fsPath)
		return
	}
	h.hotMu.Lock()
	defer h.hotMu.Unlock()
	// Entries of changed files are dropped here, where paths become hot, so that they hold
	// no old content for long; past the cache's bound the index starts over, as it does.
	for path, old := range h.hot {
		if !old.file.current() {
			delete(h.hot, path)
		}
	}
	if len(h.hot) >= maxCacheFiles {
		clear(h.hot)
	}
	h.hot[clean] = hotEntry{file: e, checked: now}
}

// watchPathLocked watches every directory from the root down to fsPath's, and fsPath itself,
// and returns the newest of those watches' epochs. Symlinks below the root are refused (a
// watch on a link does not see its target change).
func (h *inotifyHotFiles) watchPathLocked(fsPath string) (uint64, bool) {
	rel, ok := strings.CutPrefix(fsPath, h.root+string(filepath.Separator))
	if !ok || rel == "" || !h.openLocked() {
		return 0, false
	}
	// The root may be reached through a symlink: that is where the operator put it.
	newest, ok := h.addWatchLocked(h.root, watchDirMask, true)
	if !ok {
		return 0, false
	}
	dir := h.root
	for {
		seg, rest, more := strings.Cut(rel, string(filepath.Separator))
		p := dir + string(filepath.Separator) + seg
		var epoch uint64
		if more {
			epoch, ok = h.addWatchLocked(p, watchDirMask|unix.IN_DONT_FOLLOW, true)
		} else {
			epoch, ok = h.addWatchLocked(p, watchFileMask, false)
		}
		if !ok {
			return 0, false
		}
		newest = max(newest, epoch)
		if !more {
			return newest, true
		}
		dir, rel = p, rest
	}
}

// addWatchLocked adds (or finds) the watch on path and returns its epoch.
func (h *inotifyHotFiles) addWatchLocked(path string, mask uint32, dir bool) (uint64, bool) {
	fd := int(h.fd.Load())
	wd, err := unix.InotifyAddWatch(fd, path, mask)
	if err != nil {
		if errors.Is(err, unix.ENOSPC) && !h.warnedLimit {
			h.warnedLimit = true
			h.logger.Warn("inotify watch limit reached: further static files are validated by a stat per request (raise fs.inotify.max_user_watches)", "path", path)
		}
		return 0, false
	}
	w := h.watches[int32(wd)]
	if w == nil {
		if len(h.watches) >= h.maxWatches {
			_, _ = unix.InotifyRmWatch(fd, uint32(wd))
			h.startOverLocked()
			return 0, false
		}
		w = &fileWatch{dir: dir, epoch: h.files.watchEpoch.Add(1)}
		h.watches[int32(wd)] = w
	}
	if !contains(w.paths, path) {
		w.paths = append(w.paths, path)
	}
	return w.epoch, true
}

// startOverLocked removes every watch (and with it every hot path, and the cache that the
// watches kept valid), as the cache itself starts over when full: hot paths come back on
// their next requests.
func (h *inotifyHotFiles) startOverLocked() {
	for wd := range h.watches {
		_, _ = unix.InotifyRmWatch(int(h.fd.Load()), uint32(wd))
	}
	clear(h.watches)
	h.files.revokeAll()
	h.events.Add(1)
	h.hotMu.Lock()
	clear(h.hot)
	clear(h.scripts)
	h.hotMu.Unlock()
	h.logger.Debug("inotify watches at their bound: starting over", "bound", h.maxWatches)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readPending reads the queued events, if there are any.
func (h *inotifyHotFiles) readPending() {
	fd := h.fd.Load()
	if fd < 0 || h.closed.Load() {
		return
	}
	if n, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil && n == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.readEventsLocked()
}

func (h *inotifyHotFiles) readEventsLocked() {
	fd := int(h.fd.Load())
	for fd >= 0 && !h.closed.Load() {
		n, err := unix.Read(fd, h.buf)
		if err != nil || n <= 0 {
			if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
				// Events may be lost: trust nothing that was cached before.
				h.logger.Warn("reading inotify events failed", "error", err)
				h.files.revokeAll()
			}
			return
		}
		for b := h.buf[:n]; len(b) >= unix.SizeofInotifyEvent; {
			wd := int32(binary.NativeEndian.Uint32(b[0:]))
			mask := binary.NativeEndian.Uint32(b[4:])
			nameLen := int(binary.NativeEndian.Uint32(b[12:]))
			end := min(unix.SizeofInotifyEvent+nameLen, len(b))
			name := b[unix.SizeofInotifyEvent:end]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			h.eventLocked(wd, mask, string(name))
			b = b[end:]
		}
	}
}

// eventLocked revokes what an event may have changed.
func (h *inotifyHotFiles) eventLocked(wd int32, mask uint32, name string) {
	h.events.Add(1) // every kept script resolution is dropped
	if mask&unix.IN_Q_OVERFLOW != 0 {
		h.logger.Debug("inotify queue overflowed: the file cache starts over")
		h.files.revokeAll()
		return
	}
	w := h.watches[wd]
	if w == nil {
		return
	}
	if mask&unix.IN_IGNORED != 0 {
		delete(h.watches, wd) // the inode is gone, or its file system unmounted
	}
	for _, p := range w.paths {
		switch {
		case !w.dir:
			h.files.revoke(p)
		case name == "":
			h.files.revokeTree(p) // the directory itself
		case mask&unix.IN_ISDIR != 0:
			h.files.revokeTree(p + string(filepath.Separator) + name)
		default:
			h.files.revoke(p + string(filepath.Separator) + name)
		}
	}
}

func (h *inotifyHotFiles) scriptMark() scriptMark {
	h.readPending()
	return scriptMark{epoch: h.files.watchEpoch.Load(), events: h.events.Load()}
}

func (h *inotifyHotFiles) promoteScript(clean string, t scriptTarget, m scriptMark, now time.Time) {
	if h.closed.Load() {
		return
	}
	// Where events keep coming, give up before the watch system calls: the resolution
	// could not be kept anyway.
	h.readPending()
	if h.events.Load() != m.events {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// Every watch on the way must be older than the resolution, and no event read since it
	// began: then nothing on the way changed after it began.
	newest, ok := h.watchPathLocked(t.file)
	if !ok || newest > m.epoch {
		return
	}
	if info, err := os.Lstat(t.file); err != nil || !os.SameFile(info, t.info) {
		return // a symlink, or replaced
	}
	h.readEventsLocked()
	if h.events.Load() != m.events {
		return
	}
	h.hotMu.Lock()
	defer h.hotMu.Unlock()
	if len(h.scripts) >= maxCacheFiles {
		clear(h.scripts) // any PATH_INFO makes a path: start over rather than grow
	}
	h.scripts[clean] = hotScript{target: t, events: m.events, checked: now}
}

func (h *inotifyHotFiles) lookupScript(clean string, now time.Time) (scriptTarget, bool) {
	h.hotMu.RLock()
	e, ok := h.scripts[clean]
	h.hotMu.RUnlock()
	if !ok || h.closed.Load() {
		return scriptTarget{}, false
	}
	h.readPending()
	if e.events != h.events.Load() || now.Sub(e.checked) >= hotTrust {
		return scriptTarget{}, false
	}
	return e.target, true
}

func (h *inotifyHotFiles) close() {
	if h.closed.Swap(true) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if fd := h.fd.Load(); fd >= 0 {
		_ = unix.Close(int(fd))
	}
}
