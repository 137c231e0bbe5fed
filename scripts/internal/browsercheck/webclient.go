package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// webClientPage is a web client's session in one page (webclient.html): sign up, create
// an entry, read it back with its ETag, update it, upload a media file through the
// presigned URL and download it. It writes its result into #result.
//
//go:embed webclient.html
var webClientPage []byte

// stepResult is one step the page reports.
type stepResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

// pageResult is what the page writes into #result.
type pageResult struct {
	Passed bool         `json:"passed"`
	Steps  []stepResult `json:"steps"`
}

// webClientSteps are the steps the page must report, in order, for a pass.
var webClientSteps = []string{
	"sign up", "read an error (401)", "create an entry", "read it back with its ETag",
	"read it conditionally (If-None-Match)", "update it (PUT, If-Match)", "declare a media upload",
	"PUT the bytes to the presigned URL", "complete the upload", "download it through the presigned URL",
}

// checkWebClient serves the page from the allowed origin and from another one, both on
// loopback, and fails unless the whole session succeeds in Chromium from the allowed
// origin and the browser refuses the very first call, for CORS, from the other.
func checkWebClient(ctx context.Context, browser context.Context, api, allowedAddr, otherAddr string) error {
	allowed, err := servePage(allowedAddr)
	if err != nil {
		return err
	}
	defer allowed.Close()
	other, err := servePage(otherAddr)
	if err != nil {
		return err
	}
	defer other.Close()

	res, t, err := runPage(browser, "http://"+allowedAddr, api)
	if err != nil {
		return err
	}
	defer t.close()
	var problems []string
	for i, name := range webClientSteps {
		if i >= len(res.Steps) || res.Steps[i].Name != name || !res.Steps[i].OK {
			problems = append(problems, fmt.Sprintf("step %q did not succeed (page reported %+v)", name, res.Steps))
			break
		}
	}
	if !res.Passed || len(res.Steps) != len(webClientSteps) {
		problems = append(problems, fmt.Sprintf("the page did not pass: %+v", res))
	}
	_, failed, exceptions := t.recorded()
	// The page's steps say whether each call worked; a CORS refusal is named here too. (A
	// 304 answer to a fetch with nothing cached shows as an aborted load: not a failure.)
	for _, f := range failed {
		if f.cors != "" {
			problems = append(problems, fmt.Sprintf("refused for CORS (%s): %s", f.cors, f.url))
		}
	}
	for _, e := range exceptions {
		problems = append(problems, "exception: "+e)
	}
	if len(problems) > 0 {
		return fmt.Errorf("the web client on the allowed origin http://%s:\n  %s", allowedAddr, strings.Join(problems, "\n  "))
	}
	fmt.Printf("cors: ok from http://%s: %s\n", allowedAddr, strings.Join(webClientSteps, ", "))

	res, t2, err := runPage(browser, "http://"+otherAddr, api)
	if err != nil {
		return err
	}
	defer t2.close()
	_, failed, _ = t2.recorded()
	signup := strings.TrimRight(api, "/") + "/api/v1/auth/signup"
	var corsRefused bool
	for _, f := range failed {
		if f.url == signup && f.cors != "" {
			corsRefused = true
		}
	}
	switch {
	case res.Passed || len(res.Steps) != 1 || res.Steps[0].Name != "sign up" || res.Steps[0].OK:
		return fmt.Errorf("the web client on the origin not allowed, http://%s: want it stopped at its first call, got %+v", otherAddr, res)
	case !corsRefused:
		return fmt.Errorf("the web client on the origin not allowed, http://%s: its sign-up failed (%s), but not for CORS (failed requests: %+v)", otherAddr, res.Steps[0].Error, failed)
	}
	fmt.Printf("cors: ok, refused from http://%s: %s\n", otherAddr, res.Steps[0].Error)
	return nil
}

// runPage opens the page of origin, pointed at api, and waits, with a bound, for its
// result.
func runPage(browser context.Context, origin, api string) (pageResult, *tab, error) {
	t, err := openTab(browser)
	if err != nil {
		return pageResult{}, nil, err
	}
	u := origin + "/?api=" + url.QueryEscape(strings.TrimRight(api, "/"))
	// Sign-up and the uce key derivation take a second or two; the bound is for a busy
	// machine, and only a page that never finishes meets it.
	if err := t.load(u, `document.getElementById("result").dataset.state !== "running"`, 2*time.Minute); err != nil {
		t.close()
		return pageResult{}, nil, err
	}
	raw, err := evaluate[string](t, `document.getElementById("result").textContent`)
	if err != nil {
		t.close()
		return pageResult{}, nil, err
	}
	var res pageResult
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.close()
		return pageResult{}, nil, fmt.Errorf("%s: result %q: %w", u, raw, err)
	}
	return res, t, nil
}

// servePage serves the page at / on addr (a loopback host:port) until Close.
func servePage(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve the web client page: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(webClientPage)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("web client page server:", err)
		}
	}()
	return srv, nil
}
