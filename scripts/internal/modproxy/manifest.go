package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// manifestName is the committed release manifest, at the repository root.
const manifestName = "releases.txt"

// manifestHeader opens a manifest that does not exist yet.
var manifestHeader = []string{
	"# Released versions of this repository's Go modules, written by scripts/release.",
	"# One line per release: module path, version, the commit whose subtree is the",
	"# release, and the h1: hash of its module zip (the go.sum hash). scripts/check-modules",
	"# rebuilds every release from its commit and checks the hash; the git tags",
	"# <dir>/<version> only let the public module proxy find the same commits.",
}

// release is one released module version.
type release struct {
	path    string // module path
	version string // canonical semantic version
	commit  string // full commit hash
	sum     string // h1: hash of the module zip
}

func (r release) String() string { return r.path + "@" + r.version }

// manifest is the parsed releases.txt: its comment header and its releases.
type manifest struct {
	header   []string
	releases []release
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// readManifest reads the manifest of the repository at root; a repository
// without one has released nothing yet.
func readManifest(root string) (*manifest, error) {
	name := filepath.Join(root, manifestName)
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return &manifest{header: manifestHeader}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := parseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifestName, err)
	}
	return m, nil
}

func parseManifest(data []byte) (*manifest, error) {
	m := &manifest{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if len(m.releases) == 0 {
				m.header = append(m.header, line)
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("line %d: want \"module version commit h1:hash\", have %q", n, line)
		}
		r := release{path: f[0], version: f[1], commit: f[2], sum: f[3]}
		switch {
		case module.CheckPath(r.path) != nil:
			return nil, fmt.Errorf("line %d: invalid module path %q", n, r.path)
		case !semver.IsValid(r.version) || semver.Canonical(r.version) != r.version:
			return nil, fmt.Errorf("line %d: %s: version %q is not a canonical semantic version", n, r.path, r.version)
		case !commitRE.MatchString(r.commit):
			return nil, fmt.Errorf("line %d: %s: commit %q is not a full commit hash", n, r, r.commit)
		case !strings.HasPrefix(r.sum, "h1:"):
			return nil, fmt.Errorf("line %d: %s: hash %q is not an h1: hash", n, r, r.sum)
		case seen[r.String()]:
			return nil, fmt.Errorf("line %d: %s recorded twice", n, r)
		}
		seen[r.String()] = true
		m.releases = append(m.releases, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// find returns the release of path at version.
func (m *manifest) find(path, version string) (release, bool) {
	for _, r := range m.releases {
		if r.path == path && r.version == version {
			return r, true
		}
	}
	return release{}, false
}

// latest returns the highest released version of path ("" when none).
func (m *manifest) latest(path string) string {
	v := ""
	for _, r := range m.releases {
		if r.path == path && (v == "" || semver.Compare(r.version, v) > 0) {
			v = r.version
		}
	}
	return v
}

// add records r, keeping the releases sorted by module path, then version.
func (m *manifest) add(r release) {
	m.releases = append(m.releases, r)
	sort.SliceStable(m.releases, func(i, j int) bool {
		a, b := m.releases[i], m.releases[j]
		if a.path != b.path {
			return a.path < b.path
		}
		return semver.Compare(a.version, b.version) < 0
	})
}

func (m *manifest) format() []byte {
	var b bytes.Buffer
	for _, h := range m.header {
		b.WriteString(h + "\n")
	}
	for _, r := range m.releases {
		fmt.Fprintf(&b, "%s %s %s %s\n", r.path, r.version, r.commit, r.sum)
	}
	return b.Bytes()
}

// write replaces the manifest of the repository at root.
func (m *manifest) write(root string) error {
	if err := os.WriteFile(filepath.Join(root, manifestName), m.format(), 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}
