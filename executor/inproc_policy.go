package executor

import (
	"fmt"
	"go/ast"
	"go/token"
	"maps"
	"strconv"
	"strings"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// deniedPackages cannot be imported by a script at all.
var deniedPackages = map[string]bool{
	"os/exec": true, "syscall": true, "unsafe": true, "os/signal": true, "runtime/debug": true,
	"runtime/pprof": true, "runtime/trace": true, "plugin": true, "net/http/pprof": true,
	"net/http/httptest": true, "log/syslog": true,
}

// deniedSymbols are removed from packages that are otherwise allowed: they start processes,
// reach the server's own file descriptors or working directory, or end the whole process.
var deniedSymbols = map[string][]string{
	"os":      {"StartProcess", "NewFile", "FindProcess", "Chdir"},
	"runtime": {"Goexit", "GOMAXPROCS", "LockOSThread", "UnlockOSThread", "SetFinalizer", "Breakpoint"},
	// A *log.Logger's Fatal calls the real os.Exit; the package-level functions are rebound.
	"log":  {"New", "Default", "Logger"},
	"flag": {"ExitOnError"},
}

// callbackSymbols run script code on a goroutine of their own, where a panic ends the server.
var callbackSymbols = map[string][]string{
	"time":     {"AfterFunc"},
	"context":  {"AfterFunc"},
	"net/http": {"ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS", "Server"},
}

// filteredSymbols is yaegi's standard library without what scripts must not reach. Only the
// packages that lose symbols are copied; the others are shared with yaegi's table, which
// Interpreter.Use only reads (it copies into each interpreter). Copying them all kept 400 KiB
// more live heap for the server's whole life, which every garbage collection marks.
func filteredSymbols(allowGoroutines bool) interp.Exports {
	out := make(interp.Exports, len(stdlib.Symbols))
	for key, syms := range stdlib.Symbols {
		pkg := path2pkg(key)
		if deniedPackages[pkg] {
			continue
		}
		denied := deniedSymbols[pkg]
		if !allowGoroutines {
			denied = append(denied[:len(denied):len(denied)], callbackSymbols[pkg]...)
		}
		if len(denied) == 0 {
			out[key] = syms
			continue
		}
		m := maps.Clone(syms)
		for _, s := range denied {
			delete(m, s)
		}
		out[key] = m
	}
	return out
}

// path2pkg turns yaegi's "net/http/http" key into the import path "net/http". The key "."
// (interface wrapper mappings) is not a package and stays ".".
func path2pkg(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}

// checkRules walks the syntax tree for what in-process scripts may not do.
func checkRules(fset *token.FileSet, f *ast.File, allowGoroutines bool) error {
	imports := make(map[string]string) // local name -> import path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if deniedPackages[p] {
			return fmt.Errorf("%w: %s: import %q is not allowed in in-process scripts", ErrRejected, fset.Position(imp.Pos()), p)
		}
		name := p[strings.LastIndexByte(p, '/')+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = p
	}
	var ruleErr error
	ast.Inspect(f, func(n ast.Node) bool {
		if ruleErr != nil {
			return false
		}
		switch n := n.(type) {
		case *ast.GoStmt:
			if !allowGoroutines {
				ruleErr = fmt.Errorf("%w: %s: go statements are not allowed in in-process scripts (a panic there would end the server; see --inproc-allow-goroutines)",
					ErrRejected, fset.Position(n.Pos()))
			}
		case *ast.SelectorExpr:
			x, ok := n.X.(*ast.Ident)
			if !ok {
				return true
			}
			pkg, ok := imports[x.Name]
			if !ok {
				return true
			}
			denied := deniedSymbols[pkg]
			if !allowGoroutines {
				denied = append(denied[:len(denied):len(denied)], callbackSymbols[pkg]...)
			}
			for _, s := range denied {
				if n.Sel.Name == s {
					ruleErr = fmt.Errorf("%w: %s: %s.%s is not allowed in in-process scripts", ErrRejected, fset.Position(n.Pos()), pkg, s)
				}
			}
		}
		return true
	})
	return ruleErr
}
