package clientip

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func mustResolver(t *testing.T, trusted string, hops int) *Resolver {
	t.Helper()
	var list []string
	if trusted != "" {
		list = strings.Split(trusted, ",")
	}
	r, err := ProxyTrust{TrustedProxies: list, TrustedProxyHops: hops}.Resolver()
	if err != nil {
		t.Fatalf("Resolver(%q, %d) = %v", trusted, hops, err)
	}
	return r
}

func TestClient(t *testing.T) {
	const private = "127.0.0.0/8, 10.0.0.0/8, fd00::/8"
	tests := []struct {
		name    string
		trusted string
		hops    int
		remote  string
		xff     []string
		want    string
	}{
		// No proxy trusted: the header is never read.
		{"no proxies trusted: the peer", "", 0, "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"untrusted peer: header ignored", private, 0, "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"untrusted peer, hops set: header ignored", private, 2, "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},

		// Trusted peer, hops unknown: the first untrusted entry from the right.
		{"trusted peer: the entry it appended", private, 0, "10.0.0.2:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed leftmost entry is skipped", private, 0, "10.0.0.2:4000", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", private, 0, "10.0.0.2:4000", []string{"198.51.100.1, 10.0.0.9", "10.1.1.1"}, "198.51.100.1"},
		{"no header: the peer", private, 0, "10.0.0.2:4000", nil, "10.0.0.2"},
		// The bypass this package closes: every entry trusted used to give the leftmost,
		// which a client on a trusted address writes itself.
		{"every entry trusted: the peer, not a client's value", private, 0, "127.0.0.1:4000", []string{"10.77.3.1"}, "127.0.0.1"},
		{"every entry trusted, several: the peer", private, 0, "127.0.0.1:4000", []string{"10.1.2.3, 10.4.5.6"}, "127.0.0.1"},
		{"garbage stops the walk: the peer", private, 0, "10.0.0.2:4000", []string{"not-an-ip, 10.0.0.9"}, "10.0.0.2"},
		// An invalid entry must not let a trusted entry left of the peer win either: the
		// client on loopback wrote both.
		{"garbage then a trusted entry: the peer", private, 0, "127.0.0.1:4000", []string{"garbage, 10.9.9.9"}, "127.0.0.1"},
		{"garbage left of the client is never reached", private, 0, "10.0.0.2:4000", []string{"garbage, 198.51.100.1"}, "198.51.100.1"},
		{"empty entry stops the walk", private, 0, "10.0.0.2:4000", []string{"198.51.100.1,"}, "10.0.0.2"},

		// Hops known: only the rightmost entries count, and all trusted means the
		// leftmost of them.
		{"hops: entries left of the window ignored", private, 1, "10.0.0.2:4000", []string{"198.51.100.66, 198.51.100.1"}, "198.51.100.1"},
		{"hops: client-written untrusted entry outside the window", private, 1, "10.0.0.2:4000", []string{"198.51.100.66, 10.0.0.7"}, "10.0.0.7"},
		{"hops: every entry in the window trusted: its leftmost", private, 2, "10.0.0.2:4000", []string{"10.3.3.3, 10.0.0.8, 10.0.0.9"}, "10.0.0.8"},
		{"hops: first untrusted inside the window", private, 2, "10.0.0.2:4000", []string{"1.2.3.4, 198.51.100.1, 10.0.0.9"}, "198.51.100.1"},
		{"hops: fewer entries than hops", private, 3, "10.0.0.2:4000", []string{"10.0.0.9"}, "10.0.0.9"},
		{"hops: no header: the peer", private, 2, "10.0.0.2:4000", nil, "10.0.0.2"},
		{"hops: garbage inside the window: the last vouched entry", private, 2, "10.0.0.2:4000", []string{"unknown, 10.0.0.9"}, "10.0.0.9"},

		// Address forms.
		{"single trusted address", "10.0.0.2", 0, "10.0.0.2:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"an address next to the trusted one", "10.0.0.2", 0, "10.0.0.3:4000", []string{"198.51.100.1"}, "10.0.0.3"},
		{"IPv6 peer and entry", private, 0, "[fd00::1]:4000", []string{"2001:db8::9"}, "2001:db8::9"},
		{"IPv6 entry with port and zone", private, 0, "10.0.0.2:4000", []string{"[2001:db8::9%eth0]:5000"}, "2001:db8::9"},
		{"entry with a port", private, 0, "10.0.0.2:4000", []string{"198.51.100.1:5000"}, "198.51.100.1"},
		{"IPv4-mapped peer", "", 0, "[::ffff:203.0.113.5]:4000", nil, "203.0.113.5"},
		{"IPv4-mapped trusted prefix", "::ffff:10.0.0.0/104", 0, "10.0.0.2:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"no peer address", private, 0, "", []string{"198.51.100.1"}, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustResolver(t, tt.trusted, tt.hops)
			req, _ := http.NewRequest("POST", "/api/v1/auth/login", nil)
			req.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if got := r.Client(req).String(); got != tt.want {
				t.Errorf("Client(%q, X-Forwarded-For %q) with %q, hops %d = %s, want %s", tt.remote, tt.xff, tt.trusted, tt.hops, got, tt.want)
			}
		})
	}
}

// TestClientIgnoresSpoofedTrustedAddresses is the scenario at the resolver: a
// client on loopback cycling through private X-Forwarded-For values is one address.
func TestClientIgnoresSpoofedTrustedAddresses(t *testing.T) {
	r := mustResolver(t, "127.0.0.0/8,10.0.0.0/8", 0)
	for i := range 30 {
		req, _ := http.NewRequest("POST", "/", nil)
		req.RemoteAddr = "127.0.0.1:50000"
		req.Header.Set("X-Forwarded-For", netip.AddrFrom4([4]byte{10, byte(i), byte(i * 7), 1}).String())
		if got := r.Client(req); got != netip.MustParseAddr("127.0.0.1") {
			t.Fatalf("Client(X-Forwarded-For %s) = %s, want 127.0.0.1", req.Header.Get("X-Forwarded-For"), got)
		}
	}
}

func TestResolverRejectsBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ProxyTrust
		want string
	}{
		{"not an address", ProxyTrust{TrustedProxies: []string{"10.0.0.0/8", "proxy.local"}}, "TRUSTED_PROXIES"},
		{"bad prefix length", ProxyTrust{TrustedProxies: []string{"10.0.0.0/33"}}, "TRUSTED_PROXIES"},
		{"negative hops", ProxyTrust{TrustedProxyHops: -1}, "TRUSTED_PROXY_HOPS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.Resolver()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Resolver() = %v, want an error naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "proxy.local") {
				t.Errorf("Resolver() error %q quotes the value", err)
			}
		})
	}
}

func TestSetForwardedFor(t *testing.T) {
	h := http.Header{}
	h.Add("X-Forwarded-For", "10.1.1.1, 198.51.100.7")
	h.Add("X-Forwarded-For", "10.2.2.2")
	h.Set("Forwarded", "for=192.0.2.60")
	SetForwardedFor(h, netip.MustParseAddr("203.0.113.9"))
	if got := h.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "203.0.113.9" {
		t.Errorf("X-Forwarded-For = %q, want exactly [203.0.113.9]", got)
	}
	if got := h.Get("Forwarded"); got != "" {
		t.Errorf("Forwarded = %q, want it dropped", got)
	}
	SetForwardedFor(h, netip.Addr{})
	if got := h.Values("X-Forwarded-For"); len(got) != 0 {
		t.Errorf("X-Forwarded-For for an unknown client = %q, want none", got)
	}
}
