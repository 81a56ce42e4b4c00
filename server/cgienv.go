package server

import (
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// cgiRequest is what the environment is built from: the request and where it was routed.
type cgiRequest struct {
	r          *http.Request
	root       string // document root (absolute)
	target     scriptTarget
	bodyLength int64 // -1 when there is no body
}

// buildEnv builds a script's environment from nothing: the operator's fixed extras, then the
// RFC 3875 meta-variables, then the request's headers as HTTP_*. The server's own environment
// is never inherited.
func (s *Server) buildEnv(cr cgiRequest) []string {
	r := cr.r
	env := baseEnv(s.extraEnv) // PATH, what the platform needs, the operator's extras

	env["GATEWAY_INTERFACE"] = "CGI/1.1"
	env["SERVER_SOFTWARE"] = "cgihttpd/" + s.cfg.Version
	env["SERVER_PROTOCOL"] = r.Proto
	env["REQUEST_METHOD"] = r.Method
	env["REQUEST_URI"] = r.RequestURI
	env["QUERY_STRING"] = r.URL.RawQuery
	env["SCRIPT_NAME"] = cr.target.scriptName
	env["SCRIPT_FILENAME"] = cr.target.file
	env["DOCUMENT_ROOT"] = cr.root
	env["REDIRECT_STATUS"] = "200"
	if cr.target.pathInfo != "" {
		env["PATH_INFO"] = cr.target.pathInfo
		env["PATH_TRANSLATED"] = filepath.Join(cr.root, filepath.FromSlash(cr.target.pathInfo))
	}
	if r.TLS != nil {
		env["HTTPS"] = "on"
		env["REQUEST_SCHEME"] = "https"
	} else {
		env["REQUEST_SCHEME"] = "http"
	}

	localAddr, localPort := splitAddr(localAddrOf(r))
	remoteAddr, remotePort, forwardedHTTPS := s.clientAddr(r)
	if forwardedHTTPS {
		env["HTTPS"] = "on"
		env["REQUEST_SCHEME"] = "https"
	}
	env["SERVER_ADDR"] = localAddr
	env["SERVER_PORT"] = localPort
	env["SERVER_NAME"] = serverName(r.Host, localAddr)
	env["REMOTE_ADDR"] = remoteAddr
	if remotePort != "" {
		env["REMOTE_PORT"] = remotePort
	}

	if cr.bodyLength >= 0 {
		env["CONTENT_LENGTH"] = strconv.FormatInt(cr.bodyLength, 10)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		env["CONTENT_TYPE"] = ct
	}

	addHeaderVars(env, r, s.cfg.PassAuth)

	return envList(env)
}

// envList is env as sorted NAME=value entries. They are cut from one string, so that the
// whole environment is two allocations, not one per variable.
func envList(env map[string]string) []string {
	size := 0
	for k, v := range env {
		size += len(k) + 1 + len(v)
	}
	var b strings.Builder
	b.Grow(size)
	ends := make([]int, 0, len(env))
	for k, v := range env {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		ends = append(ends, b.Len())
	}
	all := b.String()
	out := make([]string, len(ends))
	start := 0
	for i, end := range ends {
		out[i] = all[start:end]
		start = end
	}
	slices.Sort(out)
	return out
}

// addHeaderVars maps request headers to HTTP_* variables in env (DESIGN.md §2). It runs for
// every CGI request, so each name costs one allocation.
func addHeaderVars(env map[string]string, r *http.Request, passAuth bool) {
	if r.Host != "" {
		env["HTTP_HOST"] = r.Host
	}
	for name, values := range r.Header {
		if !isPlainHeaderName(name) {
			continue // "X_Foo" must never overwrite X-Foo's HTTP_X_FOO
		}
		key := headerVarName(name)
		sep := ", "
		switch key {
		case "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_HOST":
			continue // CONTENT_TYPE / CONTENT_LENGTH / HTTP_HOST say it
		case "HTTP_PROXY":
			continue // httpoxy: HTTP_PROXY would steer the script's own HTTP clients
		case "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION":
			if !passAuth { // credentials are the server's business unless the operator says otherwise
				continue
			}
		case "HTTP_COOKIE":
			sep = "; "
		}
		if len(values) == 0 {
			continue
		}
		joined := values[0]
		if len(values) > 1 {
			joined = strings.Join(values, sep)
		}
		if prev, ok := env[key]; ok { // two spellings of one name ("x-a" and "X-A")
			joined = prev + sep + joined
		}
		env[key] = joined
	}
}

// headerVarName is "HTTP_" and name upper-cased with '-' as '_'; name is a plain header name.
func headerVarName(name string) string {
	var b strings.Builder
	b.Grow(len("HTTP_") + len(name))
	b.WriteString("HTTP_")
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// isPlainHeaderName reports whether name holds only letters, digits and '-'.
func isPlainHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isASCIIAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func localAddrOf(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return ""
}

// splitAddr splits "host:port" and returns IPv4-mapped IPv6 hosts as plain IPv4.
func splitAddr(hostport string) (host, port string) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap().WithZone("").String(), strconv.Itoa(int(ap.Port()))
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, ""
	}
	return host, port
}

// serverName is the Host header's host when it is a valid name or address, else the
// listening address.
func serverName(hostHeader, fallback string) string {
	host := hostHeader
	if h, _, err := net.SplitHostPort(hostHeader); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.Unmap().WithZone("").String() // a zone is the client's, and may hold anything
	}
	if isHostName(host) {
		return strings.ToLower(host)
	}
	return fallback
}

// isHostName reports whether h is a DNS name: dot-separated labels of letters, digits and
// inner hyphens, at most 253 characters.
func isHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !isASCIIAlnum(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// isASCIIAlnum reports whether c is an ASCII letter or digit.
func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
