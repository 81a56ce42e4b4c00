//go:build windows

package executor

import (
	"errors"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// startCommand is how a script is started on Windows, which cannot run a "#!" file itself.
type startCommand struct {
	program string   // the executable that CreateProcess starts
	words   []string // argv before the script's path; nil when the script is the program
	batch   bool     // a .bat or .cmd file: cmd.exe runs it, and it never gets arguments
}

// builtinInterpreters are the commands for an extension when neither the operator's map nor
// a "#!" line decides: the first one found on the server's PATH runs the script.
var builtinInterpreters = map[string][][]string{
	".py":  {{"python"}, {"py"}},
	".pl":  {{"perl"}},
	".ps1": {{"powershell", "-NoProfile", "-ExecutionPolicy", "Bypass", "-File"}},
}

// fixedExtensions are run by Windows itself, whatever the operator maps.
var fixedExtensions = map[string]bool{".exe": true, ".com": true, ".bat": true, ".cmd": true}

// resolve finds how to start script: .exe and .com files directly, .bat and .cmd files
// through cmd.exe; anything else through the operator's interpreter for its extension, else
// the interpreter its "#!" line names, else the built-in one for its extension. The operator
// comes first because a Windows server rarely has what a Unix "#!" line names, and a
// "python3" found on PATH may be the Microsoft Store's stub. When nothing is found the error
// (wrapping ErrNotRunnable) names everything that was tried.
func (e *windowsExecutor) resolve(script string) (startCommand, error) {
	ext := strings.ToLower(filepath.Ext(script))
	switch ext {
	case ".exe", ".com":
		return startCommand{program: script}, nil
	case ".bat", ".cmd":
		// Inside quotes cmd.exe still expands %VAR%, and no quoting can hold a '"'.
		if strings.ContainsAny(script, "%\"\r\n") {
			return startCommand{}, fmt.Errorf("%w: %s: cmd.exe would expand or split a path holding %% or quotes", ErrNotRunnable, script)
		}
		return startCommand{program: e.cmdExe, batch: true}, nil
	}
	if words := e.interps.lookup(script); words != nil {
		program, err := exec.LookPath(words[0])
		if err != nil {
			return startCommand{}, fmt.Errorf("%w: %s: --interpreter %s=%s: %w", ErrNotRunnable, script, ext, words[0], err)
		}
		return startCommand{program: program, words: append([]string{program}, words[1:]...)}, nil
	}
	var tried []string
	shebang, err := readShebang(script)
	if err != nil {
		return startCommand{}, fmt.Errorf("%w: %s: %w", ErrNotRunnable, script, err)
	}
	if shebang != nil {
		c, why := shebangCommand(shebang)
		if c.program != "" {
			return c, nil
		}
		tried = append(tried, fmt.Sprintf("#!%s (%s)", strings.Join(shebang, " "), why))
	} else {
		tried = append(tried, "no #! line")
	}
	candidates, known := builtinInterpreters[ext]
	if !known {
		tried = append(tried, fmt.Sprintf("no interpreter known for %q (see --interpreter)", ext))
	}
	var names []string
	for _, words := range candidates {
		if program, err := exec.LookPath(words[0]); err == nil {
			return startCommand{program: program, words: append([]string{program}, words[1:]...)}, nil
		}
		names = append(names, words[0])
	}
	if known {
		tried = append(tried, fmt.Sprintf("%s files: %s not on PATH", ext, strings.Join(names, ", ")))
	}
	return startCommand{}, fmt.Errorf("%w: no interpreter for %s: tried %s", ErrNotRunnable, script, strings.Join(tried, "; "))
}

// shebangCommand maps a Unix "#!" line to a Windows program: a Windows path as it is
// (#!C:\Perl\bin\perl.exe), anything else by its base name on PATH (#!/usr/bin/perl: perl),
// through env (#!/usr/bin/env python3: python3), and without a version suffix as a second
// choice (python3, then python). When none is found it says what it looked for.
func shebangCommand(words []string) (startCommand, string) {
	interp, args := words[0], words[1:]
	var names []string
	if filepath.IsAbs(interp) {
		names = []string{interp}
	} else {
		name := path.Base(filepath.ToSlash(interp))
		if strings.EqualFold(strings.TrimSuffix(strings.ToLower(name), ".exe"), "env") {
			// env's own options (-S) and assignments (NAME=value) come before the command.
			for len(args) > 0 && (strings.HasPrefix(args[0], "-") || strings.Contains(args[0], "=")) {
				args = args[1:]
			}
			if len(args) == 0 {
				return startCommand{}, "no command after env"
			}
			name, args = args[0], args[1:]
			// A path here would be looked up from the server's working directory.
			if strings.ContainsAny(name, `/\:`) {
				return startCommand{}, name + " is not a command name"
			}
		}
		names = []string{name}
		if bare := strings.TrimRight(name, "0123456789."); bare != "" && bare != name {
			names = append(names, bare)
		}
	}
	for _, name := range names {
		if program, err := exec.LookPath(name); err == nil {
			return startCommand{program: program, words: append([]string{program}, args...)}, ""
		}
	}
	return startCommand{}, strings.Join(names, ", ") + ": not found"
}

// errBatchArgs and errNonASCIIArg say why arguments were refused.
var (
	errBatchArgs   = errors.New("cmd.exe parses a batch file's command line again, so no arguments can be passed safely (BatBadBut)")
	errNonASCIIArg = errors.New("a non-ASCII argument may be mapped to another character by the program's code page (CVE-2024-4577)")
)

// checkArgs reports why args must not reach a script started by c, or nil when they may.
// The Unix checks of SearchArgs apply everywhere; Windows adds batch files, whose command
// line cmd.exe re-parses whatever the quoting, and non-ASCII words, which "best fit"
// conversion to the ANSI code page can turn into '-' or '"'.
func (c startCommand) checkArgs(args []string) error {
	if len(args) == 0 {
		return nil
	}
	if c.batch {
		return errBatchArgs
	}
	for _, a := range args {
		for i := 0; i < len(a); i++ {
			if a[i] >= 0x80 || a[i] < ' ' || a[i] == 0x7f {
				return errNonASCIIArg
			}
		}
	}
	return nil
}

// commandLine is the whole Windows command line for running script with args (already
// checked by checkArgs). A batch file runs as
//
//	"C:\Windows\System32\cmd.exe" /d /v:off /s /c ""C:\site\cgi-bin\x.bat""
//
// /d skips the AutoRun commands in the registry, /v:off keeps "!" literal, and /s /c strips
// exactly the outer quotes, leaving the quoted path as the whole command: inside quotes
// cmd.exe takes & | < > ^ ( ) literally (resolve refused paths with '%'). Everything else is
// quoted by windows.ComposeCommandLine for CommandLineToArgvW, which is how Go, the C
// runtime, Python and Perl split their command lines.
func (c startCommand) commandLine(script string, args []string) string {
	if c.batch {
		return `"` + c.program + `" /d /v:off /s /c ""` + script + `""`
	}
	argv := append(append(append([]string{}, c.words...), script), args...)
	return windows.ComposeCommandLine(argv)
}
