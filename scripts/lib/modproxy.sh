# shellcheck shell=bash
#
# scripts/lib/modproxy.sh: the local file GOPROXY of this repository's released
# modules, shared by scripts/check-modules, scripts/tidy and scripts/release.
# Source it, then:
#
#   modproxy_setup
#       Builds scripts/internal/modproxy, writes a file-based module proxy
#       holding every release recorded in releases.txt (each rebuilt from its
#       commit and checked against its recorded h1: hash; never the work tree,
#       never a tag), and sets:
#         MODPROXY_TMP       temp dir (removed by modproxy_cleanup)
#         MODPROXY_CACHE     the kept cache directory (module cache, lock)
#         MODPROXY_DIR       the proxy
#         MODPROXY_ENV       `env` arguments for a standalone (GOWORK=off) go command
#         MODPROXY_BIN       the helper binary (see scripts/internal/modproxy)
#   modproxy_rebuild       rewrites the proxy after releases.txt changed
#   modproxy_cleanup
#
# The standalone go commands use their own GOMODCACHE, kept between runs under
# ${XDG_CACHE_HOME:-~/.cache}/diary/modproxy (a stable path keeps the build
# cache warm), from which every github.com/xmojo/diary* module is deleted on
# each setup, so an extraction made by another checkout (or by an older
# version of these scripts, which served the work tree) is never reused. Their
# GOPROXY falls back to the normal module cache's download directory before
# the network, for third-party modules. GOPRIVATE and GONOPROXY are empty, so
# our modules come from the file proxy and nowhere else; GONOSUMDB keeps them
# away from sum.golang.org (they may be unpublished); go.sum is still checked,
# and -mod=readonly makes a missing go.sum line an error. A lock serialises
# concurrent check-modules/tidy/release runs.

MODPROXY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODPROXY_PREFIX=github.com/xmojo/diary

modproxy_setup() {
	local real_cache upstream
	local base=${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}
	MODPROXY_CACHE=${DIARY_MODPROXY_CACHE:-${base:-${TMPDIR:-/tmp}}/diary/modproxy}
	mkdir -p "$MODPROXY_CACHE" || return 1
	exec 8>"$MODPROXY_CACHE/lock"
	if ! flock -n 8; then
		echo "modproxy: waiting for another check-modules/tidy/release run to finish" >&2
		flock 8
	fi
	MODPROXY_TMP=$(mktemp -d "${TMPDIR:-/tmp}/diary-modproxy.XXXXXX") || return 1
	MODPROXY_DIR=$MODPROXY_TMP/proxy
	MODPROXY_BIN=$MODPROXY_TMP/modproxy
	(cd "$MODPROXY_ROOT/scripts/internal/modproxy" &&
		env GOWORK=off GOFLAGS=-mod=readonly go build -o "$MODPROXY_BIN" .) || {
		echo "modproxy: building scripts/internal/modproxy failed" >&2
		return 1
	}
	real_cache=$(go env GOMODCACHE)
	upstream=$(go env GOPROXY)
	# shellcheck disable=SC2034 # used by the scripts that source this file
	MODPROXY_ENV=(
		GOWORK=off
		GOFLAGS="-mod=readonly -modcacherw"
		GOMODCACHE="$MODPROXY_CACHE/modcache"
		GOPROXY="file://$MODPROXY_DIR,file://$real_cache/cache/download,${upstream:-https://proxy.golang.org,direct}"
		GOPRIVATE=
		GONOPROXY=
		GONOSUMDB="$MODPROXY_PREFIX"
		GOINSECURE=
		# The go command takes a module cache directory as immutable and caches
		# its package list (the module index) in GOCACHE by path and version.
		# Releases are immutable, but the module cache deleted above may have
		# held a different shared@v0.1.0 (the work tree, as older scripts served
		# it); goindex=0 makes the go command read the directory each time.
		GODEBUG=goindex=0
	)
	modproxy_rebuild
}

modproxy_rebuild() {
	chmod -R u+w "$MODPROXY_CACHE/modcache/github.com/xmojo" 2>/dev/null || true
	rm -rf "$MODPROXY_DIR" "$MODPROXY_CACHE/modcache/github.com/xmojo" \
		"$MODPROXY_CACHE/modcache/cache/download/github.com/xmojo"
	"$MODPROXY_BIN" proxy "$MODPROXY_ROOT" "$MODPROXY_DIR"
}

modproxy_cleanup() {
	if [[ -n ${MODPROXY_TMP:-} && -d $MODPROXY_TMP ]]; then
		chmod -R u+w "$MODPROXY_TMP" 2>/dev/null || true
		rm -rf "$MODPROXY_TMP"
	fi
}
