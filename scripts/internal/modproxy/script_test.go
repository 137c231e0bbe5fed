package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scriptFiles are the repository files the release and the check consist of,
// copied into the scratch repositories of TestReleaseThenCheck.
var scriptFiles = []string{
	"scripts/release",
	"scripts/check-modules",
	"scripts/tidy",
	"scripts/lib/modproxy.sh",
	"scripts/internal/modproxy/go.mod",
	"scripts/internal/modproxy/go.sum",
}

// copyScripts copies the scripts and the helper's non-test sources from this
// repository into the scratch repository r.
func copyScripts(t *testing.T, r *testRepo) {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	names := append([]string(nil), scriptFiles...)
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sources {
		if !strings.HasSuffix(s, "_test.go") {
			names = append(names, "scripts/internal/modproxy/"+s)
		}
	}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(r.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// script runs a script of r and returns its combined output and whether it
// exited 0.
func script(t *testing.T, dir, cache string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, args[0]), args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DIARY_MODPROXY_CACHE="+cache, "GOTOOLCHAIN=local", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	t.Logf("%s (exit %v):\n%s", strings.Join(args, " "), err, out)
	return string(out), err == nil
}

// TestReleaseThenCheck is the scenario, run through the real scripts in
// a scratch copy of the layout: a function that starts using a shared function
// the required release lacks fails scripts/check-modules, even though the
// workspace builds; after scripts/release it passes, also in a clone without
// tags. And the release refuses what it must refuse.
func TestReleaseThenCheck(t *testing.T) {
	for _, tool := range []string{"go", "git", "flock", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	if testing.Short() {
		t.Skip("runs the scripts (several go builds)")
	}
	cache := t.TempDir()
	r := newTestRepo(t)
	r.write(monoFiles())
	copyScripts(t, r)
	r.commit("libraries and scripts")

	// Nothing is released yet: the placeholder v0.1.0 cannot be resolved.
	out, ok := script(t, r.dir, cache, "scripts/check-modules")
	if ok || !strings.Contains(out, "requires github.com/xmojo/diary/shared@v0.1.0, which releases.txt does not record") {
		t.Fatalf("check-modules before any release: ok=%v, want a failure naming the unreleased shared@v0.1.0:\n%s", ok, out)
	}

	// The first release makes the placeholder real.
	out, ok = script(t, r.dir, cache, "scripts/release", "v0.1.0")
	if !ok {
		t.Fatalf("release v0.1.0 failed:\n%s", out)
	}
	v1 := r.git("rev-parse", "HEAD")
	if !strings.Contains(out, "git add --") || !strings.Contains(out, "releases.txt") {
		t.Errorf("release v0.1.0 does not say what to commit:\n%s", out)
	}
	if got := r.git("tag", "--list"); got != "eventing/v0.1.0\nshared/v0.1.0" {
		t.Errorf("tags after release v0.1.0 = %q", got)
	}
	sum := r.read("functions/hello/go.sum")
	if !strings.Contains(sum, "github.com/xmojo/diary/shared v0.1.0 h1:") || !strings.Contains(sum, "github.com/xmojo/diary/eventing v0.1.0 h1:") {
		t.Errorf("functions/hello/go.sum after release v0.1.0:\n%s", sum)
	}
	r.commit("release v0.1.0")
	if out, ok := script(t, r.dir, cache, "scripts/check-modules"); !ok {
		t.Fatalf("check-modules after release v0.1.0 failed:\n%s", out)
	}

	// A function uses a shared API newer than its required release: the
	// workspace builds, the standalone check must not.
	r.write(map[string]string{
		"shared/greet/bye.go": "package greet\n\n// Bye takes leave.\nfunc Bye() string { return \"bye\" }\n",
		"functions/hello/hello.go": `package hello

import "github.com/xmojo/diary/shared/greet"

// Say takes leave.
func Say() string { return greet.Bye() }
`,
	})
	r.commit("greet.Bye")
	out, ok = script(t, r.dir, cache, "scripts/check-modules")
	if ok || !strings.Contains(out, "FAIL  ./functions/hello") || !strings.Contains(out, "Bye") {
		t.Fatalf("check-modules with greet.Bye unreleased: ok=%v, want functions/hello to fail on Bye:\n%s", ok, out)
	}
	if strings.Contains(out, "FAIL  .\n") {
		t.Errorf("the gateway, which uses only released API, failed too:\n%s", out)
	}

	// The release refuses a dirty tree and an existing version, and changes nothing.
	r.write(map[string]string{"notes.txt": "draft\n"})
	if out, ok := script(t, r.dir, cache, "scripts/release", "v0.2.0"); ok || !strings.Contains(out, "not clean") {
		t.Errorf("release from a dirty tree: ok=%v:\n%s", ok, out)
	}
	if err := os.Remove(filepath.Join(r.dir, "notes.txt")); err != nil {
		t.Fatal(err)
	}
	if out, ok := script(t, r.dir, cache, "scripts/release", "v0.1.0"); ok || !strings.Contains(out, "already released") {
		t.Errorf("release of v0.1.0 again: ok=%v:\n%s", ok, out)
	}
	if st := r.git("status", "--porcelain"); st != "" {
		t.Fatalf("refused releases changed the tree: %q", st)
	}

	out, ok = script(t, r.dir, cache, "scripts/release", "v0.2.0")
	if !ok {
		t.Fatalf("release v0.2.0 failed:\n%s", out)
	}
	if got := r.read("functions/hello/go.mod"); !strings.Contains(got, "github.com/xmojo/diary/shared v0.2.0") {
		t.Errorf("functions/hello/go.mod after release v0.2.0:\n%s", got)
	}
	if got := r.read("go.work"); !strings.Contains(got, "github.com/xmojo/diary/shared v0.2.0 => ./shared") || strings.Contains(got, "v0.1.0") {
		t.Errorf("go.work after release v0.2.0:\n%s", got)
	}
	r.commit("release v0.2.0")
	if out, ok := script(t, r.dir, cache, "scripts/check-modules"); !ok {
		t.Fatalf("check-modules after release v0.2.0 failed:\n%s", out)
	}
	man := r.read(manifestName)
	if !strings.Contains(man, "github.com/xmojo/diary/shared v0.1.0 "+v1) || !strings.Contains(man, "github.com/xmojo/diary/shared v0.2.0 ") {
		t.Errorf("%s after two releases:\n%s", manifestName, man)
	}

	// A clone with the history but no tags checks the same way.
	clone := filepath.Join(t.TempDir(), "clone")
	if _, err := gitOutput(r.dir, "clone", "-q", "--no-tags", r.dir, clone); err != nil {
		t.Fatal(err)
	}
	if tags, _ := gitOutput(clone, "tag", "--list"); tags != "" {
		t.Fatalf("the clone has tags %q", tags)
	}
	if out, ok := script(t, clone, cache, "scripts/check-modules"); !ok {
		t.Fatalf("check-modules in a clone without tags failed:\n%s", out)
	}
	out, ok = script(t, clone, cache, "scripts/release", "--tags")
	if tags, _ := gitOutput(clone, "tag", "--list"); !ok || tags != "eventing/v0.1.0\neventing/v0.2.0\nshared/v0.1.0\nshared/v0.2.0" {
		t.Errorf("release --tags in the clone: ok=%v, tags %q:\n%s", ok, tags, out)
	}

	// A manifest whose hash does not match its commit fails the check.
	tampered := strings.Replace(r.read(manifestName), "shared v0.2.0 "+r.git("rev-parse", "HEAD~1")+" h1:", "shared v0.2.0 "+r.git("rev-parse", "HEAD~1")+" h1:x", 1)
	r.write(map[string]string{manifestName: tampered})
	if out, ok := script(t, r.dir, cache, "scripts/check-modules"); ok || !strings.Contains(out, "hashes to") {
		t.Errorf("check-modules with a tampered hash: ok=%v:\n%s", ok, out)
	}
}
