package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// notTheAPI holds the names of the tests NotTheAPI marked.
var notTheAPI sync.Map

// NotTheAPI marks a test whose handler answers for stubs, not the API (the gateway's tests
// of its proxying, against upstreams that answer whatever the test needs): Do does not
// check its exchanges, nor those of its subtests, against the API document. Every other
// test's Do is checked; a test marks itself, so the rest of its package stays checked.
func NotTheAPI(t testing.TB) {
	t.Helper()
	name := t.Name()
	notTheAPI.Store(name, true)
	t.Cleanup(func() { notTheAPI.Delete(name) })
}

// checksAPI reports whether t's exchanges are checked: neither t nor a test it runs
// under is marked NotTheAPI.
func checksAPI(t testing.TB) bool {
	for name := t.Name(); ; {
		if _, marked := notTheAPI.Load(name); marked {
			return false
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return true
		}
		name = name[:i]
	}
}

// The API document every Do is checked against: the gateway's merged openapi.json at the
// root of the repository (the document clients are given, `go generate .` at the root
// makes it from each function's fragment). Loaded once per test binary.
var apiDoc struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// findRepoFile walks up from the working directory (a package's directory under go test)
// to the directory holding go.work and returns name there.
func findRepoFile(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, name), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.work above the working directory")
		}
		dir = parent
	}
}

// loadAPIDocument loads and validates the API document once.
func loadAPIDocument() {
	apiDoc.once.Do(func() {
		path, err := findRepoFile("openapi.json")
		if err != nil {
			apiDoc.err = err
			return
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(path)
		if err != nil {
			apiDoc.err = fmt.Errorf("testenv: load %s: %w", path, err)
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			apiDoc.err = fmt.Errorf("testenv: %s is not a valid OpenAPI document: %w", path, err)
			return
		}
		// The reference page (GET /api/v1/docs) is text/html, for which kin-openapi has no
		// decoder of its own: its schema is a string, as for text/plain.
		openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
		apiDoc.doc = doc
		apiDoc.router, apiDoc.err = gorillamux.NewRouter(doc)
	})
}

func apiRouter() (routers.Router, error) {
	loadAPIDocument()
	return apiDoc.router, apiDoc.err
}

// APIDocument is the API document every Do is checked against, loaded with kin-openapi and
// validated, for tests generated from it (one operation's matrix row each). Callers must
// not change it: it is shared by every test of the binary.
func APIDocument(t testing.TB) *openapi3.T {
	t.Helper()
	loadAPIDocument()
	if apiDoc.err != nil {
		t.Fatalf("the API document cannot be used: %v", apiDoc.err)
	}
	return apiDoc.doc
}

// checkAgainstAPI checks one exchange of Do against the API document, so every API test
// also tests the document clients are given: a request the document allows must get an
// answer the document describes (status, headers, body schema); a request it refuses
// (a test sending bad input on purpose) must get a 4xx (or the 503 of a function not
// ready) that the document describes too.
// Paths the document does not have (a test of the 404 for an unknown path, /health) are
// not checked. A mismatch fails the test with what differs.
func checkAgainstAPI(t testing.TB, req *http.Request, reqBody []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") || !checksAPI(t) {
		return
	}
	router, err := apiRouter()
	if err != nil {
		t.Fatalf("the API document cannot be used: %v", err)
	}
	check := req.Clone(context.Background())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := router.FindRoute(check)
	if err != nil {
		// Not a path and method the document has: the handler's 404 or 405 is its own
		// test's business.
		return
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	status := rec.Code
	// A valid request can still be refused (401, 403, 409, 412, 422 ...): the answer's
	// shape is checked below either way.
	// A function that is not ready answers 503 before it reads the request.
	if reqErr != nil && (status < 400 || status > 499) && status != http.StatusServiceUnavailable {
		t.Errorf("%s %s: the API document refuses the request (%v), but it was answered %d", req.Method, req.URL.Path, reqErr, status)
		return
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 rec.Header(),
		Options:                opts,
	}
	out.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: the %d answer does not match the API document: %v\nbody: %.500s", req.Method, req.URL.Path, status, err, rec.Body.String())
	}
}
