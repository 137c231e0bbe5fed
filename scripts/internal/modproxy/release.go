package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// releasePlan is a checked release: version of each module another module of
// the repository requires, released at commit (HEAD).
type releasePlan struct {
	root     string
	version  string
	commit   string
	man      *manifest
	mods     []repoModule // every module of the repository
	released []release
}

// releaseCommand plans and applies a release of version at HEAD, and prints on
// stdout the directory ("." for the root) of every module that requires a
// released module: scripts/release tidies those against the new versions.
func releaseCommand(dir, version string) error {
	p, err := planRelease(dir, version)
	if err != nil {
		return err
	}
	requirers, err := p.apply()
	if err != nil {
		return &partialWriteError{fmt.Errorf("release %s: %w", version, err)}
	}
	for _, r := range p.released {
		fmt.Fprintf(os.Stderr, "modproxy: released %s at %s (%s)\n", r, shortCommit(r.commit), r.sum)
	}
	for _, rel := range requirers {
		if rel == "" {
			rel = "."
		}
		fmt.Println(rel)
	}
	return nil
}

// planRelease checks that version can be released at HEAD and computes the
// released modules' hashes; it changes nothing. A module is released when
// another module of the repository requires it: func build resolves every such
// requirement from a module proxy.
func planRelease(dir, version string) (*releasePlan, error) {
	if !semver.IsValid(version) || semver.Canonical(version) != version {
		return nil, fmt.Errorf("release %q: want a canonical semantic version such as v0.2.0", version)
	}
	if m := semver.Major(version); m != "v0" && m != "v1" {
		return nil, fmt.Errorf("release %s: a %s module needs a /%s suffix on its module path; not supported", version, m, m)
	}
	repo, err := openRepository(dir)
	if err != nil {
		return nil, err
	}
	root, man, rootPath := repo.root, repo.man, repo.rootPath
	if err := checkClean(root); err != nil {
		return nil, err
	}
	commit, err := gitOutput(root, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return nil, fmt.Errorf("release: no commit to release: %w", err)
	}
	mods, err := repoModules(root)
	if err != nil {
		return nil, err
	}
	byPath := map[string]repoModule{}
	for _, m := range mods {
		if other, dup := byPath[m.path]; dup {
			return nil, fmt.Errorf("release: module %s is declared in both %s/ and %s/", m.path, other.rel, m.rel)
		}
		byPath[m.path] = m
	}

	// The highest version at which each released module is required.
	required := map[string]string{}
	for _, m := range mods {
		for _, r := range m.mod.Require {
			if _, ours := byPath[r.Mod.Path]; !ours || r.Mod.Path == m.path {
				continue
			}
			if v, ok := required[r.Mod.Path]; !ok || semver.Compare(r.Mod.Version, v) > 0 {
				required[r.Mod.Path] = r.Mod.Version
			}
		}
	}
	if len(required) == 0 {
		return nil, fmt.Errorf("release: no module of the repository requires another; nothing to release")
	}
	paths := make([]string, 0, len(required))
	for p := range required {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var problems []string
	for _, path := range paths {
		m := byPath[path]
		want, err := moduleSubdir(rootPath, path)
		if err != nil || want != m.rel {
			problems = append(problems, fmt.Sprintf("%s is in %s/, but the go command looks for it in %s/ of the repository",
				path, m.rel, strings.TrimPrefix(path, rootPath+"/")))
			continue
		}
		if r, ok := man.find(path, version); ok {
			problems = append(problems, fmt.Sprintf("%s is already released (commit %s)", r, shortCommit(r.commit)))
			continue
		}
		if latest := man.latest(path); latest != "" && semver.Compare(version, latest) <= 0 {
			problems = append(problems, fmt.Sprintf("%s: %s is not above the latest release %s", path, version, latest))
		}
		if semver.Compare(version, required[path]) < 0 {
			problems = append(problems, fmt.Sprintf("%s: %s is below %s, which a go.mod requires already", path, version, required[path]))
		}
		tag := tagName(m.rel, version)
		if at, err := gitOutput(root, "rev-parse", "-q", "--verify", "refs/tags/"+tag+"^{commit}"); err == nil && at != commit {
			problems = append(problems, fmt.Sprintf("tag %s exists already, at %s, not HEAD", tag, shortCommit(at)))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("cannot release %s:\n  %s", version, strings.Join(problems, "\n  "))
	}

	a, err := newArchiver(root)
	if err != nil {
		return nil, err
	}
	defer a.close()
	tmp, err := os.MkdirTemp("", "modproxy-release-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	p := &releasePlan{root: root, version: version, commit: commit, man: man, mods: mods}
	for i, path := range paths {
		mv := module.Version{Path: path, Version: version}
		sum, err := a.writeZip(filepath.Join(tmp, fmt.Sprintf("%d.zip", i)), mv, commit, byPath[path].rel)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", mv, err)
		}
		p.released = append(p.released, release{path: path, version: version, commit: commit, sum: sum})
	}
	return p, nil
}

// checkClean refuses a work tree with changes or untracked files: the release
// is the commit, so what it releases must be exactly what is committed, and the
// release's own edits must be all that the next commit holds.
func checkClean(root string) error {
	out, err := gitOutput(root, "status", "--porcelain", "--untracked-files=normal")
	if err != nil {
		return err
	}
	if out == "" {
		return nil
	}
	lines := strings.Split(out, "\n")
	if len(lines) > 10 {
		lines = append(lines[:10], "...")
	}
	return fmt.Errorf("release: the work tree is not clean; commit or stash first:\n  %s", strings.Join(lines, "\n  "))
}

// apply records the releases in the manifest, sets every requirement of a
// released module to the new version, and points go.work's versioned replace
// lines at the versions now required. It returns the directories of the
// modules that require a released module.
func (p *releasePlan) apply() ([]string, error) {
	released := map[string]bool{}
	for _, r := range p.released {
		p.man.add(r)
		released[r.path] = true
	}
	if err := p.man.write(p.root); err != nil {
		return nil, err
	}
	var requirers []string
	for _, m := range p.mods {
		changed, requires := false, false
		for _, r := range m.mod.Require {
			if !released[r.Mod.Path] {
				continue
			}
			requires = true
			if r.Mod.Version != p.version {
				if err := m.mod.AddRequire(r.Mod.Path, p.version); err != nil {
					return nil, err
				}
				changed = true
			}
		}
		if !requires {
			continue
		}
		requirers = append(requirers, m.rel)
		if !changed {
			continue
		}
		m.mod.Cleanup()
		data, err := m.mod.Format()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(m.dir, "go.mod"), data, 0o644); err != nil {
			return nil, err
		}
	}
	if err := syncWorkReplaces(p.root); err != nil {
		return nil, err
	}
	return requirers, nil
}

// syncWorkReplaces makes go.work's versioned replace lines for its own modules
// exactly one per version some workspace go.mod requires, pointing at the
// module's directory: the workspace builds those requirements from the work tree
// instead of downloading them. Other replace lines stay as they are.
func syncWorkReplaces(root string) error {
	name := filepath.Join(root, "go.work")
	data, err := os.ReadFile(name)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	wf, err := modfile.ParseWork(name, data, nil)
	if err != nil {
		return err
	}
	mods, err := workspaceModules(name)
	if err != nil {
		return err
	}
	dirOf := map[string]string{}
	for _, m := range mods {
		dirOf[m.path] = "./" + m.rel
	}
	need := map[module.Version]bool{}
	for _, m := range mods {
		for _, r := range m.mod.Require {
			if _, ours := dirOf[r.Mod.Path]; ours {
				need[r.Mod] = true
			}
		}
	}
	var needed []module.Version
	for v := range need {
		needed = append(needed, v)
	}
	sort.Slice(needed, func(i, j int) bool {
		if needed[i].Path != needed[j].Path {
			return needed[i].Path < needed[j].Path
		}
		return semver.Compare(needed[i].Version, needed[j].Version) < 0
	})
	for _, v := range needed {
		if err := wf.AddReplace(v.Path, v.Version, dirOf[v.Path], ""); err != nil {
			return err
		}
	}
	for _, r := range append([]*modfile.Replace(nil), wf.Replace...) {
		if _, ours := dirOf[r.Old.Path]; ours && r.Old.Version != "" && !need[r.Old] {
			if err := wf.DropReplace(r.Old.Path, r.Old.Version); err != nil {
				return err
			}
		}
	}
	wf.SortBlocks()
	wf.Cleanup()
	out := modfile.Format(wf.Syntax)
	if bytes.Equal(out, data) {
		return nil
	}
	return os.WriteFile(name, out, 0o644)
}
