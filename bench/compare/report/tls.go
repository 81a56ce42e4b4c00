package main

import (
	"fmt"
	"io"
)

// tlsPairs are the servers measured over TLS in workload (10), each beside the same server
// over plain HTTP.
var tlsPairs = [][2]string{{"cgihttpd-tls", "cgihttpd"}, {"lighttpd-tls", "lighttpd"}}

func init() {
	names["cgihttpd-tls"] = "cgihttpd `--tls-cert`"
	names["lighttpd-tls"] = "lighttpd mod_cgi + mod_openssl"
}

// writeTLS writes workload (10): hello.sh and the static 4 KiB file over HTTPS, each beside
// the same server's plain-HTTP figure from (1) and (5) of the same rounds.
func writeTLS(w io.Writer, d *data) {
	p := func(format string, a ...any) { _, _ = fmt.Fprintf(w, format, a...) }
	p("## (10) Over TLS: `hello.sh` (16 connections) and static 4 KiB (64 connections)\n\n")
	p("The same two workloads as (1) and (5), over HTTPS with an ECDSA P-256 certificate, " +
		"HTTP/1.1 with keep-alive (wrk speaks no HTTP/2), so the handshake cost is spread over each " +
		"connection's requests and what is left is the record layer. Each TLS server is a second " +
		"instance of the server on a port of its own, measured in the same rounds right after the " +
		"plain-HTTP runs; \"plain\" is that server's own figure from (1) or (5).\n\n")
	p("| server | hello.sh req/s | plain | TLS ÷ plain | p99 ms | static 4 KiB req/s | plain | TLS ÷ plain | p99 ms | errors |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, pair := range tlsPairs {
		tlsSrv, plainSrv := pair[0], pair[1]
		hello, static := d.stat(tlsSrv, "hello", "rps"), d.stat(tlsSrv, "static4k", "rps")
		plainHello, plainStatic := d.stat(plainSrv, "hello", "rps"), d.stat(plainSrv, "static4k", "rps")
		errs := "–"
		h, okH := d.sum(tlsSrv, "hello", "errors")
		s, okS := d.sum(tlsSrv, "static4k", "errors")
		if okH || okS {
			errs = fmt.Sprintf("%.0f", h+s)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", names[tlsSrv],
			hello, plainHello, ratio(hello, plainHello), d.stat(tlsSrv, "hello", "p99_ms"),
			static, plainStatic, ratio(static, plainStatic), d.stat(tlsSrv, "static4k", "p99_ms"), errs)
	}
	c, l := d.stat("cgihttpd-tls", "static4k", "rps"), d.stat("lighttpd-tls", "static4k", "rps")
	p("\ncgihttpd ÷ lighttpd over TLS: hello.sh %s, static 4 KiB %s.\n\n",
		ratio(d.stat("cgihttpd-tls", "hello", "rps"), d.stat("lighttpd-tls", "hello", "rps")), ratio(c, l))
}
