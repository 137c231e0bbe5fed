// Package clientip owns the proxy-trust rule: which address a request came from, given
// the proxies in front of a function and the X-Forwarded-For entries they append. The
// per-address rate limits count by this address, and the gateway forwards it to the
// group functions, so both ends apply one rule.
//
// The rule: a connection from an address outside TRUSTED_PROXIES is its own client, and
// its X-Forwarded-For is ignored. From a trusted proxy, X-Forwarded-For is read from the
// right, since each proxy appends the address it was reached from and whatever a client
// wrote sits left of that: the first entry that is not a trusted address is the client.
// With TRUSTED_PROXY_HOPS set, only that many entries from the right are read (our own
// proxies wrote them; anything further left is the client's). When every entry read is
// trusted, the answer is an address a proxy wrote, never one a client could have chosen:
// with hops set, the leftmost entry read (our outermost proxy saw the client there);
// without, the connection's peer itself, since then nothing tells which entries a proxy
// wrote.
package clientip

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// ProxyTrust is the proxy-trust settings; a function embeds it in its own config struct.
type ProxyTrust struct {
	// TrustedProxies lists the proxies (addresses or CIDR prefixes, comma-separated) whose
	// X-Forwarded-For is believed. Empty, the default, trusts none: the client address is
	// the connection's, and a client cannot change it with a header. Whatever connects from
	// a trusted address can name any untrusted client address, so list only proxies that
	// append the address they were reached from.
	TrustedProxies []string `envconfig:"TRUSTED_PROXIES"`
	// TrustedProxyHops is how many X-Forwarded-For entries, counted from the right, our own
	// proxies append; entries further left are ignored. 0, the default, means the number is
	// not known (it varies, e.g. with Knative's activator in the path or not).
	TrustedProxyHops int `envconfig:"TRUSTED_PROXY_HOPS" default:"0"`
}

// Resolver returns the Resolver for these settings. An error names the variable at fault, never its
// value.
func (c ProxyTrust) Resolver() (*Resolver, error) {
	r := &Resolver{hops: c.TrustedProxyHops}
	if c.TrustedProxyHops < 0 {
		return nil, errors.New("TRUSTED_PROXY_HOPS must be 0 or more")
	}
	for _, p := range c.TrustedProxies {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		prefix, err := parsePrefix(p)
		if err != nil {
			return nil, errors.New("TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDR prefixes")
		}
		r.trusted = append(r.trusted, prefix)
	}
	return r, nil
}

// Resolver finds a request's client address under one proxy-trust configuration. It is
// safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
	hops    int
}

// Client is the address req came from, by the package's rule. It is invalid when the
// connection's peer address is unknown (then no header is believed either).
func (r *Resolver) Client(req *http.Request) netip.Addr {
	peer := parseHop(req.RemoteAddr)
	if !r.isTrusted(peer) {
		return peer
	}
	var entries []string
	for _, v := range req.Header.Values("X-Forwarded-For") {
		for e := range strings.SplitSeq(v, ",") {
			entries = append(entries, strings.TrimSpace(e))
		}
	}
	if r.hops > 0 && len(entries) > r.hops {
		entries = entries[len(entries)-r.hops:]
	}
	// vouched is the last address a trusted proxy wrote, walking leftwards.
	vouched := peer
	for _, e := range slices.Backward(entries) {
		addr := parseHop(e)
		if !addr.IsValid() {
			// A proxy of ours would not write garbage: stop at what was vouched for.
			break
		}
		if !r.isTrusted(addr) {
			return addr
		}
		vouched = addr
	}
	if r.hops > 0 {
		// Inside the window every entry was written by one of our proxies.
		return vouched
	}
	// Without a known hop count a trusted entry may be one a client on a trusted address
	// wrote itself, so only the peer is certain.
	return peer
}

// SetForwardedFor makes client the one X-Forwarded-For entry of h, dropping whatever
// X-Forwarded-For or Forwarded header arrived, so what a proxy passes on is exactly the
// address it resolved and never a value a client wrote. An invalid client leaves no
// header at all.
func SetForwardedFor(h http.Header, client netip.Addr) {
	h.Del("Forwarded")
	h.Del("X-Forwarded-For")
	if client.IsValid() {
		h.Set("X-Forwarded-For", client.String())
	}
}

func (r *Resolver) isTrusted(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range r.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseHop reads "1.2.3.4", "1.2.3.4:5678", "2001:db8::1" or "[2001:db8::1]:5678".
func parseHop(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap()
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

// parsePrefix reads "10.0.0.0/8" or a single address "10.1.2.3".
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// "::ffff:10.0.0.0/104" would never match, since hops are unmapped.
			return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked(), nil
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
