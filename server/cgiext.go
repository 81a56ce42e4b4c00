package server

import (
	"fmt"
	"path"
	"strings"
)

// configureCGIExts checks the CGI extensions and index names (the defaults already filled in).
func (s *Server) configureCGIExts(exts, indexes []string) error {
	for _, ext := range exts {
		if len(ext) < 2 || ext[0] != '.' || strings.ContainsAny(ext[1:], `./\:`+"\x00") {
			return fmt.Errorf("CGI extension %q: want a dot and a name without dots or slashes, like .cgi", ext)
		}
		s.cgiExts = append(s.cgiExts, strings.ToLower(ext))
	}
	for _, name := range indexes {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`+"\x00") {
			return fmt.Errorf("index name %q: want a file name", name)
		}
		if len(s.cgiExts) == 0 && cgiExtOf(name, []string{".cgi"}) != "" {
			s.logger.Warn("an index name ends in .cgi but no CGI extension is set: such a file would be served as text", "index", name)
		}
	}
	s.indexes = indexes
	return nil
}

// cgiExtOf returns the CGI extension that name ends with, compared without regard to case
// (on a case-insensitive file system X.CGI is x.cgi, and a mixed-case name is never served as
// content either); "" when none.
func cgiExtOf(name string, exts []string) string {
	for _, ext := range exts {
		if len(name) > len(ext) && strings.EqualFold(name[len(name)-len(ext):], ext) {
			return ext
		}
	}
	return ""
}

// mayHoldExtScript reports whether the collapsed path clean could lead to a script by
// extension: a segment of it has a CGI extension, or it names a directory (a final slash)
// and an index name has one. It only saves the walk for paths that cannot.
func (s *Server) mayHoldExtScript(clean string) bool {
	if len(s.cgiExts) == 0 {
		return false
	}
	if strings.HasSuffix(clean, "/") {
		for _, name := range s.indexes {
			if cgiExtOf(name, s.cgiExts) != "" {
				return true
			}
		}
	}
	for seg := range strings.SplitSeq(clean, "/") {
		if cgiExtOf(seg, s.cgiExts) != "" {
			return true
		}
	}
	return false
}

// extScript finds the script by extension that the collapsed path clean (outside every CGI
// directory) leads to: walking down from the root while segments name directories, the first
// that does not is the script when its name has a CGI extension, with the rest as PATH_INFO;
// a directory asked for with its final slash is answered by its first index name that
// exists, which is the script when that name has a CGI extension. As for CGI directories,
// the walk only splits the URL: resolveScript opens the file and decides on where it really
// is.
func (s *Server) extScript(clean string) (scriptTarget, bool) {
	if !s.mayHoldExtScript(clean) {
		return scriptTarget{}, false
	}
	t := s.docs.findScript(clean, "")
	switch {
	case t.info == nil:
		return t, false
	case !t.info.IsDir():
		if cgiExtOf(baseName(t.scriptName), s.cgiExts) == "" {
			t.release() // served as a static file, which opens it again
			return scriptTarget{}, false
		}
		return t, true
	case !strings.HasSuffix(clean, "/"):
		return t, false // the static side redirects to the final slash
	}
	for _, name := range s.indexes {
		rel := path.Join(t.rel, name)
		info, err := s.docs.stat(rel)
		if err != nil {
			continue
		}
		if info.IsDir() {
			continue // as the static side does
		}
		if cgiExtOf(name, s.cgiExts) == "" {
			return t, false // a page the static side serves
		}
		return scriptTarget{
			scriptName: strings.TrimSuffix(clean, "/") + "/" + name,
			rel:        rel,
			file:       s.docs.fsPath(rel),
			info:       info,
		}, true
	}
	return t, false
}
