package diary

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/xmojo/diary/shared/clientip"
	"github.com/xmojo/diary/shared/httpapi"
)

// newProxy returns a reverse proxy for a group's upstream. The path is passed unchanged
// (functions serve the full public paths); the Host header becomes the upstream's, which
// is how Knative finds the cluster-local service. X-Forwarded-For is replaced by the one
// client address clients resolves, never appended to (see forwardClient). An upstream
// that cannot be reached or does not answer in time gets the client a 503 in the error
// shape with Retry-After; a body over the bound Observe puts on it gets a 413.
func newProxy(group string, target *url.URL, timeout time.Duration, m *metrics, clients *clientip.Resolver) *httputil.ReverseProxy {
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
	}
	return &httputil.ReverseProxy{
		Transport: transport,
		// Rewrite, not Director: ReverseProxy strips the incoming X-Forwarded-* and
		// Forwarded headers before Rewrite and appends nothing after it, so what the upstream
		// sees is exactly what is set here. (SetXForwarded would append the peer to a copied
		// chain, and Director mode appends the peer to whatever arrived.)
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			clientip.SetForwardedFor(pr.Out.Header, clients.Client(pr.In))
			pr.Out.Header.Set("X-Forwarded-Host", pr.In.Host)
			// TLS ends at the cluster's ingress, which says what the client used.
			proto := pr.In.Header.Get("X-Forwarded-Proto")
			if proto != "http" && proto != "https" {
				proto = "http"
				if pr.In.TLS != nil {
					proto = "https"
				}
			}
			pr.Out.Header.Set("X-Forwarded-Proto", proto)
			if id := httpapi.RequestID(pr.In.Context()); id != "" {
				pr.Out.Header.Set(httpapi.RequestIDHeader, id)
			}
		},
		ModifyResponse: func(res *http.Response) error {
			// The gateway has already set the same request id on the answer.
			res.Header.Del(httpapi.RequestIDHeader)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				httpapi.Fail(w, r, r.Context().Err())
				return
			}
			// A body of unknown length that ran past httpapi.LargestBodyBytes (Observe's
			// bound) is the client's fault, not the upstream's.
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				httpapi.Fail(w, r, httpapi.NewError(http.StatusRequestEntityTooLarge, "body_too_large",
					fmt.Sprintf("the body must be at most %d bytes", tooLarge.Limit)))
				return
			}
			m.upstreamErrors.WithLabelValues(group).Inc()
			httpapi.Logger(r.Context()).Error("upstream failed", "group", group, "upstream", target.Host, "error", err.Error())
			httpapi.Fail(w, r, httpapi.Unavailable("the "+group+" service is unavailable, try again shortly"))
		},
	}
}

// forwardClient serves an in-process group the way the proxy serves an upstream one: with
// X-Forwarded-For replaced by the one client address clients resolves, so a function
// behaves the same in the all-in-one process as behind the gateway in the cluster.
func forwardClient(clients *clientip.Resolver, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := r.Clone(r.Context())
		clientip.SetForwardedFor(out.Header, clients.Client(r))
		next.ServeHTTP(w, out)
	})
}
