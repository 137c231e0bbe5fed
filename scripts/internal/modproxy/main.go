// Command modproxy releases this repository's Go modules and serves the released
// versions to standalone builds, the way the Go module proxy would serve them.
//
// A function's go.mod requires the repository's library modules
// (github.com/xmojo/diary/shared, .../eventing, ...) by version, and `func build`
// copies only the function's directory, ignoring go.work and replace lines. So a
// function builds on a real machine only against released versions. The releases
// are recorded in the committed manifest releases.txt (module, version, commit,
// h1: hash); a version's content is the module's subtree at that commit, zipped
// exactly as the go command zips a module it fetches from git (so the hash is the
// one proxy.golang.org and sum.golang.org compute from the tag <dir>/<version>).
// Everything here derives from the manifest's commits, never from tags, so it works
// in a clone that has the history but no tags.
//
//	modproxy list GO.WORK
//	    print "dir<TAB>module path" for each `use` entry of go.work
//	modproxy proxy REPO PROXYDIR
//	    write a file GOPROXY (file://PROXYDIR) holding every release in
//	    REPO/releases.txt, rebuilt from its commit and checked against its hash
//	modproxy unreleased REPO MODDIR...
//	    name each requirement of a repository module that releases.txt lacks
//	modproxy release REPO VERSION
//	    record VERSION of every module another module requires, released at
//	    HEAD; bump those requirements and go.work's versioned replace lines;
//	    print the directories of the modules that require a released one (to be
//	    tidied); exit status 3 if it failed after it began writing
//	modproxy tags REPO
//	    print "tag<TAB>commit" for every release (scripts/release creates them)
//	modproxy copy MODDIR DESTDIR
//	    copy a module's work-tree files as its module zip would hold them
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "modproxy: %v\n", err)
		var partial *partialWriteError
		if errors.As(err, &partial) {
			os.Exit(3) // scripts/release restores the work tree
		}
		os.Exit(1)
	}
}

// partialWriteError is a failure after a command began changing the work tree.
type partialWriteError struct{ err error }

func (e *partialWriteError) Error() string { return e.err.Error() }
func (e *partialWriteError) Unwrap() error { return e.err }

var errUsage = errors.New("usage: modproxy list GO.WORK | proxy REPO PROXYDIR | unreleased REPO MODDIR... | " +
	"release REPO VERSION | tags REPO | copy MODDIR DESTDIR")

func run(args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch cmd, args := args[0], args[1:]; {
	case cmd == "list" && len(args) == 1:
		mods, err := workspaceModules(args[0])
		if err != nil {
			return err
		}
		for _, m := range mods {
			fmt.Printf("%s\t%s\n", m.dir, m.path)
		}
		return nil
	case cmd == "proxy" && len(args) == 2:
		return proxyCommand(args[0], args[1])
	case cmd == "unreleased" && len(args) >= 2:
		return unreleasedCommand(args[0], args[1:])
	case cmd == "release" && len(args) == 2:
		return releaseCommand(args[0], args[1])
	case cmd == "tags" && len(args) == 1:
		return tagsCommand(args[0])
	case cmd == "copy" && len(args) == 2:
		return copyModule(args[0], args[1])
	default:
		return errUsage
	}
}
