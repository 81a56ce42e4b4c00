package server

import "net"

// notSentLowat is how much unsent data a connection may queue in the kernel before the
// socket stops being writable: without it one large sendfile queues megabytes, which leave
// the cache and cost both ends more CPU per byte (BENCHMARKS.md, large static files). It
// bounds only the queue behind the congestion window, not the bytes in flight, so a long fat
// network is not slowed.
const notSentLowat = 16 << 10

// TuneListener returns ln with each accepted TCP connection tuned for serving large
// responses: see notSentLowat. Systems without TCP_NOTSENT_LOWAT accept connections
// unchanged. cgihttpd serves through it; a program that embeds the Server may too.
func TuneListener(ln net.Listener) net.Listener { return tunedListener{ln} }

type tunedListener struct{ net.Listener }

func (l tunedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		if tc, ok := c.(*net.TCPConn); ok {
			// Best effort: a connection the option cannot be set on is still served.
			_ = setNotSentLowat(tc, notSentLowat)
		}
	}
	return c, err
}
