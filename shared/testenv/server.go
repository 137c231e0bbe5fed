package testenv

import (
	"net/http"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/httpapi"
)

// WantProjectTimeouts checks that srv has the project's read, write and idle timeouts
// (httpapi.NewServer's), as every server that faces clients must.
func WantProjectTimeouts(t testing.TB, srv *http.Server) {
	t.Helper()
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"ReadHeaderTimeout", srv.ReadHeaderTimeout, httpapi.ReadHeaderTimeout},
		{"ReadTimeout", srv.ReadTimeout, httpapi.ReadTimeout},
		{"WriteTimeout", srv.WriteTimeout, httpapi.WriteTimeout},
		{"IdleTimeout", srv.IdleTimeout, httpapi.IdleTimeout},
	} {
		if c.got != c.want || c.got <= 0 {
			t.Errorf("server %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
