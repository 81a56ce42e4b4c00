package server

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the peer's address, or the one a trusted proxy forwarded: the rightmost
// X-Forwarded-For entry that is not itself a trusted proxy. https reports a trusted
// X-Forwarded-Proto of https.
func (s *Server) clientAddr(r *http.Request) (addr string, port string, https bool) {
	addr, port = splitAddr(r.RemoteAddr)
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(addr) {
		return addr, port, false
	}
	forwarded := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(forwarded) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(forwarded[i]))
		if err != nil {
			break // a garbled entry: trust nothing to its left
		}
		addr, port = a.Unmap().String(), ""
		if !s.trusted(addr) {
			break
		}
	}
	return addr, port, strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (s *Server) trusted(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
