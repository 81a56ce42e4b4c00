package server

import (
	"net/netip"
	"sync"
	"time"
)

const (
	// defaultAuthFailures is how many wrong credentials a client may send in authWindow
	// before it gets 429.
	defaultAuthFailures = 10
	authWindow          = time.Minute
	// maxAuthClients bounds the clients whose failures are counted at once; past it (after
	// expired ones are dropped) a new client's failures are not counted, and that is logged.
	maxAuthClients = 1 << 16
)

// failureLimiter counts each client's failed logins in a window that starts at its first
// failure. A client with max failures in its window is refused until the window ends,
// whatever it sends; other clients are not affected.
type failureLimiter struct {
	max     int
	window  time.Duration
	now     func() time.Time
	mu      sync.Mutex
	clients map[netip.Prefix]*failureCount
}

type failureCount struct {
	n     int
	since time.Time
}

func newFailureLimiter(max int, window time.Duration) *failureLimiter {
	return &failureLimiter{max: max, window: window, now: time.Now, clients: make(map[netip.Prefix]*failureCount)}
}

// clientKey is what failures are counted by: the address, and for IPv6 its /64, which one
// client usually holds whole. ok is false when addr is not an IP address.
func clientKey(addr string) (netip.Prefix, bool) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap().WithZone("")
	bits := ip.BitLen()
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// blocked reports whether client has used up its failures, and for how long it stays so.
func (l *failureLimiter) blocked(client netip.Prefix) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[client]
	if c == nil {
		return 0, false
	}
	left := c.since.Add(l.window).Sub(l.now())
	if left <= 0 {
		delete(l.clients, client)
		return 0, false
	}
	return left, c.n >= l.max
}

// fail counts one failure of client; it returns false when the client could not be tracked.
func (l *failureLimiter) fail(client netip.Prefix) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	c := l.clients[client]
	if c != nil && now.Sub(c.since) >= l.window {
		c = nil
	}
	if c == nil {
		if len(l.clients) >= maxAuthClients {
			l.dropExpired(now)
			if len(l.clients) >= maxAuthClients {
				return false
			}
		}
		c = &failureCount{since: now}
		l.clients[client] = c
	}
	c.n++
	return true
}

func (l *failureLimiter) dropExpired(now time.Time) {
	for k, c := range l.clients {
		if now.Sub(c.since) >= l.window {
			delete(l.clients, k)
		}
	}
}
