package diary

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/xmojo/diary/shared/httpapi"
)

// newProxy returns a reverse proxy for a group's upstream. The path is passed unchanged
// (functions serve the full public paths); the Host header becomes the upstream's, which
// is how Knative finds the cluster-local service. An upstream that cannot be reached or
// does not answer in time gets the client a 503 in the error shape with Retry-After.
func newProxy(group string, target *url.URL, timeout time.Duration, m *metrics) *httputil.ReverseProxy {
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
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// Keep the chain the ingress started, then add the peer that reached us.
			if xff := pr.In.Header.Values("X-Forwarded-For"); len(xff) > 0 {
				pr.Out.Header["X-Forwarded-For"] = xff
			}
			pr.SetXForwarded()
			// TLS ends at the cluster's ingress, which says what the client used.
			if proto := pr.In.Header.Get("X-Forwarded-Proto"); proto == "http" || proto == "https" {
				pr.Out.Header.Set("X-Forwarded-Proto", proto)
			}
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
			m.upstreamErrors.WithLabelValues(group).Inc()
			httpapi.Logger(r.Context()).Error("upstream failed", "group", group, "upstream", target.Host, "error", err.Error())
			httpapi.Fail(w, r, httpapi.Unavailable("the "+group+" service is unavailable, try again shortly"))
		},
	}
}
