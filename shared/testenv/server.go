package testenv

import (
	"net/http"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/httpapi"
)

// WantProjectTimeouts checks that srv has the project's read, write and idle timeouts,
// header bound and connection bound (httpapi.NewServer's, with no HTTP_* variable set), as
// every server that faces clients must.
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
	if srv.MaxHeaderBytes != httpapi.MaxHeaderBytes {
		t.Errorf("server MaxHeaderBytes = %d, want %d", srv.MaxHeaderBytes, httpapi.MaxHeaderBytes)
	}
	if srv.ConnState == nil {
		t.Error("server has no ConnState hook: its connections are not bounded (HTTP_MAX_CONNECTIONS)")
	}
}
