package server

import (
	"cmp"
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
	bodyLength int64  // -1 when there is no body
	user       string // the verified Basic user; "" when none
}

// envVar is one NAME=value of a script's environment.
type envVar struct{ name, value string }

// headerVar is an HTTP_* variable from the request. sep joins it to an operator's variable
// of the same name; "" means it replaces that variable instead.
type headerVar struct{ name, value, sep string }

// buildEnv builds a script's environment from nothing: the operator's fixed extras, then the
// RFC 3875 meta-variables, then the request's headers as HTTP_*. The server's own environment
// is never inherited. The result is sorted, each name once. It runs for every CGI
// request, so it merges three sorted lists instead of filling and sorting a map: the base
// (sorted once in New), the meta-variables (appended in name order) and the header
// variables (few, sorted here), all in the order of their NAME=value entries.
func (s *Server) buildEnv(cr cgiRequest) []string {
	r := cr.r
	localAddr, localPort := splitAddr(localAddrOf(r))
	remoteAddr, remotePort, forwardedHTTPS := s.clientAddr(r)
	https := r.TLS != nil || forwardedHTTPS

	var metaArr [26]envVar
	meta := metaArr[:0] // in name order
	if cr.user != "" {
		meta = append(meta, envVar{"AUTH_TYPE", "Basic"})
	}
	if cr.bodyLength >= 0 {
		meta = append(meta, envVar{"CONTENT_LENGTH", strconv.FormatInt(cr.bodyLength, 10)})
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		meta = append(meta, envVar{"CONTENT_TYPE", ct})
	}
	meta = append(meta,
		envVar{"DOCUMENT_ROOT", cr.root},
		envVar{"GATEWAY_INTERFACE", "CGI/1.1"})
	if https {
		meta = append(meta, envVar{"HTTPS", "on"})
	}
	if cr.target.pathInfo != "" {
		meta = append(meta,
			envVar{"PATH_INFO", cr.target.pathInfo},
			envVar{"PATH_TRANSLATED", filepath.Join(cr.root, filepath.FromSlash(cr.target.pathInfo))})
	}
	meta = append(meta,
		envVar{"QUERY_STRING", r.URL.RawQuery},
		envVar{"REDIRECT_STATUS", "200"},
		envVar{"REMOTE_ADDR", remoteAddr})
	if remotePort != "" {
		meta = append(meta, envVar{"REMOTE_PORT", remotePort})
	}
	if cr.user != "" {
		meta = append(meta, envVar{"REMOTE_USER", cr.user})
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	meta = append(meta,
		envVar{"REQUEST_METHOD", r.Method},
		envVar{"REQUEST_SCHEME", scheme},
		envVar{"REQUEST_URI", r.RequestURI},
		envVar{"SCRIPT_FILENAME", cr.target.file},
		envVar{"SCRIPT_NAME", cr.target.scriptName},
		envVar{"SERVER_ADDR", localAddr},
		envVar{"SERVER_NAME", serverName(r.Host, localAddr)},
		envVar{"SERVER_PORT", localPort},
		envVar{"SERVER_PROTOCOL", r.Proto},
		envVar{"SERVER_SOFTWARE", s.serverSoftware})

	var headerArr [32]headerVar
	headers := headerVars(headerArr[:0], r, s.cfg.PassAuth)
	return mergeEnv(s.baseVars, meta, headers)
}

// mergeEnv joins the sorted lists into sorted NAME=value entries, cut from one string so
// that the whole environment is two allocations. A meta-variable replaces a base variable of
// the same name; a header variable joins or replaces one (headerVar.sep).
func mergeEnv(base, meta []envVar, headers []headerVar) []string {
	var arr [80]envVar
	all := arr[:0]
	for len(base)+len(meta)+len(headers) > 0 {
		// The smallest name at the head of a list; every list whose head has it advances
		// below, so the loop ends whatever the names are.
		next, found := envVar{}, false
		switch {
		case len(base) > 0:
			next.name = base[0].name
		case len(meta) > 0:
			next.name = meta[0].name
		default:
			next.name = headers[0].name
		}
		if len(meta) > 0 && compareEnvNames(meta[0].name, next.name) < 0 {
			next.name = meta[0].name
		}
		if len(headers) > 0 && compareEnvNames(headers[0].name, next.name) < 0 {
			next.name = headers[0].name
		}
		if len(base) > 0 && base[0].name == next.name {
			next.value, found = base[0].value, true
			base = base[1:]
		}
		if len(meta) > 0 && meta[0].name == next.name {
			next.value = meta[0].value
			meta = meta[1:]
		}
		if len(headers) > 0 && headers[0].name == next.name {
			h := headers[0]
			if found && h.sep != "" {
				next.value += h.sep + h.value
			} else {
				next.value = h.value
			}
			headers = headers[1:]
		}
		all = append(all, next)
	}
	size := 0
	for _, v := range all {
		size += len(v.name) + 1 + len(v.value)
	}
	var b strings.Builder
	b.Grow(size)
	for _, v := range all {
		b.WriteString(v.name)
		b.WriteByte('=')
		b.WriteString(v.value)
	}
	joined := b.String()
	out := make([]string, len(all))
	start := 0
	for i, v := range all {
		end := start + len(v.name) + 1 + len(v.value)
		out[i] = joined[start:end]
		start = end
	}
	return out
}

// sortedVars is env as a list sorted by name.
func sortedVars(env map[string]string) []envVar {
	out := make([]envVar, 0, len(env))
	for k, v := range env {
		out = append(out, envVar{k, v})
	}
	slices.SortFunc(out, func(a, b envVar) int { return compareEnvNames(a.name, b.name) })
	return out
}

// compareEnvNames orders names as their NAME=value entries sort: a name that is a prefix of
// another sorts after it when the other goes on with a digit, which sorts before '='
// ("HTTP_X0=" < "HTTP_X=").
func compareEnvNames(a, b string) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 || len(a) == len(b) {
		return c
	}
	if len(a) < len(b) {
		return cmp.Compare('=', b[n])
	}
	return cmp.Compare(a[n], '=')
}

// headerVars appends the request's headers as HTTP_* variables (ARCHITECTURE.md, "The environment") to dst,
// sorted by name. Each name costs one allocation.
func headerVars(dst []headerVar, r *http.Request, passAuth bool) []headerVar {
	if r.Host != "" {
		dst = append(dst, headerVar{name: "HTTP_HOST", value: r.Host})
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
		if i := slices.IndexFunc(dst, func(h headerVar) bool { return h.name == key }); i >= 0 {
			dst[i].value += sep + joined // two spellings of one name ("x-a" and "X-A")
			continue
		}
		dst = append(dst, headerVar{name: key, value: joined, sep: sep})
	}
	slices.SortFunc(dst, func(a, b headerVar) int { return compareEnvNames(a.name, b.name) })
	return dst
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
