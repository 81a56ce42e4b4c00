// Command netcgi is the peer that a Go programmer would write instead of cgihttpd: a
// net/http/cgi.Handler for each script under ROOT/cgi-bin and http.FileServer for the rest of
// ROOT. bench/compare/run.sh runs it as nobody, so its scripts run as nobody too.
//
//	netcgi -addr 127.0.0.1:8000 -root /srv/www
package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/cgi"
	"os"
	"path"
	"path/filepath"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	root := flag.String("root", ".", "directory to serve; scripts are in its cgi-bin")
	flag.Parse()

	files := http.FileServer(http.Dir(*root))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(path.Clean(r.URL.Path), "/cgi-bin/")
		if !ok {
			files.ServeHTTP(w, r)
			return
		}
		name, _, _ := strings.Cut(rest, "/")
		script := filepath.Join(*root, "cgi-bin", name)
		if fi, err := os.Stat(script); err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		(&cgi.Handler{Path: script, Root: "/cgi-bin/" + name}).ServeHTTP(w, r)
	})
	if err := http.ListenAndServe(*addr, h); err != nil {
		fmt.Fprintln(os.Stderr, "netcgi:", err)
		os.Exit(1)
	}
}
