package executor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// interpreterMap is Config.Interpreters checked and split: a lower-case extension (".py") to
// the words of the command that runs such a file, which is given the script's path after them.
type interpreterMap map[string][]string

// parseInterpreters checks Config.Interpreters: every key an extension with its dot, every
// value a command line of at least one word.
func parseInterpreters(m map[string]string) (interpreterMap, error) {
	out := make(interpreterMap, len(m))
	for ext, command := range m {
		if len(ext) < 2 || ext[0] != '.' || strings.ContainsAny(ext[1:], "./\\: \t\x00") {
			return nil, fmt.Errorf("interpreter for %q: want an extension such as .py", ext)
		}
		words, err := splitCommand(command)
		if err != nil {
			return nil, fmt.Errorf("interpreter for %s: %w", ext, err)
		}
		out[strings.ToLower(ext)] = words
	}
	return out, nil
}

// lookup returns the command words for path's extension, or nil when it is not mapped.
// Extensions match case-insensitively: an operator who maps .py means .PY too.
func (m interpreterMap) lookup(path string) []string {
	if len(m) == 0 {
		return nil
	}
	return m[strings.ToLower(filepath.Ext(path))]
}

// command returns the program to start and its whole argv for script with args: the mapped
// interpreter (looked up on the server's PATH) followed by the script, or the script itself.
func (m interpreterMap) command(script string, args []string) (string, []string, error) {
	words := m.lookup(script)
	if words == nil {
		return script, append([]string{script}, args...), nil
	}
	program, err := exec.LookPath(words[0])
	if err != nil {
		return "", nil, fmt.Errorf("interpreter %s for %s files: %w", words[0], filepath.Ext(script), err)
	}
	argv := append([]string{program}, words[1:]...)
	argv = append(argv, script)
	return program, append(argv, args...), nil
}

// splitCommand splits a command line into words at spaces and tabs. Double quotes group a
// word that holds spaces ("C:\Program Files\Python\python.exe" -u); there are no escapes,
// since Windows paths are full of backslashes.
func splitCommand(s string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case r < ' ':
			return nil, fmt.Errorf("command %q holds a control character", s)
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("command %q has an unclosed quote", s)
	}
	if inWord {
		words = append(words, word.String())
	}
	if len(words) == 0 || words[0] == "" {
		return nil, errors.New("empty command")
	}
	return words, nil
}

// maxShebang bounds the first line read for "#!": Linux reads 256 bytes, and a longer
// line is more likely binary data than an interpreter.
const maxShebang = 256

// readShebang returns the words of path's "#!" line (interpreter first), or nil when the file
// does not start with one.
func readShebang(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read first line: %w", err)
	}
	defer func() { _ = f.Close() }()
	line, err := bufio.NewReaderSize(io.LimitReader(f, maxShebang), maxShebang).ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read first line: %w", err)
	}
	return parseShebang(line), nil
}

// parseShebang splits a "#!" line into words: the interpreter, then its arguments. A quoted
// first word may hold spaces (#!"C:\Program Files\Perl\perl.exe"). Anything else is nil.
func parseShebang(line []byte) []string {
	rest, ok := bytes.CutPrefix(line, []byte("#!"))
	if !ok {
		return nil
	}
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	rest = bytes.TrimSuffix(rest, []byte("\r"))
	if !utf8.Valid(rest) {
		return nil
	}
	words, err := splitCommand(string(rest))
	if err != nil {
		return nil
	}
	return words
}

// SearchArgs returns the command-line arguments that RFC 3875 §4.4 derives from a query
// string, or nil and the reason when the query gives none or must not give any. Per the RFC
// only a query without an unencoded "=" is a search string; it splits at "+" and each word
// is percent-decoded. A word that is not valid UTF-8, holds a control character, or starts
// with "-" (an option to the interpreter: php-cgi's "?-s", CVE-2012-1823) refuses them all.
//
// The server does not pass these arguments (ARCHITECTURE.md, "Arguments"): this is the check that any future
// opt-in must go through. The Windows executor refuses more (batch files, non-ASCII words).
func SearchArgs(rawQuery string) ([]string, error) {
	if rawQuery == "" || strings.Contains(rawQuery, "=") {
		return nil, errors.New("not a search string")
	}
	words := strings.Split(rawQuery, "+")
	for i, w := range words {
		d, err := url.PathUnescape(w)
		if err != nil {
			return nil, fmt.Errorf("word %d: %w", i+1, err)
		}
		switch {
		case !utf8.ValidString(d):
			return nil, fmt.Errorf("word %d is not valid UTF-8", i+1)
		case strings.ContainsFunc(d, func(r rune) bool { return r < ' ' || r == 0x7f }):
			return nil, fmt.Errorf("word %d holds a control character", i+1)
		case strings.HasPrefix(d, "-"):
			return nil, fmt.Errorf("word %d starts with '-' and would be read as an option", i+1)
		}
		words[i] = d
	}
	return words, nil
}
