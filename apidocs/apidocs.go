// Package apidocs serves the interactive API reference at /api/v1/docs: Swagger UI
// (swagger-ui/, a pinned release copied unchanged from its npm package, license kept)
// rendering the gateway's /api/v1/openapi.json. Every file is embedded in the gateway, so
// the page loads nothing from another host, and its Content-Security-Policy allows only
// what it needs: scripts, styles, images and fonts from the API's origin, requests to it.
package apidocs

import (
	"embed"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// BasePath is where the page is served; its assets are below it.
const BasePath = "/api/v1/docs"

//go:embed index.html init.js swagger-ui
var files embed.FS

// assets are the files served below BasePath, by name, with their content types. Only
// these are served: the license files stay in the repository beside the bundle.
var assets = map[string]struct{ file, contentType string }{
	"swagger-ui-bundle.js": {"swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
	"swagger-ui.css":       {"swagger-ui/swagger-ui.css", "text/css; charset=utf-8"},
	"favicon-32x32.png":    {"swagger-ui/favicon-32x32.png", "image/png"},
	"init.js":              {"init.js", "text/javascript; charset=utf-8"},
}

// Handler serves the page at BasePath and its assets below it, to GET and HEAD; other
// paths below BasePath are 404s in the API's error shape (errNotFound writes them).
// publicURL, when set (PUBLIC_URL), is the OpenAPI document's server: "Try it out" sends
// its requests there, so the policy lets the page connect to it as well as to its own
// origin.
func Handler(publicURL string, errNotFound http.Handler) (http.Handler, error) {
	csp, err := contentSecurityPolicy(publicURL)
	if err != nil {
		return nil, err
	}
	index, err := files.ReadFile("index.html")
	if err != nil {
		return nil, fmt.Errorf("apidocs: %w", err)
	}
	bodies := map[string][]byte{}
	for name, a := range assets {
		b, err := files.ReadFile(a.file)
		if err != nil {
			return nil, fmt.Errorf("apidocs: %w", err)
		}
		bodies[name] = b
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.URL.Path == BasePath {
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(index)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, BasePath+"/")
		a, known := assets[name]
		if !ok || !known || path.Base(name) != name {
			errNotFound.ServeHTTP(w, r)
			return
		}
		h.Set("Content-Type", a.contentType)
		_, _ = w.Write(bodies[name])
	}), nil
}

// contentSecurityPolicy is the page's policy: nothing by default; scripts, styles, fonts
// and images (Swagger UI's icons are data: URIs in its stylesheet) from the page's own
// origin; requests to it and to the public URL; no frames, plugins, forms elsewhere or
// framing of the page.
func contentSecurityPolicy(publicURL string) (string, error) {
	connect := "'self'"
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("apidocs: PUBLIC_URL must be an absolute http:// or https:// URL")
		}
		connect += " " + u.Scheme + "://" + u.Host
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"font-src 'self'",
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; "), nil
}
