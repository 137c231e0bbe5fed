package auth

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// clientIP is the address a request came from, for rate limiting. It is the connection's
// peer unless that peer is a trusted proxy; then X-Forwarded-For is read from the right,
// skipping trusted proxies, and the first address not trusted is the client. Reading from
// the right means a client cannot choose its address by sending its own
// X-Forwarded-For: whatever it wrote sits left of what our proxies appended. With every
// hop trusted the leftmost one is used; with no trusted proxies the header is ignored.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseHop(r.RemoteAddr)
	if !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	client := peer
	for _, h := range slices.Backward(hops) {
		addr := parseHop(h)
		if !addr.IsValid() {
			// A trusted proxy would not write garbage; stop at the last address it vouched for.
			return client
		}
		client = addr
		if !isTrusted(addr, trusted) {
			return addr
		}
	}
	return client
}

// parseHop reads "1.2.3.4", "1.2.3.4:5678", "2001:db8::1" or "[2001:db8::1]:5678".
func parseHop(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	addr, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return addr.WithZone("").Unmap()
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
