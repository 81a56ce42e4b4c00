package server

import (
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzBuildEnvMatchesReference: the merged environment is exactly what the map-based
// version built, for operator variables that collide with meta-variables and headers, several
// headers, Host, path info and query.
func FuzzBuildEnvMatchesReference(f *testing.F) {
	f.Add("X-Foo", "x-foo", "bar", "example.com:80", "/extra", "a=1", "HTTP_X_FOO=op")
	f.Add("Cookie", "cookie", "a=1", "", "", "", "HTTP_COOKIE=c=0")
	f.Add("Host", "X_Foo", "spoof", "[::1]:8080", "", "", "HTTP_HOST=op")
	f.Add("Content-Type", "Accept", "text/x", "h", "/p", "q", "QUERY_STRING=forged")
	f.Add("Authorization", "Proxy", "Basic eDp5", "", "/", "x", "PATH=/opt/bin")
	f.Add("A", "a", "", "", "", "", "HTTP_A=")
	f.Fuzz(func(t *testing.T, name1, name2, value, host, pathInfo, query, extra string) {
		if _, _, ok := strings.Cut(extra, "="); !ok || strings.HasPrefix(extra, "=") || strings.Contains(extra, "\x00") {
			extra = "X=1"
		}
		for _, passAuth := range []bool{false, true} {
			s, err := New(Config{Root: t.TempDir(), Executor: fakeExecutor{}, Env: []string{extra}, PassAuth: passAuth}, nil)
			if err != nil {
				return // an entry New refuses
			}
			t.Cleanup(func() { _ = s.Close() }) // each input's servers; fuzzing makes thousands
			r := envRequest("POST", "/cgi-bin/x.sh")
			r.Host = host
			r.URL.RawQuery = query
			r.Header[name1] = []string{value}
			if !strings.EqualFold(strings.ReplaceAll(name1, "_", "-"), strings.ReplaceAll(name2, "_", "-")) {
				// Two spellings of one name join in map order, in both versions: not compared.
				r.Header[name2] = []string{value, "second"}
			}
			target := defaultTarget
			target.pathInfo = pathInfo
			for _, length := range []int64{-1, 5} {
				cr := cgiRequest{r: r, root: s.root, target: target, bodyLength: length, user: name2}
				got, want := s.buildEnv(cr), s.referenceEnv(cr)
				if !slices.Equal(got, want) {
					t.Fatalf("passAuth=%v length=%d:\n got %q\nwant %q", passAuth, length, got, want)
				}
			}
		}
	})
}

// referenceEnv is the map-based buildEnv that came before the merge; it builds a script's environment from nothing: the operator's fixed extras, then the
// RFC 3875 meta-variables, then the request's headers as HTTP_*. The server's own environment
// is never inherited.
func (s *Server) referenceEnv(cr cgiRequest) []string {
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
	if cr.user != "" {
		env["AUTH_TYPE"] = "Basic"
		env["REMOTE_USER"] = cr.user
	}

	if cr.bodyLength >= 0 {
		env["CONTENT_LENGTH"] = strconv.FormatInt(cr.bodyLength, 10)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		env["CONTENT_TYPE"] = ct
	}

	refAddHeaderVars(env, r, s.cfg.PassAuth)

	return refEnvList(env)
}

// envList is env as sorted NAME=value entries. They are cut from one string, so that the
// whole environment is two allocations, not one per variable.
func refEnvList(env map[string]string) []string {
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

// addHeaderVars maps request headers to HTTP_* variables in env (ARCHITECTURE.md, "The environment"). It runs for
// every CGI request, so each name costs one allocation.
func refAddHeaderVars(env map[string]string, r *http.Request, passAuth bool) {
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
