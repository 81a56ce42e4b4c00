package server

import "net/http"

// HTTP10 returns h answering every HTTP/1.x request as HTTP/1.0 and closing the connection
// after each answer, as Python's http.server does with --protocol HTTP/1.0, its default.
// Scripts see SERVER_PROTOCOL=HTTP/1.0, as under Python, and a body without
// a length is sent unchunked, ended by the close.
//
// net/http writes its status line, and decides keep-alive and chunking, from the version of
// the request the handler was given; lowering that request's version before anything is
// written is the only way to make it answer as HTTP/1.0 (TestHTTP10 checks that it still does).
// HTTP/2 requests are left alone; with -p HTTP/1.0, HTTP/2 is not offered.
func HTTP10(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 {
			r.Proto, r.ProtoMinor = "HTTP/1.0", 0
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
