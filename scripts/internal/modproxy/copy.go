package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// copyModule reproduces what `func build` sees of a module's work tree: it zips
// the module's files as a module zip would hold them and unzips them into dest.
// The files are the ones git would commit (tracked plus untracked but not
// ignored, so .dev/, .test/ and build output stay out), minus nested modules and
// whatever else a module zip may not hold. Outside a git work tree every file is
// taken except dot-directories.
func copyModule(dir, dest string) error {
	gomod := filepath.Join(dir, "go.mod")
	raw, err := os.ReadFile(gomod)
	if err != nil {
		return err
	}
	path := modfile.ModulePath(raw)
	if path == "" {
		return fmt.Errorf("%s: no module line", gomod)
	}
	files, err := moduleFiles(dir)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp("", "modproxy-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// The version only names the zip's top directory; Unzip strips it.
	m := module.Version{Path: path, Version: "v0.0.0"}
	if err := zip.Create(tmp, m, files); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return zip.Unzip(dest, m, tmp.Name())
}

// moduleFiles lists the files under dir that belong in the module's zip
// (zip.Create drops nested modules, vendor trees and irregular files).
func moduleFiles(dir string) ([]zip.File, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	rels, err := gitFiles(dir)
	if err != nil {
		rels, err = walkFiles(dir)
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(rels)
	var files []zip.File
	for _, rel := range rels {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		info, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree, still in the index
		}
		if err != nil {
			return nil, err
		}
		if info.IsDir() {
			continue // e.g. a git submodule
		}
		files = append(files, dirFile{path: p, rel: rel, info: info})
	}
	return files, nil
}

// gitFiles lists tracked and untracked-but-not-ignored files under dir,
// relative to dir, or fails when dir is not in a git work tree.
func gitFiles(dir string) ([]string, error) {
	cmd := exec.Command("git", "-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".")
	cmd.Stderr = io.Discard
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var rels []string
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel != "" && !seen[rel] {
			seen[rel] = true
			rels = append(rels, rel)
		}
	}
	return rels, nil
}

func walkFiles(dir string) ([]string, error) {
	var rels []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rels = append(rels, filepath.ToSlash(rel))
		return nil
	})
	return rels, err
}

type dirFile struct {
	path, rel string
	info      fs.FileInfo
}

func (f dirFile) Path() string                 { return f.rel }
func (f dirFile) Lstat() (fs.FileInfo, error)  { return f.info, nil }
func (f dirFile) Open() (io.ReadCloser, error) { return os.Open(f.path) }
