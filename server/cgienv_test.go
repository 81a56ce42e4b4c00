package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cgihttpd/cgihttpd/executor"
)

// fakeExecutor stands in for a real one: building the environment runs nothing.
type fakeExecutor struct{}

var _ executor.Executor = fakeExecutor{}

func (fakeExecutor) Run(context.Context, *executor.Invocation) error { return nil }
func (fakeExecutor) Name() string                                    { return "fake" }

func newEnvServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Root = t.TempDir()
	cfg.Executor = fakeExecutor{}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// envRequest returns a GET for target from 192.0.2.7:40000 to a server listening on
// 10.1.2.3:8000.
func envRequest(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "192.0.2.7:40000"
	local := &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8000}
	return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
}

var defaultTarget = scriptTarget{scriptName: "/cgi-bin/x.sh", file: "/srv/cgi-bin/x.sh"}

// env builds the environment for r and returns it as a map, checking its shape on the way:
// sorted NAME=value entries, each name once.
func env(t *testing.T, s *Server, r *http.Request, target scriptTarget, bodyLength int64) map[string]string {
	t.Helper()
	list := s.buildEnv(cgiRequest{r: r, root: s.root, target: target, bodyLength: bodyLength})
	if !sort.StringsAreSorted(list) {
		t.Errorf("environment not sorted: %q", list)
	}
	m := make(map[string]string, len(list))
	for _, kv := range list {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			t.Errorf("malformed environment entry %q", kv)
		}
		if _, dup := m[name]; dup {
			t.Errorf("%s set twice", name)
		}
		m[name] = value
	}
	return m
}

func wantVar(t *testing.T, e map[string]string, name, want string) {
	t.Helper()
	got, ok := e[name]
	if !ok {
		t.Errorf("%s unset, want %q", name, want)
	} else if got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func wantUnset(t *testing.T, e map[string]string, names ...string) {
	t.Helper()
	for _, name := range names {
		if v, ok := e[name]; ok {
			t.Errorf("%s = %q, want it unset", name, v)
		}
	}
}

func TestBuildEnvNoServerEnvironment(t *testing.T) {
	const secret = "s3cret-7c1d0e"
	t.Setenv("CGIHTTPD_TEST_SECRET", secret)
	t.Setenv("PATH", "/server/only/bin")
	t.Setenv("HTTP_PROXY", "http://proxy.example:3128")
	s := newEnvServer(t, Config{})
	e := env(t, s, envRequest("GET", "/cgi-bin/x.sh"), defaultTarget, -1)

	wantUnset(t, e, "CGIHTTPD_TEST_SECRET", "HTTP_PROXY", "HOME", "USER")
	for name, value := range e {
		if strings.Contains(value, secret) || strings.Contains(value, "/server/only/bin") {
			t.Errorf("%s=%q leaks the server's environment", name, value)
		}
	}
	wantVar(t, e, "PATH", defaultPath)
}

func TestBuildEnvOperatorVariables(t *testing.T) {
	t.Setenv("CGIHTTPD_TEST_PASS", "passed")
	t.Setenv("CGIHTTPD_TEST_EMPTY", "")
	t.Setenv("CGIHTTPD_TEST_OTHER", "not passed")
	s := newEnvServer(t, Config{
		PassEnv: []string{"CGIHTTPD_TEST_PASS", "CGIHTTPD_TEST_EMPTY", "CGIHTTPD_TEST_UNSET_9d2b"},
		Env:     []string{"EXTRA=1", "WITH_EQUALS=a=b", "BLANK=", "PATH=/opt/bin", "REQUEST_METHOD=PUT"},
	})
	e := env(t, s, envRequest("GET", "/cgi-bin/x.sh"), defaultTarget, -1)

	wantVar(t, e, "CGIHTTPD_TEST_PASS", "passed")
	wantVar(t, e, "CGIHTTPD_TEST_EMPTY", "")
	wantUnset(t, e, "CGIHTTPD_TEST_UNSET_9d2b", "CGIHTTPD_TEST_OTHER")
	wantVar(t, e, "EXTRA", "1")
	wantVar(t, e, "WITH_EQUALS", "a=b")
	wantVar(t, e, "BLANK", "")
	wantVar(t, e, "PATH", "/opt/bin")
	// The request's own meta-variables are not the operator's to fake.
	wantVar(t, e, "REQUEST_METHOD", "GET")
}

func TestBuildEnvMetaVariables(t *testing.T) {
	s := newEnvServer(t, Config{Version: "1.2.3"})
	withInfo := scriptTarget{scriptName: "/cgi-bin/x.sh", pathInfo: "/a/b c/", file: "/srv/cgi-bin/x.sh"}

	tests := []struct {
		name       string
		method     string
		url        string
		proto      string
		target     scriptTarget
		bodyLength int64
		header     map[string]string
		want       map[string]string
		unset      []string
	}{
		{
			name: "GET without query", method: "GET", url: "/cgi-bin/x.sh", proto: "HTTP/1.1",
			target: defaultTarget, bodyLength: -1,
			want: map[string]string{
				"GATEWAY_INTERFACE": "CGI/1.1",
				"SERVER_SOFTWARE":   "cgihttpd/1.2.3",
				"SERVER_PROTOCOL":   "HTTP/1.1",
				"REQUEST_METHOD":    "GET",
				"REQUEST_URI":       "/cgi-bin/x.sh",
				"QUERY_STRING":      "",
				"SCRIPT_NAME":       "/cgi-bin/x.sh",
				"SCRIPT_FILENAME":   "/srv/cgi-bin/x.sh",
				"DOCUMENT_ROOT":     s.root,
				"REDIRECT_STATUS":   "200",
				"REQUEST_SCHEME":    "http",
			},
			unset: []string{"PATH_INFO", "PATH_TRANSLATED", "CONTENT_LENGTH", "CONTENT_TYPE", "HTTPS"},
		},
		{
			name: "HTTP/1.0 with raw query", method: "GET", url: "/cgi-bin/x.sh?q=a%20b&x=%2F&y=+", proto: "HTTP/1.0",
			target: defaultTarget, bodyLength: -1,
			want: map[string]string{
				"SERVER_PROTOCOL": "HTTP/1.0",
				"QUERY_STRING":    "q=a%20b&x=%2F&y=+",
				"REQUEST_URI":     "/cgi-bin/x.sh?q=a%20b&x=%2F&y=+",
			},
		},
		{
			name: "path info", method: "GET", url: "/cgi-bin/x.sh/a/b%20c/", proto: "HTTP/1.1",
			target: withInfo, bodyLength: -1,
			want: map[string]string{
				"SCRIPT_NAME":     "/cgi-bin/x.sh",
				"PATH_INFO":       "/a/b c/",
				"PATH_TRANSLATED": filepath.Join(s.root, "a", "b c"),
			},
		},
		{
			name: "POST with body", method: "POST", url: "/cgi-bin/x.sh", proto: "HTTP/1.1",
			target: defaultTarget, bodyLength: 11,
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "11"},
			want: map[string]string{
				"REQUEST_METHOD": "POST",
				"CONTENT_LENGTH": "11",
				"CONTENT_TYPE":   "application/x-www-form-urlencoded",
			},
			unset: []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"},
		},
		{
			name: "empty body", method: "POST", url: "/cgi-bin/x.sh", proto: "HTTP/1.1",
			target: defaultTarget, bodyLength: 0,
			header: map[string]string{"Content-Length": "0"},
			want:   map[string]string{"CONTENT_LENGTH": "0"},
			unset:  []string{"CONTENT_TYPE", "HTTP_CONTENT_LENGTH"},
		},
		{
			name: "type without body", method: "GET", url: "/cgi-bin/x.sh", proto: "HTTP/1.1",
			target: defaultTarget, bodyLength: -1,
			header: map[string]string{"Content-Type": "text/plain"},
			want:   map[string]string{"CONTENT_TYPE": "text/plain"},
			unset:  []string{"CONTENT_LENGTH", "HTTP_CONTENT_TYPE"},
		},
		{
			name: "HEAD", method: "HEAD", url: "/cgi-bin/x.sh", proto: "HTTP/1.1",
			target: defaultTarget, bodyLength: -1,
			want: map[string]string{"REQUEST_METHOD": "HEAD"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := envRequest(tc.method, tc.url)
			r.Proto = tc.proto
			r.ProtoMajor, r.ProtoMinor, _ = http.ParseHTTPVersion(tc.proto)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			e := env(t, s, r, tc.target, tc.bodyLength)
			for name, want := range tc.want {
				wantVar(t, e, name, want)
			}
			wantUnset(t, e, tc.unset...)
			_, info := e["PATH_INFO"]
			_, translated := e["PATH_TRANSLATED"]
			if info != translated {
				t.Errorf("PATH_INFO set %v but PATH_TRANSLATED set %v: want both or neither", info, translated)
			}
		})
	}
}

func TestBuildEnvHeaders(t *testing.T) {
	tests := []struct {
		name     string
		passAuth bool
		add      [][2]string         // added with Header.Add (canonical names)
		raw      map[string][]string // set directly in the map (names as given)
		want     map[string]string
		unset    []string
	}{
		{
			name: "plain headers",
			add:  [][2]string{{"User-Agent", "test/1"}, {"Accept", "*/*"}, {"X-Custom-Thing", "v"}},
			want: map[string]string{"HTTP_USER_AGENT": "test/1", "HTTP_ACCEPT": "*/*", "HTTP_X_CUSTOM_THING": "v", "HTTP_HOST": "example.com"},
		},
		{
			name: "duplicates merged with comma",
			add:  [][2]string{{"X-Foo", "a"}, {"X-Foo", "b"}, {"Accept", "text/html"}, {"Accept", "*/*"}},
			want: map[string]string{"HTTP_X_FOO": "a, b", "HTTP_ACCEPT": "text/html, */*"},
		},
		{
			name: "cookies merged with semicolon",
			add:  [][2]string{{"Cookie", "a=1"}, {"Cookie", "b=2"}},
			want: map[string]string{"HTTP_COOKIE": "a=1; b=2"},
		},
		{
			name: "underscore name dropped",
			add:  [][2]string{{"X-Foo", "good"}},
			raw:  map[string][]string{"X_Foo": {"evil"}, "X_FOO": {"evil"}, "x_foo": {"evil"}},
			want: map[string]string{"HTTP_X_FOO": "good"},
		},
		{
			name:  "underscore name alone dropped",
			raw:   map[string][]string{"X_Foo": {"evil"}, "Content_Type": {"evil"}},
			unset: []string{"HTTP_X_FOO", "HTTP_CONTENT_TYPE", "CONTENT_TYPE"},
		},
		{
			name:  "other odd names dropped",
			raw:   map[string][]string{"X.Foo": {"evil"}, "X Foo": {"evil"}, "": {"evil"}, "X=Y": {"evil"}},
			unset: []string{"HTTP_X_FOO", "HTTP_X.FOO", "HTTP_", "HTTP_X=Y"},
		},
		{
			name:  "proxy never exported",
			add:   [][2]string{{"Proxy", "http://evil.example:3128"}},
			raw:   map[string][]string{"proxy": {"http://evil.example:3128"}},
			unset: []string{"HTTP_PROXY"},
		},
		{
			name:  "authorization dropped",
			add:   [][2]string{{"Authorization", "Basic dXNlcjpwYXNz"}},
			unset: []string{"HTTP_AUTHORIZATION", "REMOTE_USER", "AUTH_TYPE"},
		},
		{
			name:     "authorization passed",
			passAuth: true,
			add:      [][2]string{{"Authorization", "Basic dXNlcjpwYXNz"}},
			want:     map[string]string{"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
			unset:    []string{"REMOTE_USER", "AUTH_TYPE"},
		},
		{
			name:  "content headers only as CONTENT_*",
			add:   [][2]string{{"Content-Type", "text/plain"}, {"Content-Length", "3"}},
			raw:   map[string][]string{"content-type": {"evil"}, "content-length": {"99"}},
			want:  map[string]string{"CONTENT_TYPE": "text/plain"},
			unset: []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newEnvServer(t, Config{PassAuth: tc.passAuth})
			r := envRequest("GET", "http://example.com/cgi-bin/x.sh")
			for _, kv := range tc.add {
				r.Header.Add(kv[0], kv[1])
			}
			for k, v := range tc.raw {
				r.Header[k] = v
			}
			e := env(t, s, r, defaultTarget, -1)
			for name, want := range tc.want {
				wantVar(t, e, name, want)
			}
			wantUnset(t, e, tc.unset...)
			for name, value := range e {
				if strings.Contains(value, "evil") {
					t.Errorf("%s=%q comes from a header that must be dropped", name, value)
				}
				if strings.HasPrefix(name, "HTTP_") && strings.Trim(name[5:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
					t.Errorf("variable name %q holds more than A-Z, 0-9, _", name)
				}
			}
		})
	}
}

// TestBuildEnvHeaderSpellings covers one header sent under two spellings, which only a
// hand-built Header map can hold: both values are kept, in either order.
func TestBuildEnvHeaderSpellings(t *testing.T) {
	s := newEnvServer(t, Config{})
	r := envRequest("GET", "/cgi-bin/x.sh")
	r.Header["X-A"] = []string{"1"}
	r.Header["x-a"] = []string{"2"}
	e := env(t, s, r, defaultTarget, -1)
	if got := e["HTTP_X_A"]; got != "1, 2" && got != "2, 1" {
		t.Errorf("HTTP_X_A = %q, want both values", got)
	}
}

func TestBuildEnvAddresses(t *testing.T) {
	tests := []struct {
		name                   string
		remote                 string
		local                  net.Addr
		remoteAddr, remotePort string
		serverAddr, serverPort string
	}{
		{"IPv4", "192.0.2.7:40000", &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8000},
			"192.0.2.7", "40000", "10.1.2.3", "8000"},
		{"IPv4-mapped", "[::ffff:127.0.0.1]:40000", &net.TCPAddr{IP: net.ParseIP("::ffff:10.0.0.1"), Port: 8080},
			"127.0.0.1", "40000", "10.0.0.1", "8080"},
		{"IPv6", "[2001:db8::1]:40000", &net.TCPAddr{IP: net.ParseIP("::1"), Port: 8000},
			"2001:db8::1", "40000", "::1", "8000"},
		{"IPv6 with zone", "[fe80::1%eth0]:40000", &net.TCPAddr{IP: net.ParseIP("fe80::2"), Port: 80, Zone: "eth0"},
			"fe80::1", "40000", "fe80::2", "80"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newEnvServer(t, Config{})
			r := httptest.NewRequest("GET", "/cgi-bin/x.sh", nil)
			r.RemoteAddr = tc.remote
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, tc.local))
			e := env(t, s, r, defaultTarget, -1)
			wantVar(t, e, "REMOTE_ADDR", tc.remoteAddr)
			wantVar(t, e, "REMOTE_PORT", tc.remotePort)
			wantVar(t, e, "SERVER_ADDR", tc.serverAddr)
			wantVar(t, e, "SERVER_PORT", tc.serverPort)
		})
	}
}

func TestBuildEnvServerName(t *testing.T) {
	const fallback = "10.1.2.3" // envRequest's listening address
	tests := []struct {
		host string
		want string
	}{
		{"example.com", "example.com"},
		{"Example.COM:8080", "example.com"},
		{"www.example.com.", "www.example.com."},
		{"localhost:8000", "localhost"},
		{"127.0.0.1:8000", "127.0.0.1"},
		{"[::1]:80", "::1"},
		{"[::1]", "::1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"[2001:DB8::1]:80", "2001:db8::1"},
		// A zone is the client's name for its own interface, and may hold anything.
		{"[fe80::1%25$(id)]:80", "fe80::1"},
		{"bad host!", fallback},
		{"a..b", fallback},
		{"-x", fallback},
		{"x-.example", fallback},
		{"a b:80", fallback},
		{"host:80:80", fallback},
		{"", fallback},
		{strings.Repeat("a", 64) + ".example", fallback},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			s := newEnvServer(t, Config{})
			r := envRequest("GET", "/cgi-bin/x.sh")
			r.Host = tc.host
			e := env(t, s, r, defaultTarget, -1)
			wantVar(t, e, "SERVER_NAME", tc.want)
		})
	}
}

func TestBuildEnvHTTPS(t *testing.T) {
	s := newEnvServer(t, Config{})

	r := envRequest("GET", "/cgi-bin/x.sh")
	e := env(t, s, r, defaultTarget, -1)
	wantUnset(t, e, "HTTPS")
	wantVar(t, e, "REQUEST_SCHEME", "http")

	r = envRequest("GET", "/cgi-bin/x.sh")
	r.TLS = &tls.ConnectionState{}
	e = env(t, s, r, defaultTarget, -1)
	wantVar(t, e, "HTTPS", "on")
	wantVar(t, e, "REQUEST_SCHEME", "https")
}

// FuzzBuildEnv: whatever headers, Host, path info and query a request brings, the environment
// has well-formed names, each once, never HTTP_PROXY, HTTP_AUTHORIZATION or REMOTE_USER, and
// SERVER_NAME is a plain host name or address.
func FuzzBuildEnv(f *testing.F) {
	f.Add("X-Foo", "bar", "example.com:80", "/extra", "a=1")
	f.Add("X_Foo", "spoof", "[::1]:8080", "", "")
	f.Add("Proxy", "http://evil", "bad host!", "/a?b", "%41")
	f.Add("Authorization", "Basic eDp5", "", "/", "x")
	f.Add("Cookie", "a=1", "[fe80::1%25eth0]:80", "/é", "q=é")
	f.Add("Content-Type", "() { :; }; echo", "EXAMPLE.com.", "/../x", "a=b&c")
	s := newFuzzEnvServer(f)
	f.Fuzz(func(t *testing.T, name, value, host, pathInfo, query string) {
		r := envRequest("GET", "/cgi-bin/x.sh")
		r.Host = host
		r.URL.RawQuery = query
		r.Header[name] = []string{value, value}
		target := defaultTarget
		target.pathInfo = pathInfo
		seen := make(map[string]bool)
		for _, kv := range s.buildEnv(cgiRequest{r: r, root: s.root, target: target, bodyLength: -1}) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || seen[k] {
				t.Fatalf("bad or repeated entry %q", kv)
			}
			seen[k] = true
			for _, c := range k {
				if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
					t.Fatalf("variable name %q", k)
				}
			}
			switch k {
			case "HTTP_PROXY", "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "REMOTE_USER", "AUTH_TYPE":
				t.Fatalf("%s exported", k)
			case "SERVER_NAME":
				if strings.ContainsAny(v, " /%[]\\") {
					t.Fatalf("SERVER_NAME %q from Host %q", v, host)
				}
			}
		}
		if !seen["SERVER_NAME"] || !seen["QUERY_STRING"] {
			t.Fatal("SERVER_NAME or QUERY_STRING missing")
		}
	})
}

func newFuzzEnvServer(f *testing.F) *Server {
	s, err := New(Config{Root: f.TempDir(), Executor: fakeExecutor{}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	return s
}

// TestMergeEnvOrdersAndEnds: entries come out in NAME=value order, a meta-variable replaces
// a base one, a header joins one, and the merge ends even on names it never expects (empty).
func TestMergeEnvOrdersAndEnds(t *testing.T) {
	got := mergeEnv(
		[]envVar{{"", "odd"}, {"HTTP_X", "op"}, {"PATH", "/bin"}, {"QUERY_STRING", "forged"}},
		[]envVar{{"QUERY_STRING", "real"}},
		[]headerVar{{name: "HTTP_X0", value: "a", sep: ", "}, {name: "HTTP_X", value: "b", sep: ", "}})
	want := []string{"=odd", "HTTP_X0=a", "HTTP_X=op, b", "PATH=/bin", "QUERY_STRING=real"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
