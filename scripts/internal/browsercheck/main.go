// Command browsercheck checks the API in a real browser, headless Chromium (Debian's
// package), driven through the DevTools protocol. scripts/browser-check runs it against a
// running scripts/dev:
//
//	browsercheck docs -api http://127.0.0.1:8080
//	    the API reference page (/api/v1/docs) lists every operation of every endpoint
//	    group the served openapi.json documents, loading nothing from another origin,
//	    within its Content-Security-Policy;
//	browsercheck cors -api http://127.0.0.1:8080 -allowed 127.0.0.1:8081 -other 127.0.0.1:8082
//	    a web client served from the allowed origin (in CORS_ALLOWED_ORIGINS and the
//	    bucket's CORS rule) signs up, writes and reads an entry with its ETag and uploads
//	    a media file through its presigned URL; served from the other origin, the browser
//	    refuses its first call.
//
// It exits 1 on a failed check, 2 on bad usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	api := fs.String("api", "", "the API's base URL (scripts/dev's http://127.0.0.1:$PORT)")
	allowed := fs.String("allowed", "", "cors: host:port to serve the page from, an origin CORS_ALLOWED_ORIGINS lists")
	other := fs.String("other", "", "cors: host:port to serve the page from, an origin it does not list")
	_ = fs.Parse(os.Args[2:])
	if *api == "" || (os.Args[1] == "cors" && (*allowed == "" || *other == "")) {
		usage()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	browser, stop, err := newBrowser(ctx)
	if err != nil {
		fail(err)
	}
	defer stop()
	switch os.Args[1] {
	case "docs":
		err = checkDocs(ctx, browser, *api)
	case "cors":
		err = checkWebClient(ctx, browser, *api, *allowed, *other)
	default:
		usage()
	}
	if err != nil {
		stop()
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "browsercheck:", err)
	os.Exit(1)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: browsercheck docs -api URL | browsercheck cors -api URL -allowed HOST:PORT -other HOST:PORT")
	os.Exit(2)
}
