package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

func newMonoRepo(t *testing.T) (*testRepo, string) {
	t.Helper()
	r := newTestRepo(t)
	r.write(monoFiles())
	return r, r.commit("libraries")
}

func TestPlanReleaseReleasesWhatAnotherModuleRequires(t *testing.T) {
	r, commit := newMonoRepo(t)

	p, err := planRelease(r.dir, "v0.2.0")
	if err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, rel := range p.released {
		got = append(got, rel.String())
		if rel.commit != commit {
			t.Errorf("%s released at %s, want HEAD %s", rel, rel.commit, commit)
		}
	}
	// Not migrations (required by no module), not the functions (nor the root).
	want := []string{"github.com/xmojo/diary/eventing@v0.2.0", "github.com/xmojo/diary/shared@v0.2.0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("planRelease released %q, want %q", got, want)
	}
	if st := r.git("status", "--porcelain"); st != "" {
		t.Errorf("planRelease changed the work tree: %q", st)
	}
}

func TestPlanReleaseRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version string
		arrange func(r *testRepo, commit string)
		want    string
	}{
		{"not semver", "0.2.0", nil, "canonical semantic version"},
		{"not canonical", "v0.2", nil, "canonical semantic version"},
		{"major version suffix", "v2.0.0", nil, "/v2 suffix"},
		{"changed file", "v0.2.0", func(r *testRepo, _ string) {
			r.write(map[string]string{"shared/greet/greet.go": "package greet\n"})
		}, "not clean"},
		{"untracked file", "v0.2.0", func(r *testRepo, _ string) {
			r.write(map[string]string{"shared/new.go": "package shared\n"})
		}, "not clean"},
		{"existing version", "v0.2.0", func(r *testRepo, commit string) {
			r.write(map[string]string{manifestName: "github.com/xmojo/diary/shared v0.2.0 " + commit + " h1:x=\n"})
			r.commit("manifest")
		}, "shared@v0.2.0 is already released"},
		{"not above the latest", "v0.2.0", func(r *testRepo, commit string) {
			r.write(map[string]string{manifestName: "github.com/xmojo/diary/eventing v0.3.0 " + commit + " h1:x=\n"})
			r.commit("manifest")
		}, "eventing: v0.2.0 is not above the latest release v0.3.0"},
		{"below a required version", "v0.0.9", nil, "v0.0.9 is below v0.1.0"},
		{"tag elsewhere", "v0.2.0", func(r *testRepo, _ string) {
			r.git("tag", "shared/v0.2.0")
			r.write(map[string]string{"shared/greet/more.go": "package greet\n"})
			r.commit("more")
		}, "tag shared/v0.2.0 exists already"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, commit := newMonoRepo(t)
			if tc.arrange != nil {
				tc.arrange(r, commit)
			}
			before := r.git("status", "--porcelain")

			_, err := planRelease(r.dir, tc.version)

			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("planRelease(%q) = %v, want an error containing %q", tc.version, err, tc.want)
			}
			if after := r.git("status", "--porcelain"); after != before {
				t.Errorf("a refused release changed the work tree: %q, was %q", after, before)
			}
		})
	}
}

func TestPlanReleaseAllowsLeftoverTagAtHead(t *testing.T) {
	r, _ := newMonoRepo(t)
	r.git("tag", "shared/v0.2.0") // from an earlier run whose edits were discarded
	if _, err := planRelease(r.dir, "v0.2.0"); err != nil {
		t.Errorf("planRelease with shared/v0.2.0 already at HEAD = %v, want nil", err)
	}
}

func TestReleaseApply(t *testing.T) {
	r, commit := newMonoRepo(t)
	p, err := planRelease(r.dir, "v0.2.0")
	if err != nil {
		t.Fatal(err)
	}

	requirers, err := p.apply()
	if err != nil {
		t.Fatal(err)
	}

	if want := []string{"", "functions/hello"}; !reflect.DeepEqual(requirers, want) {
		t.Errorf("apply() requirers = %q, want %q", requirers, want)
	}
	man, err := readManifest(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newArchiver(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	for _, path := range []string{"github.com/xmojo/diary/eventing", "github.com/xmojo/diary/shared"} {
		rel, ok := man.find(path, "v0.2.0")
		if !ok {
			t.Fatalf("%s does not record %s@v0.2.0:\n%s", manifestName, path, man.format())
		}
		sum, err := a.writeZip(filepath.Join(t.TempDir(), "z.zip"), module.Version{Path: path, Version: "v0.2.0"}, commit, strings.TrimPrefix(path, "github.com/xmojo/diary/"))
		if err != nil {
			t.Fatal(err)
		}
		if rel.commit != commit || rel.sum != sum {
			t.Errorf("%s records %s at %s %s, want %s %s", manifestName, rel, rel.commit, rel.sum, commit, sum)
		}
	}
	if got := r.read("functions/hello/go.mod"); !strings.Contains(got, "github.com/xmojo/diary/eventing v0.2.0\n\tgithub.com/xmojo/diary/shared v0.2.0\n") {
		t.Errorf("functions/hello/go.mod after the release:\n%s", got)
	}
	if got := r.read("go.mod"); !strings.Contains(got, "require github.com/xmojo/diary/shared v0.2.0\n") {
		t.Errorf("go.mod after the release:\n%s", got)
	}
	wantWork := `go 1.21

use (
	.
	./eventing
	./functions/hello
	./migrations
	./shared
)

// The workspace's own modules at the versions the go.mod files require.
replace (
	github.com/xmojo/diary/eventing v0.2.0 => ./eventing
	github.com/xmojo/diary/shared v0.2.0 => ./shared
)
`
	if got := r.read("go.work"); got != wantWork {
		t.Errorf("go.work after the release:\n%s\nwant:\n%s", got, wantWork)
	}
	for _, name := range []string{"shared/go.mod", "eventing/go.mod", "migrations/go.mod"} {
		if got := r.read(name); got != monoFiles()[name] {
			t.Errorf("%s changed:\n%s", name, got)
		}
	}
}

func TestManifestRoundTrip(t *testing.T) {
	c := strings.Repeat("ab", 20)
	in := "# header\n\n" +
		"github.com/xmojo/diary/shared v0.10.0 " + c + " h1:b=\n" +
		"github.com/xmojo/diary/eventing v0.1.0 " + c + " h1:a=\n"
	m, err := parseManifest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	m.add(release{path: "github.com/xmojo/diary/shared", version: "v0.9.0", commit: c, sum: "h1:c="})

	want := "# header\n" +
		"github.com/xmojo/diary/eventing v0.1.0 " + c + " h1:a=\n" +
		"github.com/xmojo/diary/shared v0.9.0 " + c + " h1:c=\n" +
		"github.com/xmojo/diary/shared v0.10.0 " + c + " h1:b=\n"
	if got := string(m.format()); got != want {
		t.Errorf("format() =\n%s\nwant\n%s", got, want)
	}
	if got := m.latest("github.com/xmojo/diary/shared"); got != "v0.10.0" {
		t.Errorf("latest(shared) = %q, want v0.10.0", got)
	}
}

func TestParseManifestRejects(t *testing.T) {
	c := strings.Repeat("ab", 20)
	for _, line := range []string{
		"github.com/xmojo/diary/shared v0.1.0 " + c,                                                                       // no hash
		"github.com/xmojo/diary/shared 0.1.0 " + c + " h1:a=",                                                             // version
		"github.com/xmojo/diary/shared v0.1.0 abc123 h1:a=",                                                               // short commit
		"github.com/xmojo/diary/shared v0.1.0 " + c + " sha256:a",                                                         // not h1
		"github.com/xmojo/diary/shared v0.1.0 " + c + " h1:a=\n" + "github.com/xmojo/diary/shared v0.1.0 " + c + " h1:b=", // twice
	} {
		if _, err := parseManifest([]byte(line + "\n")); err == nil {
			t.Errorf("parseManifest(%q) = nil error, want one", line)
		}
	}
}

func TestReadManifestMissing(t *testing.T) {
	dir := t.TempDir()
	m, err := readManifest(dir)
	if err != nil || len(m.releases) != 0 {
		t.Errorf("readManifest(no file) = %v, %v; want an empty manifest", m, err)
	}
	if _, err := os.Stat(filepath.Join(dir, manifestName)); !os.IsNotExist(err) {
		t.Errorf("readManifest created a file")
	}
}
