package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
)

// repoModule is one Go module of the repository.
type repoModule struct {
	dir  string // absolute
	rel  string // relative to the repository root, slash-separated; "" for the root
	path string // module path from its go.mod
	mod  *modfile.File
}

// workspaceModules returns the modules of go.work's `use` entries.
func workspaceModules(goWork string) ([]repoModule, error) {
	goWork, err := filepath.Abs(goWork)
	if err != nil {
		return nil, err
	}
	wf, err := readWorkFile(goWork)
	if err != nil {
		return nil, err
	}
	var mods []repoModule
	for _, u := range wf.Use {
		dir := u.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(goWork), dir)
		}
		m, err := loadModule(filepath.Dir(goWork), filepath.Clean(dir))
		if err != nil {
			return nil, fmt.Errorf("go.work uses %s: %w", u.Path, err)
		}
		mods = append(mods, m)
	}
	return mods, nil
}

// repoModules returns every module of the repository at root: each go.mod that
// git tracks or would track (so build output and .dev/ stay out) outside
// directories the go command ignores (testdata, vendor, _x, .x), and every
// module go.work uses.
func repoModules(root string) ([]repoModule, error) {
	out, err := gitOutput(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "go.mod", "*/go.mod")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var mods []repoModule
	add := func(dir string) error {
		if seen[dir] {
			return nil
		}
		seen[dir] = true
		m, err := loadModule(root, dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted in the work tree
		}
		if err != nil {
			return err
		}
		mods = append(mods, m)
		return nil
	}
	for _, rel := range strings.Split(out, "\x00") {
		if rel == "" || ignoredModuleDir(rel) {
			continue
		}
		if err := add(filepath.Join(root, filepath.FromSlash(path.Dir(rel)))); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err == nil {
		ws, err := workspaceModules(filepath.Join(root, "go.work"))
		if err != nil {
			return nil, err
		}
		for _, m := range ws {
			if err := add(m.dir); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].rel < mods[j].rel })
	return mods, nil
}

func ignoredModuleDir(goModPath string) bool {
	parts := strings.Split(goModPath, "/")
	for _, p := range parts[:len(parts)-1] {
		if p == "testdata" || p == "vendor" || strings.HasPrefix(p, ".") || strings.HasPrefix(p, "_") {
			return true
		}
	}
	return false
}

func loadModule(root, dir string) (repoModule, error) {
	mf, err := readModFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return repoModule{}, err
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return repoModule{}, err
	}
	rel = filepath.ToSlash(rel)
	if rel == "." {
		rel = ""
	}
	return repoModule{dir: dir, rel: rel, path: mf.Module.Mod.Path, mod: mf}, nil
}

func readModFile(name string) (*modfile.File, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	mf, err := modfile.Parse(name, data, nil)
	if err != nil {
		return nil, err
	}
	if mf.Module == nil {
		return nil, fmt.Errorf("%s: no module line", name)
	}
	return mf, nil
}

func readWorkFile(name string) (*modfile.WorkFile, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return modfile.ParseWork(name, data, nil)
}

// repository is a work tree with its release manifest.
type repository struct {
	root     string    // top of the work tree
	rootPath string    // module path of the root go.mod
	man      *manifest // releases.txt
}

// openRepository reads the repository whose work tree holds dir.
func openRepository(dir string) (*repository, error) {
	root, err := repoRoot(dir)
	if err != nil {
		return nil, err
	}
	man, err := readManifest(root)
	if err != nil {
		return nil, err
	}
	rootPath, err := rootModulePath(root)
	if err != nil {
		return nil, err
	}
	return &repository{root: root, rootPath: rootPath, man: man}, nil
}

// repoRoot returns the top of the work tree that holds dir.
func repoRoot(dir string) (string, error) {
	top, err := gitOutput(dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", fmt.Errorf("%s is not in a git work tree: %w", dir, err)
	}
	return top, nil
}

// rootModulePath is the module path of the repository root's go.mod: every
// module of the repository lives under it, in the matching subdirectory.
func rootModulePath(root string) (string, error) {
	mf, err := readModFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("the repository root's go.mod: %w", err)
	}
	return mf.Module.Mod.Path, nil
}
