package server

import (
	"path/filepath"
	"strings"
)

// confined reports whether path, a file-system path below the document root, resolves
// (symlinks and all) to a place inside the root. Where the kernel can answer that in one
// call (Linux's openat2 with RESOLVE_BENEATH) it does; otherwise, and for what it refuses
// to judge (an absolute symlink, which may well point inside), every symlink is resolved
// and the result compared with the root.
func (s *Server) confined(path string) bool {
	if rel, ok := strings.CutPrefix(path, s.root+string(filepath.Separator)); ok {
		if inside, sure := s.beneath.check(rel); sure {
			return inside
		}
	}
	return insideRoot(s.realRoot, path)
}
