package clientip_test

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/clientip"
)

// FuzzClient feeds X-Forwarded-For values a client can write. Whatever they hold, an
// untrusted peer is answered with itself (the header changes nothing), and a trusted
// peer with itself or an address written inside the window our proxies append, never one
// a client wrote further left.
func FuzzClient(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "198.51.100.1, 10.0.0.2", "10.0.0.9,10.0.0.8", "garbage, 10.0.0.2", "", " , ,", "[::1]:80, 2001:db8::1", "203.0.113.7:1234"} {
		f.Add("10.0.0.1:4000", s, 0)
		f.Add("192.0.2.50:4000", s, 1)
		f.Add("10.0.0.1:4000", s, 2)
	}
	// addr is how the package itself reads s as a connection's address: trusting no
	// proxy, Client answers the peer.
	direct, err := clientip.ProxyTrust{}.Resolver()
	if err != nil {
		f.Fatal(err)
	}
	addr := func(s string) netip.Addr {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = s
		return direct.Client(req)
	}
	trusted := netip.MustParsePrefix("10.0.0.0/8")
	f.Fuzz(func(t *testing.T, remote, xff string, hops int) {
		hops = max(0, min(hops, 3))
		r, err := clientip.ProxyTrust{TrustedProxies: []string{trusted.String()}, TrustedProxyHops: hops}.Resolver()
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = remote
		req.Header.Set("X-Forwarded-For", xff)
		got, peer := r.Client(req), addr(remote)
		if got == peer {
			return
		}
		if !trusted.Contains(peer) {
			t.Fatalf("untrusted peer %q answered %v from X-Forwarded-For %q", remote, got, xff)
		}
		entries := strings.Split(xff, ",")
		if hops > 0 && len(entries) > hops {
			entries = entries[len(entries)-hops:]
		}
		for _, e := range entries {
			if addr(strings.TrimSpace(e)) == got {
				return
			}
		}
		t.Fatalf("Client = %v: neither the peer %q nor an entry in the window of %q (hops %d)", got, remote, xff, hops)
	})
}
