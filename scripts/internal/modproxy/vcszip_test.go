package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

// TestWriteZipMatchesGoCommand fetches a module from a git repository with the
// go command itself (GOPROXY=direct, the way the public proxy fetches a tag) and
// checks that writeZip, given the same commit, makes a zip with the same hash.
// The module has what trips a naive copy: a nested module, export-ignore and
// export-subst attributes (the go command disables both), a symlink (omitted),
// CRLF line ends (kept) and no LICENSE of its own (the root's is added).
func TestWriteZipMatchesGoCommand(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	r := newTestRepo(t)
	r.write(map[string]string{
		"go.mod":                "module example.com/mono.git\n\ngo 1.21\n",
		"LICENSE":               "the root licence\n",
		"README":                "not in the module\n",
		"shared/go.mod":         "module example.com/mono.git/shared\n\ngo 1.21\n",
		"shared/a.go":           "package shared\n",
		"shared/sub/b.go":       "package sub\n",
		"shared/crlf.txt":       "one\r\ntwo\r\n",
		"shared/.gitattributes": "ignored.txt export-ignore\nsubst.txt export-subst\n",
		"shared/ignored.txt":    "kept: the go command disables export-ignore\n",
		"shared/subst.txt":      "$Format:%H$\n",
		"shared/nested/go.mod":  "module example.com/mono.git/shared/nested\n\ngo 1.21\n",
		"shared/nested/n.go":    "package nested\n",
	})
	if err := os.Symlink("a.go", filepath.Join(r.dir, "shared", "link.go")); err != nil {
		t.Fatal(err)
	}
	commit := r.commit("one")
	r.git("tag", "shared/v0.1.0")

	// The go command resolves example.com/mono.git by `git ls-remote
	// https://example.com/mono`; git's insteadOf sends that to the scratch repo.
	cmd := exec.Command("go", "mod", "download", "-json", "example.com/mono.git/shared@v0.1.0")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"GOWORK=off", "GOFLAGS=-modcacherw", "GOTOOLCHAIN=local",
		"GOMODCACHE="+t.TempDir(), "GOPROXY=direct", "GOPRIVATE=example.com",
		"GIT_CONFIG_COUNT=2",
		"GIT_CONFIG_KEY_0=url.file://"+r.dir+".insteadOf", "GIT_CONFIG_VALUE_0=https://example.com/mono",
		"GIT_CONFIG_KEY_1=protocol.file.allow", "GIT_CONFIG_VALUE_1=always",
	)
	out, err := cmd.Output()
	var got struct{ Sum, GoModSum, Error string }
	if jerr := json.Unmarshal(out, &got); jerr != nil || err != nil || got.Error != "" {
		t.Fatalf("go mod download: %v %v %s %s", err, jerr, got.Error, out)
	}

	a, err := newArchiver(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	m := module.Version{Path: "example.com/mono.git/shared", Version: "v0.1.0"}
	sum, err := a.writeZip(filepath.Join(t.TempDir(), "m.zip"), m, commit, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if sum != got.Sum {
		t.Errorf("writeZip(%s) = %s, the go command computes %s", m, sum, got.Sum)
	}
	gomod, err := a.readFile(commit, "shared/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if modSum, err := goModSum(gomod); err != nil || modSum != got.GoModSum {
		t.Errorf("goModSum = %s, %v, the go command computes %s", modSum, err, got.GoModSum)
	}
}

// TestWriteZipLeavesRepositoryAlone checks that the scratch git directory, not
// the repository, carries the attributes override.
func TestWriteZipLeavesRepositoryAlone(t *testing.T) {
	r := newTestRepo(t)
	r.write(map[string]string{"go.mod": "module example.com/m\n\ngo 1.21\n", "m.go": "package m\n"})
	commit := r.commit("one")
	a, err := newArchiver(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.writeZip(filepath.Join(t.TempDir(), "m.zip"), module.Version{Path: "example.com/m", Version: "v1.0.0"}, commit, ""); err != nil {
		t.Fatal(err)
	}
	a.close()
	if _, err := os.Stat(filepath.Join(r.dir, ".git", "info", "attributes")); err == nil {
		t.Errorf("writeZip wrote .git/info/attributes in the repository")
	}
	if st := r.git("status", "--porcelain"); st != "" {
		t.Errorf("git status after writeZip = %q, want clean", st)
	}
	if _, err := os.Stat(a.scratch); !os.IsNotExist(err) {
		t.Errorf("close left the scratch git directory %s", a.scratch)
	}
	if !strings.HasPrefix(commit, r.git("rev-parse", "--short", "HEAD")) {
		t.Errorf("HEAD moved")
	}
}
