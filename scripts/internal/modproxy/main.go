// Command modproxy stands in for the module proxy that will one day serve the
// workspace's own modules (github.com/xmojo/diary/shared, .../eventing, ...).
//
// A function's go.mod requires those modules by version, and `func build`
// copies only the function's directory, ignoring go.work and replace lines.
// To prove a function builds that way before anything is published, modproxy
// writes a file-based GOPROXY holding each workspace module, with the content
// of its working tree, at every version some workspace go.mod requires.
//
//	modproxy list  GO.WORK             print "dir<TAB>module path" per `use` entry
//	modproxy build GO.WORK PROXYDIR    write the proxy and PROXYDIR/workspace.sum
//	modproxy copy  MODDIR DESTDIR      copy a module's files as its zip would hold them
//
// The files of a module are the ones git would commit (tracked plus untracked
// but not ignored, so .dev/, .test/ and build output stay out), minus nested
// modules and whatever else a module zip may not hold. Outside a git work
// tree every file is taken except dot-directories.
//
// workspace.sum holds the go.sum lines (h1 hashes of each zip and go.mod) for
// the proxy's modules, so a standalone build can run with -mod=readonly.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/zip"
)

// defaultVersion is served for a workspace module that no go.mod requires yet,
// so `go mod tidy` in a function that starts importing it finds a version.
const defaultVersion = "v0.1.0"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "modproxy: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	usage := errors.New("usage: modproxy list GO.WORK | build GO.WORK PROXYDIR | copy MODDIR DESTDIR")
	if len(args) == 0 {
		return usage
	}
	switch {
	case args[0] == "list" && len(args) == 2:
		mods, err := workspaceModules(args[1])
		if err != nil {
			return err
		}
		for _, m := range mods {
			fmt.Printf("%s\t%s\n", m.dir, m.path)
		}
		return nil
	case args[0] == "build" && len(args) == 3:
		return build(args[1], args[2])
	case args[0] == "copy" && len(args) == 3:
		return copyModule(args[1], args[2])
	default:
		return usage
	}
}

// workspaceModule is one `use` entry of go.work.
type workspaceModule struct {
	dir  string // absolute
	path string // module path from its go.mod
	mod  *modfile.File
	raw  []byte // go.mod as written
}

func workspaceModules(goWork string) ([]workspaceModule, error) {
	goWork, err := filepath.Abs(goWork)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(goWork)
	if err != nil {
		return nil, err
	}
	wf, err := modfile.ParseWork(goWork, data, nil)
	if err != nil {
		return nil, err
	}
	var mods []workspaceModule
	for _, u := range wf.Use {
		dir := u.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(goWork), dir)
		}
		dir = filepath.Clean(dir)
		gomod := filepath.Join(dir, "go.mod")
		raw, err := os.ReadFile(gomod)
		if err != nil {
			return nil, fmt.Errorf("go.work uses %s: %w", u.Path, err)
		}
		mf, err := modfile.ParseLax(gomod, raw, nil)
		if err != nil {
			return nil, err
		}
		if mf.Module == nil {
			return nil, fmt.Errorf("%s: no module line", gomod)
		}
		mods = append(mods, workspaceModule{dir: dir, path: mf.Module.Mod.Path, mod: mf, raw: raw})
	}
	return mods, nil
}

func build(goWork, proxyDir string) error {
	mods, err := workspaceModules(goWork)
	if err != nil {
		return err
	}
	byPath := map[string]workspaceModule{}
	for _, m := range mods {
		byPath[m.path] = m
	}

	// Every version of a workspace module that some workspace go.mod requires.
	versions := map[string]map[string]bool{}
	for _, m := range mods {
		for _, r := range m.mod.Require {
			if _, ok := byPath[r.Mod.Path]; !ok {
				continue
			}
			if !semver.IsValid(r.Mod.Version) {
				return fmt.Errorf("%s/go.mod requires %s at invalid version %q", m.dir, r.Mod.Path, r.Mod.Version)
			}
			if versions[r.Mod.Path] == nil {
				versions[r.Mod.Path] = map[string]bool{}
			}
			versions[r.Mod.Path][r.Mod.Version] = true
		}
	}

	var sums []string
	for _, m := range mods {
		vs := versions[m.path]
		if len(vs) == 0 {
			vs = map[string]bool{defaultVersion: true}
		}
		var list []string
		for v := range vs {
			list = append(list, v)
		}
		semver.Sort(list)

		escPath, err := module.EscapePath(m.path)
		if err != nil {
			return err
		}
		vdir := filepath.Join(proxyDir, filepath.FromSlash(escPath), "@v")
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(vdir, "list"), []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
			return err
		}
		files, err := moduleFiles(m.dir)
		if err != nil {
			return fmt.Errorf("%s: %w", m.dir, err)
		}
		for _, v := range list {
			escVer, err := module.EscapeVersion(v)
			if err != nil {
				return err
			}
			base := filepath.Join(vdir, escVer)
			info, _ := json.Marshal(struct {
				Version string
				Time    time.Time
			}{v, time.Now().UTC().Truncate(time.Second)})
			if err := os.WriteFile(base+".info", info, 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(base+".mod", m.raw, 0o644); err != nil {
				return err
			}
			if err := writeZip(base+".zip", module.Version{Path: m.path, Version: v}, files); err != nil {
				return fmt.Errorf("%s@%s: %w", m.path, v, err)
			}
			zipHash, err := dirhash.HashZip(base+".zip", dirhash.Hash1)
			if err != nil {
				return err
			}
			modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(m.raw)), nil
			})
			if err != nil {
				return err
			}
			sums = append(sums,
				fmt.Sprintf("%s %s %s", m.path, v, zipHash),
				fmt.Sprintf("%s %s/go.mod %s", m.path, v, modHash))
			fmt.Fprintf(os.Stderr, "modproxy: %s@%s (%s)\n", m.path, v, m.dir)
		}
	}
	return os.WriteFile(filepath.Join(proxyDir, "workspace.sum"), []byte(strings.Join(sums, "\n")+"\n"), 0o644)
}

func writeZip(name string, m module.Version, files []zip.File) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := zip.Create(f, m, files); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// copyModule reproduces what building from the published module would see:
// it zips the module's files and unzips them into dest.
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
	tmp.Close()
	defer os.Remove(tmp.Name())
	// The version only names the zip's top directory; Unzip strips it.
	m := module.Version{Path: path, Version: "v0.0.0"}
	if err := writeZip(tmp.Name(), m, files); err != nil {
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
