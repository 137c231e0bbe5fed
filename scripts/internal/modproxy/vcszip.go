package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// archiver reads commits of one git repository and zips a module from a commit
// byte for byte as the go command does when it fetches that module from git
// (cmd/go/internal/modfetch: codehost.gitRepo.ReadZip and codeRepo.Zip):
// `git archive` of the module's subdirectory with export-subst and export-ignore
// disabled, then golang.org/x/mod/zip.Create, which drops nested modules, vendor
// trees and irregular files; the repository root's LICENSE is added when the
// module has none. The attributes are disabled in a scratch git directory that
// borrows the repository's objects, so the repository itself is never written.
type archiver struct {
	repo    string // a directory inside the repository's work tree
	scratch string // the scratch git directory
}

func newArchiver(repo string) (*archiver, error) {
	common, err := gitOutput(repo, "rev-parse", "--git-common-dir")
	if err != nil {
		return nil, fmt.Errorf("%s is not in a git repository: %w", repo, err)
	}
	if !filepath.IsAbs(common) {
		common = filepath.Join(repo, common)
	}
	scratch, err := os.MkdirTemp("", "modproxy-git-*")
	if err != nil {
		return nil, err
	}
	a := &archiver{repo: repo, scratch: scratch}
	if _, err := gitOutput(repo, "init", "-q", "--bare", scratch); err != nil {
		a.close()
		return nil, err
	}
	for name, content := range map[string]string{
		"objects/info/alternates": filepath.Join(common, "objects") + "\n",
		"info/attributes":         "* -export-subst -export-ignore\n",
	} {
		p := filepath.Join(scratch, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			a.close()
			return nil, err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			a.close()
			return nil, err
		}
	}
	return a, nil
}

func (a *archiver) close() { os.RemoveAll(a.scratch) }

// hasCommit reports whether the repository holds commit (a shallow or partial
// clone may not).
func (a *archiver) hasCommit(commit string) bool {
	_, err := gitOutput(a.repo, "cat-file", "-e", commit+"^{commit}")
	return err == nil
}

// readFile returns the content of path (slash-separated, from the root) at commit.
func (a *archiver) readFile(commit, path string) ([]byte, error) {
	cmd := exec.Command("git", "-C", a.repo, "cat-file", "blob", commit+":"+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git cat-file blob %s:%s: %w: %s", shortCommit(commit), path, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// commitTime returns commit's committer time, served as the version's time.
func (a *archiver) commitTime(commit string) (time.Time, error) {
	out, err := gitOutput(a.repo, "show", "-s", "--format=%ct", commit)
	if err != nil {
		return time.Time{}, err
	}
	sec, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("commit time of %s: %w", shortCommit(commit), err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// writeZip writes the module zip of m, whose files are subdir ("" for the
// repository root) at commit, to the file name, and returns its h1: hash.
func (a *archiver) writeZip(name string, m module.Version, commit, subdir string) (string, error) {
	args := []string{"--git-dir=" + a.scratch, "-c", "core.autocrlf=input", "-c", "core.eol=lf",
		"archive", "--format=zip", "--prefix=prefix/", "--end-of-options", commit}
	if subdir != "" {
		args = append(args, subdir)
	}
	cmd := exec.Command("git", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	archive, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git archive %s %s: %w: %s", shortCommit(commit), subdir, err, strings.TrimSpace(stderr.String()))
	}
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		return "", fmt.Errorf("git archive %s %s: %w", shortCommit(commit), subdir, err)
	}
	prefix := "prefix/"
	if subdir != "" {
		prefix += strings.Trim(subdir, "/") + "/"
	}
	var files []modzip.File
	haveLicense := false
	for _, zf := range zr.File {
		name, ok := strings.CutPrefix(zf.Name, prefix)
		if !ok || name == "" || strings.HasSuffix(name, "/") {
			continue
		}
		files = append(files, archivedFile{name: name, f: zf})
		if name == "LICENSE" {
			haveLicense = true
		}
	}
	if !haveLicense && subdir != "" {
		if data, err := a.readFile(commit, "LICENSE"); err == nil {
			files = append(files, dataFile{name: "LICENSE", data: data})
		}
	}

	f, err := os.Create(name)
	if err != nil {
		return "", err
	}
	if err := modzip.Create(f, m, files); err != nil {
		f.Close()
		return "", fmt.Errorf("zip %s from %s: %w", m, shortCommit(commit), err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return dirhash.HashZip(name, dirhash.Hash1)
}

// goModSum returns the go.sum hash of a go.mod file's content.
func goModSum(data []byte) (string, error) {
	return dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

type archivedFile struct {
	name string
	f    *zip.File
}

func (f archivedFile) Path() string                 { return f.name }
func (f archivedFile) Lstat() (os.FileInfo, error)  { return f.f.FileInfo(), nil }
func (f archivedFile) Open() (io.ReadCloser, error) { return f.f.Open() }

type dataFile struct {
	name string
	data []byte
}

func (f dataFile) Path() string                 { return f.name }
func (f dataFile) Lstat() (os.FileInfo, error)  { return dataFileInfo{f}, nil }
func (f dataFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type dataFileInfo struct{ f dataFile }

func (fi dataFileInfo) Name() string       { return filepath.Base(fi.f.name) }
func (fi dataFileInfo) Size() int64        { return int64(len(fi.f.data)) }
func (fi dataFileInfo) Mode() os.FileMode  { return 0o644 }
func (fi dataFileInfo) ModTime() time.Time { return time.Time{} }
func (fi dataFileInfo) IsDir() bool        { return false }
func (fi dataFileInfo) Sys() any           { return nil }
