package main

import (
	"os"
	"path/filepath"
	"testing"
)

// testRepo is a scratch git repository.
type testRepo struct {
	t   *testing.T
	dir string
}

func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	r := &testRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

// write creates or replaces files (slash-separated paths) in the work tree.
func (r *testRepo) write(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *testRepo) read(name string) string {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(name)))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(data)
}

// commit commits everything and returns the commit hash.
func (r *testRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	out, err := gitOutput(r.dir, args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// monoFiles is a small copy of this repository's layout: a gateway function at
// the root and a function in functions/hello, both requiring the libraries
// shared and eventing at the placeholder v0.1.0, a migrations module nothing
// requires, and a go.work with versioned replace lines like the real one.
func monoFiles() map[string]string {
	return map[string]string{
		"go.mod": `module github.com/xmojo/diary

go 1.21

require github.com/xmojo/diary/shared v0.1.0
`,
		"func.yaml": "specVersion: 0.36.0\nname: diary\nruntime: go\n",
		"gateway.go": `package diary

import "github.com/xmojo/diary/shared/greet"

// Name is the gateway's greeting.
func Name() string { return greet.Hello() }
`,
		"shared/go.mod":         "module github.com/xmojo/diary/shared\n\ngo 1.21\n",
		"shared/greet/greet.go": "package greet\n\n// Hello greets.\nfunc Hello() string { return \"hello\" }\n",
		"eventing/go.mod":       "module github.com/xmojo/diary/eventing\n\ngo 1.21\n",
		"eventing/event.go":     "package eventing\n\n// Type is an event type.\nconst Type = \"dev.example.hello\"\n",
		"migrations/go.mod":     "module github.com/xmojo/diary/migrations\n\ngo 1.21\n",
		"migrations/m.go":       "package migrations\n",
		"functions/hello/go.mod": `module github.com/xmojo/diary/functions/hello

go 1.21

require (
	github.com/xmojo/diary/eventing v0.1.0
	github.com/xmojo/diary/shared v0.1.0
)
`,
		"functions/hello/func.yaml": "specVersion: 0.36.0\nname: hello\nruntime: go\n",
		"functions/hello/hello.go": `package hello

import (
	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/greet"
)

// Say greets with the event type.
func Say() string { return greet.Hello() + " " + eventing.Type }
`,
		"go.work": `go 1.21

use (
	.
	./eventing
	./functions/hello
	./migrations
	./shared
)

// The workspace's own modules at the versions the go.mod files require.
replace (
	github.com/xmojo/diary v0.1.0 => ./
	github.com/xmojo/diary/eventing v0.1.0 => ./eventing
	github.com/xmojo/diary/migrations v0.1.0 => ./migrations
	github.com/xmojo/diary/shared v0.1.0 => ./shared
)
`,
	}
}
