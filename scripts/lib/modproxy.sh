# shellcheck shell=bash
#
# scripts/lib/modproxy.sh: the local file GOPROXY shared by scripts/check-modules
# and scripts/tidy. Source it, then:
#
#   modproxy_setup
#       Builds scripts/internal/modproxy, writes a file-based module proxy
#       holding every go.work module (its working tree) at each version some
#       workspace go.mod requires (v0.1.0 when none does), and sets:
#         MODPROXY_TMP       temp dir (removed by modproxy_cleanup)
#         MODPROXY_CACHE     the kept cache directory (module cache, lock)
#         MODPROXY_DIR       the proxy; MODPROXY_DIR/workspace.sum has its go.sum lines
#         MODPROXY_ENV       `env` arguments for a standalone (GOWORK=off) go command
#         MODPROXY_BIN       the helper binary (list / build / copy)
#   modproxy_rebuild       rewrites the proxy after go.mod files changed
#   modproxy_strip_sum F   removes github.com/xmojo/diary* lines from go.sum F
#   modproxy_cleanup
#
# The standalone go commands use their own GOMODCACHE, kept between runs under
# ${XDG_CACHE_HOME:-~/.cache}/diary/modproxy (a stable path keeps the build
# cache warm), from which every github.com/xmojo/diary* module is deleted on
# each setup, so a stale extraction of an unpublished workspace module is never
# reused. Its GOPROXY falls back to the normal module cache's download
# directory before the network. GONOSUMDB keeps our unpublished modules away
# from sum.golang.org. A lock serialises concurrent check-modules/tidy runs.

MODPROXY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODPROXY_PREFIX=github.com/xmojo/diary

modproxy_setup() {
	local real_cache upstream
	local base=${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}
	MODPROXY_CACHE=${DIARY_MODPROXY_CACHE:-${base:-${TMPDIR:-/tmp}}/diary/modproxy}
	mkdir -p "$MODPROXY_CACHE" || return 1
	exec 8>"$MODPROXY_CACHE/lock"
	if ! flock -n 8; then
		echo "modproxy: waiting for another check-modules/tidy run to finish" >&2
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
		# The go command takes a module cache directory as immutable and caches its
		# package list (the module index) in GOCACHE by path and version. Here the
		# same shared@v0.1.0 is rebuilt from the work tree on every run, so a package
		# added since the last run would stay invisible ("cannot find module
		# providing package"); goindex=0 makes it read the directory each time.
		GODEBUG=goindex=0
	)
	modproxy_rebuild
}

modproxy_rebuild() {
	chmod -R u+w "$MODPROXY_CACHE/modcache/github.com/xmojo" 2>/dev/null || true
	rm -rf "$MODPROXY_DIR" "$MODPROXY_CACHE/modcache/github.com/xmojo" \
		"$MODPROXY_CACHE/modcache/cache/download/github.com/xmojo"
	"$MODPROXY_BIN" build "$MODPROXY_ROOT/go.work" "$MODPROXY_DIR" 2>"$MODPROXY_TMP/build.log" || {
		cat "$MODPROXY_TMP/build.log" >&2
		return 1
	}
}

modproxy_strip_sum() {
	[[ -f $1 ]] || return 0
	grep -v "^${MODPROXY_PREFIX}[/ ]" "$1" >"$1.strip" || true
	mv -f "$1.strip" "$1"
}

modproxy_cleanup() {
	if [[ -n ${MODPROXY_TMP:-} && -d $MODPROXY_TMP ]]; then
		chmod -R u+w "$MODPROXY_TMP" 2>/dev/null || true
		rm -rf "$MODPROXY_TMP"
	fi
}
