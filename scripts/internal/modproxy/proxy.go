package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// proxyCommand writes a file GOPROXY at proxyDir holding every release the
// manifest of the repository at repo records. Each release is rebuilt from its
// commit and must hash to the recorded h1:, so a build that uses the proxy gets
// exactly the released content, and a go.sum written against it holds the hashes
// the real module proxy computes. A release whose commit the clone lacks is left
// out with a warning: only a build that needs it fails.
func proxyCommand(dir, proxyDir string) error {
	repo, err := openRepository(dir)
	if err != nil {
		return err
	}
	a, err := newArchiver(repo.root)
	if err != nil {
		return err
	}
	defer a.close()
	if err := os.MkdirAll(proxyDir, 0o755); err != nil {
		return err
	}
	return writeProxy(a, repo.man, repo.rootPath, proxyDir)
}

func writeProxy(a *archiver, man *manifest, rootPath, proxyDir string) error {
	versions := map[string][]string{}
	for _, r := range man.releases {
		if !a.hasCommit(r.commit) {
			fmt.Fprintf(os.Stderr, "modproxy: warning: %s: commit %s is not in this clone (shallow clone? history rewritten?); "+
				"a build that needs this version fails\n", r, shortCommit(r.commit))
			continue
		}
		if err := writeRelease(a, r, rootPath, proxyDir); err != nil {
			return err
		}
		versions[r.path] = append(versions[r.path], r.version)
	}
	for path, list := range versions {
		semver.Sort(list)
		vdir, err := versionDir(proxyDir, path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(vdir, "list"), []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeRelease writes r's .info, .mod and .zip into the proxy and checks the
// zip against the hash the manifest recorded.
func writeRelease(a *archiver, r release, rootPath, proxyDir string) error {
	subdir, err := moduleSubdir(rootPath, r.path)
	if err != nil {
		return err
	}
	vdir, err := versionDir(proxyDir, r.path)
	if err != nil {
		return err
	}
	escVer, err := module.EscapeVersion(r.version)
	if err != nil {
		return err
	}
	base := filepath.Join(vdir, escVer)
	sum, err := a.writeZip(base+".zip", module.Version{Path: r.path, Version: r.version}, r.commit, subdir)
	if err != nil {
		return fmt.Errorf("%s: %w", r, err)
	}
	if sum != r.sum {
		return fmt.Errorf("%s: the module zip made from commit %s hashes to %s, but %s records %s",
			r, shortCommit(r.commit), sum, manifestName, r.sum)
	}
	gomod, err := a.readFile(r.commit, pathJoin(subdir, "go.mod"))
	if err != nil {
		return fmt.Errorf("%s: %w", r, err)
	}
	if p := modfile.ModulePath(gomod); p != r.path {
		return fmt.Errorf("%s: go.mod at commit %s declares module %q", r, shortCommit(r.commit), p)
	}
	t, err := a.commitTime(r.commit)
	if err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    string
	}{r.version, t.Format("2006-01-02T15:04:05Z")})
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".info", info, 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".mod", gomod, 0o644)
}

func versionDir(proxyDir, path string) (string, error) {
	esc, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(proxyDir, filepath.FromSlash(esc), "@v")
	return dir, os.MkdirAll(dir, 0o755)
}

// moduleSubdir is the directory, relative to the repository root, that holds
// module path: the go command finds a module of a repository in the
// subdirectory named by the rest of its path, and its tags under that prefix.
func moduleSubdir(rootPath, path string) (string, error) {
	if path == rootPath {
		return "", nil
	}
	if rest, ok := strings.CutPrefix(path, rootPath+"/"); ok {
		return rest, nil
	}
	return "", fmt.Errorf("module %s is not under the repository's module path %s", path, rootPath)
}

// tagName is the git tag by which the go command finds version of the module
// in subdir.
func tagName(subdir, version string) string {
	if subdir == "" {
		return version
	}
	return subdir + "/" + version
}

func pathJoin(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// unreleasedCommand names every requirement, in the go.mod of each module
// directory given, of a module of this repository at a version the manifest
// does not record, and fails if there is one: such a module cannot build on its
// own (and `func build` cannot build it) until the version is released.
func unreleasedCommand(repoDir string, dirs []string) error {
	repo, err := openRepository(repoDir)
	if err != nil {
		return err
	}
	man := repo.man
	mods, err := repoModules(repo.root)
	if err != nil {
		return err
	}
	ours := map[string]bool{}
	for _, m := range mods {
		ours[m.path] = true
	}
	for _, r := range man.releases {
		ours[r.path] = true
	}
	var missing []string
	for _, dir := range dirs {
		mf, err := readModFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			return err
		}
		for _, req := range mf.Require {
			if !ours[req.Mod.Path] {
				continue
			}
			if _, ok := man.find(req.Mod.Path, req.Mod.Version); !ok {
				missing = append(missing, fmt.Sprintf("%s requires %s, which %s does not record (latest: %s)",
					mf.Module.Mod.Path, req.Mod, manifestName, orNone(man.latest(req.Mod.Path))))
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("unreleased requirements (run scripts/release):\n  %s", strings.Join(missing, "\n  "))
	}
	return nil
}

func orNone(v string) string {
	if v == "" {
		return "none"
	}
	return v
}

// tagsCommand prints "tag<TAB>commit" for every release in the manifest.
func tagsCommand(dir string) error {
	repo, err := openRepository(dir)
	if err != nil {
		return err
	}
	var lines []string
	for _, r := range repo.man.releases {
		subdir, err := moduleSubdir(repo.rootPath, r.path)
		if err != nil {
			return err
		}
		lines = append(lines, tagName(subdir, r.version)+"\t"+r.commit)
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	return nil
}
