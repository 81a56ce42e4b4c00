package executor

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"strconv"
	"strings"
)

// entryPoint is what a script's main is renamed to, so that loading the script into an
// interpreter does not run it and each request can call it.
const entryPoint = "cgihttpdScriptMain"

// Each interpreter has a goroutine parked in parkFunc, inside yaegi's only cancellable entry
// (EvalWithContext, which takes source), for its whole life: cancelling it stops the script
// that a request runs by calling main, on the request's own goroutine. Evaluating a call of
// main for each request instead would compile the call each time, which was a fifth of a
// request's cost, and leave its nodes in the interpreter for good.
const (
	reservedPrefix = "cgihttpd"
	runtimeName    = "cgihttpdrt"
	runtimePath    = "cgihttpd/rt"
	parkFunc       = "cgihttpdPark"
	parkSource     = "\nfunc " + parkFunc + "() {\n\t" + runtimeName + ".Park()\n}\n"
)

// preparedScript is a script's source ready to load into interpreters.
type preparedScript struct {
	src string
	// hasGlobals reports package-level variables: they would carry one request's state into
	// the next, so such a script gets a fresh interpreter for every request.
	hasGlobals bool
	// namesStdio reports that the script names os.Stdin, os.Stdout or os.Stderr, or reads
	// stdin through fmt.Scan*: it then gets real pipes. A script that only prints through
	// fmt.Print*, print and log writes straight to the response, with no pipe or goroutine.
	namesStdio bool
}

// prepareSource enforces the rules that the symbol filter cannot express, naming the rule a
// script broke (denied imports and symbols, go statements), and renames main to entryPoint.
func prepareSource(path string, src []byte, allowGoroutines bool) (*preparedScript, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("%w: does not parse: %w", ErrRejected, err)
	}
	if f.Name.Name != "main" {
		return nil, fmt.Errorf("%w: package %s, want package main", ErrRejected, f.Name.Name)
	}
	if err := checkRules(fset, f, allowGoroutines); err != nil {
		return nil, err
	}
	prep := &preparedScript{}
	var mainFunc *ast.FuncDecl
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && d.Name.Name == "main" {
				mainFunc = d
			}
		case *ast.GenDecl:
			if d.Tok == token.VAR {
				prep.hasGlobals = true
			}
		}
	}
	if mainFunc == nil {
		return nil, fmt.Errorf("%w: no func main", ErrRejected)
	}
	var reserved *ast.Ident
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && reserved == nil && strings.HasPrefix(id.Name, reservedPrefix) {
			reserved = id
		}
		return reserved == nil
	})
	if reserved != nil {
		return nil, fmt.Errorf("%w: %s: names starting with %s are reserved", ErrRejected, fset.Position(reserved.Pos()), reservedPrefix)
	}
	mainFunc.Name.Name = entryPoint
	prep.namesStdio = namesStdio(f)
	f.Decls = append([]ast.Decl{&ast.GenDecl{Tok: token.IMPORT, Specs: []ast.Spec{&ast.ImportSpec{
		Name: ast.NewIdent(runtimeName), Path: &ast.BasicLit{Kind: token.STRING, Value: strconv.Quote(runtimePath)}}}}}, f.Decls...)
	var b strings.Builder
	if err := printer.Fprint(&b, fset, f); err != nil {
		return nil, fmt.Errorf("%w: print source: %w", ErrRejected, err)
	}
	b.WriteString(parkSource)
	prep.src = b.String()
	return prep, nil
}

// namesStdio reports whether f can reach the process's standard streams other than through
// the print functions that the interpreter binds to the run: by naming os.Stdin, os.Stdout
// or os.Stderr, by fmt.Scan, Scanf or Scanln, or through os or fmt imported under another
// name (or dot-imported), which this check does not follow.
func namesStdio(f *ast.File) bool {
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if (p == "os" || p == "fmt") && imp.Name != nil && imp.Name.Name != p {
			return true
		}
	}
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok || found {
			return !found
		}
		if x, ok := sel.X.(*ast.Ident); ok {
			switch x.Name + "." + sel.Sel.Name {
			case "os.Stdin", "os.Stdout", "os.Stderr", "fmt.Scan", "fmt.Scanf", "fmt.Scanln":
				found = true
			}
		}
		return true
	})
	return found
}
