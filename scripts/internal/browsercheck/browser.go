package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The one way both checks drive Chromium: Debian's package (scripts/lib/browser.sh
// installs it), headless, through the DevTools protocol. A check opens a tab, which
// records what a page must not do (violate its Content-Security-Policy, throw, fail a
// request) while it waits, with a bound, for the page to reach a state.

// chromiumPath is the browser to run: $CHROMIUM, else chromium on PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		return "", errors.New("chromium is not on PATH (scripts/browser-check installs Debian's package; or set CHROMIUM)")
	}
	return p, nil
}

// newBrowser starts a headless Chromium; cancel stops it and removes its profile.
func newBrowser(ctx context.Context) (context.Context, context.CancelFunc, error) {
	path, err := chromiumPath()
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// The checks run as root in CI, where Chromium's sandbox cannot start.
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-gpu", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	// Start the browser now, so a Chromium that cannot start fails here, by name.
	if err := chromedp.Do(browserCtx); err != nil {
		cancelBrowser()
		cancelAlloc()
		return nil, nil, fmt.Errorf("start %s: %w", path, err)
	}
	return browserCtx, func() { cancelBrowser(); cancelAlloc() }, nil
}

// tab is one page in the browser, with what it has recorded.
type tab struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	requests   []string // every URL the page asked for
	failed     []failedRequest
	exceptions []string
}

// failedRequest is a request that did not complete, with the reason the browser gave.
type failedRequest struct {
	url       string
	errorText string
	// cors is the CORS error when the browser refused the answer for CORS, else "".
	cors string
}

// cspRecorder records the page's Content-Security-Policy violations where the checks can
// read them: added before any script of the page runs.
const cspRecorder = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + (e.sourceFile ? " in " + e.sourceFile + ":" + e.lineNumber : ""));
});`

// openTab opens a new tab in the browser and starts recording.
func openTab(browser context.Context) (*tab, error) {
	ctx, cancel := chromedp.NewContext(browser)
	t := &tab{ctx: ctx, cancel: cancel}
	urls := map[network.RequestID]string{}
	err := chromedp.Listen(ctx, func(ev any) {
		t.mu.Lock()
		defer t.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			urls[ev.RequestID] = ev.Request.URL
			t.requests = append(t.requests, ev.Request.URL)
		case *network.EventLoadingFailed:
			f := failedRequest{url: urls[ev.RequestID], errorText: ev.ErrorText}
			if ev.CorsErrorStatus != nil {
				f.cors = ev.CorsErrorStatus.CorsError.String()
			}
			t.failed = append(t.failed, f)
		case *runtime.EventExceptionThrown:
			text := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil && ev.ExceptionDetails.Exception.Description != "" {
				text = ev.ExceptionDetails.Exception.Description
			}
			t.exceptions = append(t.exceptions, text)
		}
	})
	if err == nil {
		_, err = chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder})
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open a tab: %w", err)
	}
	return t, nil
}

// close closes the tab.
func (t *tab) close() { t.cancel() }

// load navigates to url and waits, at most bound, until the JavaScript expression until
// is true, polling it; it fails, with what the page last said, when the bound passes.
func (t *tab) load(url, until string, bound time.Duration) error {
	if err := chromedp.Do(t.ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("open %s: %w", url, err)
	}
	_, err := chromedp.Run(t.ctx, chromedp.Poll[bool](until, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(bound)))
	if err != nil {
		return fmt.Errorf("%s: %s did not hold within %s: %w", url, until, bound, err)
	}
	return nil
}

// evaluate evaluates a JavaScript expression in the tab's page.
func evaluate[T any](t *tab, expr string) (T, error) {
	v, err := chromedp.Run(t.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		return v, fmt.Errorf("evaluate %s: %w", expr, err)
	}
	return v, nil
}

// cspViolations returns the violations the page reported.
func (t *tab) cspViolations() ([]string, error) {
	return evaluate[[]string](t, `window.__cspViolations || []`)
}

// recorded returns copies of what the tab recorded.
func (t *tab) recorded() (requests []string, failed []failedRequest, exceptions []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.requests...), append([]failedRequest(nil), t.failed...), append([]string(nil), t.exceptions...)
}
