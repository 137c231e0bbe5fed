# shellcheck shell=bash
#
# scripts/lib/services.sh: the local backing services, shared by scripts/dev
# and scripts/test. Source it, then:
#
#   services_up STATEDIR PG_PORT REDIS_PORT S3_PORT
#       Starts, on 127.0.0.1 only and with all state under STATEDIR:
#         - PostgreSQL (Debian's binaries, run as the `postgres` user when we
#           are root; superuser diary/diary; database `diary`),
#         - Redis without persistence (--save '' --appendonly no),
#         - versitygw v1.8.0 in posix mode (S3 with SigV4 checks, a fixed
#           access key and secret, bucket diary-media),
#       installing whatever is missing (apt-get for postgresql, its rum
#       extension (postgresql-NN-rum) and redis-server,
#       `go install` for versitygw into .tools/bin, outside every module).
#       Each start is idempotent: a service of this state dir already running
#       on its port is reused (and left running afterwards); anything else on
#       the port is an error. Each start waits until the service answers. When DATABASE_URL, REDIS_URL or
#       S3_ENDPOINT is set in the environment (and is not this state dir's own
#       address), that service is not started and the given value is used.
#       Finally writes STATEDIR/env (see services_write_env).
#
#   services_down
#       Stops exactly the services this shell started, newest first (Redis and
#       versitygw by the pid in their pid file at that time, so one restarted
#       meanwhile, by scripts/chaos say, is stopped too). Idempotent; safe to
#       call from an EXIT trap.
#
#   svc_pg_restart STATEDIR, svc_redis_stop STATEDIR, svc_s3_stop STATEDIR
#       Restart PostgreSQL (pg_ctl restart, fast mode), stop Redis, stop
#       versitygw: the services of STATEDIR, for scripts/chaos; svc_redis_start
#       and svc_s3_start STATEDIR PORT start them again.
#
# Knobs (environment):
#   SERVICES_PG_FAST=1   run PostgreSQL with fsync off (tests; data is throwaway)
#   DIARY_TOOLS_BIN      where versitygw is installed (default <repo>/.tools/bin)
#   PG_BINDIR            PostgreSQL's bin directory (default: newest
#                        /usr/lib/postgresql/*/bin)

DIARY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIARY_TOOLS_BIN="${DIARY_TOOLS_BIN:-$DIARY_ROOT/.tools/bin}"

# Fixed local credentials: these services listen on loopback only.
SERVICES_PG_USER=diary
SERVICES_PG_PASSWORD=diary
SERVICES_PG_DB=diary
SERVICES_S3_ACCESS_KEY=diarylocal
SERVICES_S3_SECRET_KEY=diarylocalsecret0123456789
SERVICES_S3_REGION=us-east-1
SERVICES_S3_BUCKET=diary-media
SERVICES_VERSITYGW_VERSION=v1.8.0

SERVICES_STARTED=()   # "kind:detail" entries, in start order
_SVC_APT_UPDATED=0

svc_log() { printf '[services] %s\n' "$*" >&2; }
svc_err() { printf '[services] error: %s\n' "$*" >&2; }

# svc_as_pg CMD...: run a PostgreSQL tool as the postgres user when root.
svc_as_pg() {
	if [[ $EUID -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# svc_port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
svc_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

svc_apt_install() {
	local sudo=()
	if [[ $EUID -ne 0 ]]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=(sudo)
		else
			svc_err "need root (or sudo) to install: $*"
			return 1
		fi
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		svc_err "apt-get not found; install these yourself: $*"
		return 1
	fi
	svc_log "installing $* with apt-get"
	(
		# One apt run at a time when scripts/dev and scripts/test start together.
		exec 9>/tmp/diary-apt.lock
		flock 9
		# 8>&- 9>&-: services that package scripts start must not hold our locks.
		if [[ $_SVC_APT_UPDATED -eq 0 ]]; then
			"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 8>&- 9>&-
		fi
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 8>&- 9>&-
	) || { svc_err "apt-get install $* failed"; return 1; }
	_SVC_APT_UPDATED=1
}

svc_pg_bindir() {
	if [[ -n ${PG_BINDIR:-} ]]; then
		printf '%s\n' "$PG_BINDIR"
		return 0
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[[ -n $d && -x $d/initdb && -x $d/pg_ctl ]] || return 1
	printf '%s\n' "$d"
}

# svc_ensure_tools NEED_PG NEED_REDIS: install missing system packages.
svc_ensure_tools() {
	local need_pg=$1 need_redis=$2 pkgs=()
	command -v curl >/dev/null 2>&1 || pkgs+=(curl ca-certificates)
	command -v openssl >/dev/null 2>&1 || pkgs+=(openssl)
	if [[ $need_pg == 1 ]] && ! svc_pg_bindir >/dev/null; then
		pkgs+=(postgresql)
	fi
	if [[ $need_redis == 1 ]] && ! { command -v redis-server && command -v redis-cli; } >/dev/null 2>&1; then
		pkgs+=(redis-server)
	fi
	if ((${#pkgs[@]})); then
		svc_apt_install "${pkgs[@]}" || return 1
	fi
	if [[ $need_pg == 1 ]]; then
		svc_pg_bindir >/dev/null || { svc_err "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (set PG_BINDIR)"; return 1; }
		svc_pg_ensure_rum || return 1
		if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
			svc_log "creating system user postgres"
			useradd --system --no-create-home --shell /usr/sbin/nologin postgres || return 1
		fi
	fi
	if [[ $need_redis == 1 ]]; then
		command -v redis-server >/dev/null 2>&1 || { svc_err "redis-server is still missing"; return 1; }
	fi
}

# svc_pg_ensure_rum: the rum extension (postgrespro/rum) for the PostgreSQL in use, which
# the search index needs (migration 0014): Debian's postgresql-NN-rum when it is missing.
svc_pg_ensure_rum() {
	local bindir ver sharedir
	bindir=$(svc_pg_bindir) || return 1
	sharedir=$("$bindir/pg_config" --sharedir 2>/dev/null) || sharedir=
	ver=$(basename "$(dirname "$bindir")")
	[[ -n $sharedir ]] || sharedir=/usr/share/postgresql/$ver
	[[ -f $sharedir/extension/rum.control ]] && return 0
	svc_apt_install "postgresql-$ver-rum" || return 1
	[[ -f $sharedir/extension/rum.control ]] || { svc_err "the rum extension is still missing from $sharedir/extension"; return 1; }
}

# svc_versitygw_bin: print the path of the pinned versitygw, installing it once.
svc_versitygw_bin() {
	local bin=$DIARY_TOOLS_BIN/versitygw
	_svc_vgw_ok() {
		[[ -x $bin ]] && go version -m "$bin" 2>/dev/null |
			grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+${SERVICES_VERSITYGW_VERSION}([[:space:]]|$)"
	}
	if _svc_vgw_ok; then
		printf '%s\n' "$bin"
		return 0
	fi
	command -v go >/dev/null 2>&1 || { svc_err "go is not on PATH (needed to install versitygw)"; return 1; }
	mkdir -p "$DIARY_TOOLS_BIN" || return 1
	(
		exec 9>"$DIARY_TOOLS_BIN/.install.lock"
		flock 9
		_svc_vgw_ok && exit 0
		svc_log "installing versitygw $SERVICES_VERSITYGW_VERSION into $DIARY_TOOLS_BIN (one time, takes a minute or two)"
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' EXIT
		# Outside every module: no go.work, no project go.mod, no inherited -mod flags.
		cd / && env GOWORK=off GOFLAGS= GOBIN="$tmp" \
			go install "github.com/versity/versitygw/cmd/versitygw@$SERVICES_VERSITYGW_VERSION" >&2 8>&- 9>&- &&
			mv -f "$tmp/versitygw" "$bin"
	) || { svc_err "go install versitygw@$SERVICES_VERSITYGW_VERSION failed"; return 1; }
	_svc_vgw_ok || { svc_err "$bin is not versitygw $SERVICES_VERSITYGW_VERSION"; return 1; }
	printf '%s\n' "$bin"
}

# svc_make_traversable DIR: let the postgres user reach DIR (adds o+x to
# ancestors that lack it; never adds read permission).
svc_make_traversable() {
	local d=$1
	runuser -u postgres -- test -x "$d" 2>/dev/null && return 0
	while [[ $d != / ]]; do
		if [[ $(( 0$(stat -c '%a' "$d") & 1 )) -eq 0 ]]; then
			svc_log "chmod o+x $d (so the postgres user can reach its data directory)"
			chmod o+x "$d" || return 1
		fi
		d=$(dirname "$d")
	done
}

# ---------------------------------------------------------------- PostgreSQL

svc_pg_url() { # PORT
	printf 'postgres://%s:%s@127.0.0.1:%s/%s?sslmode=disable\n' \
		"$SERVICES_PG_USER" "$SERVICES_PG_PASSWORD" "$1" "$SERVICES_PG_DB"
}

svc_pg_psql() { # PORT DB SQL
	local bindir
	bindir=$(svc_pg_bindir) || return 1
	PGPASSWORD=$SERVICES_PG_PASSWORD PGCONNECT_TIMEOUT=5 "$bindir/psql" -X -q -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$1" -U "$SERVICES_PG_USER" -d "$2" -Atc "$3"
}

svc_pg_ensure_db() { # PORT
	local exists
	exists=$(svc_pg_psql "$1" postgres "SELECT 1 FROM pg_database WHERE datname = '$SERVICES_PG_DB'") || return 1
	if [[ $exists != 1 ]]; then
		svc_log "creating database $SERVICES_PG_DB"
		svc_pg_psql "$1" postgres "CREATE DATABASE $SERVICES_PG_DB" || return 1
	fi
}

svc_pg_start() { # STATEDIR PORT
	local state=$1 port=$2 bindir dir data i
	bindir=$(svc_pg_bindir) || return 1
	dir=$state/postgres
	data=$dir/data

	if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 3; then
		local running_data
		if ! running_data=$(svc_pg_psql "$port" postgres 'SHOW data_directory' 2>/dev/null); then
			svc_err "a PostgreSQL on 127.0.0.1:$port does not accept $SERVICES_PG_USER/$SERVICES_PG_PASSWORD; stop it or free the port"
			return 1
		fi
		if [[ $running_data != "$data" ]]; then
			svc_err "port $port is taken by another PostgreSQL (data directory $running_data), not this state dir's ($data)"
			return 1
		fi
		svc_log "PostgreSQL already running on 127.0.0.1:$port; reusing it"
		svc_pg_ensure_db "$port"
		return
	fi
	if svc_port_open "$port"; then
		svc_err "port $port is in use by something that is not PostgreSQL"
		return 1
	fi

	mkdir -p "$dir" || return 1
	if [[ $EUID -eq 0 ]]; then
		chown postgres: "$dir" || return 1
		svc_make_traversable "$dir" || return 1
	fi
	if [[ ! -s $data/PG_VERSION ]]; then
		svc_log "initialising PostgreSQL data directory $data"
		rm -rf "$data"
		local pwfile=$dir/.pwfile
		printf '%s\n' "$SERVICES_PG_PASSWORD" >"$pwfile"
		[[ $EUID -eq 0 ]] && chown postgres: "$pwfile"
		chmod 600 "$pwfile"
		if ! svc_as_pg "$bindir/initdb" -D "$data" -U "$SERVICES_PG_USER" --pwfile="$pwfile" \
			--auth-host=scram-sha-256 --auth-local=trust --encoding=UTF8 --no-locale \
			>"$dir/initdb.log" 2>&1; then
			rm -f "$pwfile"
			svc_err "initdb failed; see $dir/initdb.log:"
			tail -n 20 "$dir/initdb.log" >&2
			return 1
		fi
		rm -f "$pwfile"
		printf "\n# Settings for this private instance live in diary.conf (rewritten on each start).\ninclude_if_exists = 'diary.conf'\n" \
			| svc_as_pg tee -a "$data/postgresql.conf" >/dev/null
	fi

	{
		echo "# Written by scripts/lib/services.sh on every start."
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $port"
		echo "unix_socket_directories = ''"
		echo "max_connections = 200"
		if [[ ${SERVICES_PG_FAST:-0} == 1 ]]; then
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
		fi
	} | svc_as_pg tee "$data/diary.conf" >/dev/null || return 1

	svc_log "starting PostgreSQL on 127.0.0.1:$port (log: $dir/postgres.log)"
	# 8>&- 9>&-: daemons must not inherit the callers' lock descriptors.
	if ! svc_as_pg "$bindir/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 start >/dev/null 8>&- 9>&-; then
		svc_err "PostgreSQL did not start; last lines of $dir/postgres.log:"
		tail -n 20 "$dir/postgres.log" >&2
		return 1
	fi
	SERVICES_STARTED+=("postgres:$data")
	for ((i = 0; i < 60; i++)); do
		"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 && break
		sleep 0.5
	done
	"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 3 || { svc_err "PostgreSQL does not answer on $port"; return 1; }
	svc_pg_ensure_db "$port"
}

# svc_pg_restart STATEDIR: pg_ctl restart of STATEDIR's cluster (fast mode: the
# connections are cut), waiting until it accepts connections again.
svc_pg_restart() {
	local dir=$1/postgres bindir
	bindir=$(svc_pg_bindir) || return 1
	[[ -s $dir/data/PG_VERSION ]] || { svc_err "no PostgreSQL data directory under $dir"; return 1; }
	svc_log "restarting PostgreSQL ($dir/data)"
	svc_as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m fast -w -t 60 restart >/dev/null 8>&- 9>&-
}

svc_pg_stop() { # DATADIR
	local bindir
	bindir=$(svc_pg_bindir) || return 1
	svc_log "stopping PostgreSQL ($1)"
	svc_as_pg "$bindir/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null
}

# ---------------------------------------------------------------------- Redis

svc_redis_ping() { # PORT
	[[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]
}

svc_redis_start() { # STATEDIR PORT
	local state=$1 port=$2 dir=$1/redis i pid
	if svc_redis_ping "$port"; then
		local running_dir
		running_dir=$(redis-cli -h 127.0.0.1 -p "$port" config get dir 2>/dev/null | sed -n 2p)
		if [[ $running_dir != "$dir" ]]; then
			svc_err "port $port is taken by another Redis (dir ${running_dir:-unknown}), not this state dir's ($dir)"
			return 1
		fi
		svc_log "Redis already running on 127.0.0.1:$port; reusing it"
		return 0
	fi
	if svc_port_open "$port"; then
		svc_err "port $port is in use by something that is not Redis"
		return 1
	fi
	mkdir -p "$dir" || return 1
	rm -f "$dir/redis.pid"
	svc_log "starting Redis on 127.0.0.1:$port (no persistence; log: $dir/redis.log)"
	redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
		--save '' --appendonly no --dir "$dir" \
		--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" 8>&- 9>&- || {
		svc_err "redis-server failed to start; see $dir/redis.log"
		return 1
	}
	for ((i = 0; i < 60; i++)); do
		svc_redis_ping "$port" && break
		sleep 0.5
	done
	SERVICES_STARTED+=("pidfile:$dir/redis.pid:redis-server:Redis")
	svc_redis_ping "$port" || {
		svc_err "Redis does not answer on $port; last lines of $dir/redis.log:"
		tail -n 20 "$dir/redis.log" >&2
		return 1
	}
}

# svc_redis_stop STATEDIR: stop STATEDIR's Redis (its sessions go: no persistence).
svc_redis_stop() {
	svc_stop_pidfile "$1/redis/redis.pid" redis-server Redis
}

# ------------------------------------------------------------------------- S3

# svc_s3_curl ACCESS SECRET REGION CURL-ARGS...: a SigV4-signed request.
svc_s3_curl() {
	local access=$1 secret=$2 region=$3
	shift 3
	curl -sS --max-time 10 --aws-sigv4 "aws:amz:$region:s3" --user "$access:$secret" \
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

# svc_s3_ensure_bucket ENDPOINT ACCESS SECRET REGION BUCKET
svc_s3_ensure_bucket() {
	local code
	code=$(svc_s3_curl "$2" "$3" "$4" -o /dev/null -w '%{http_code}' -X PUT "$1/$5") || code=000
	case $code in
	200) svc_log "created bucket $5" ;;
	409) ;; # BucketAlreadyOwnedByYou
	*)
		svc_err "creating bucket $5 at $1 returned HTTP $code"
		return 1
		;;
	esac
}

svc_s3_start() { # STATEDIR PORT
	local state=$1 port=$2 dir=$1/s3 bin pid code i endpoint="http://127.0.0.1:$2"
	bin=$(svc_versitygw_bin) || return 1
	code=$(svc_s3_curl "$SERVICES_S3_ACCESS_KEY" "$SERVICES_S3_SECRET_KEY" "$SERVICES_S3_REGION" \
		-o /dev/null -w '%{http_code}' "$endpoint/" 2>/dev/null) || code=000
	if [[ $code == 200 ]]; then
		pid=$(cat "$dir/versitygw.pid" 2>/dev/null || true)
		if [[ -z $pid ]] || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "127.0.0.1:$port " ||
			! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/data"; then
			svc_err "port $port is taken by an S3 server that is not this state dir's versitygw ($dir)"
			return 1
		fi
		svc_log "S3 (versitygw) already running on 127.0.0.1:$port; reusing it"
		svc_s3_ensure_bucket "$endpoint" "$SERVICES_S3_ACCESS_KEY" "$SERVICES_S3_SECRET_KEY" "$SERVICES_S3_REGION" "$SERVICES_S3_BUCKET"
		return
	fi
	if svc_port_open "$port"; then
		svc_err "port $port is in use by something that does not accept our S3 credentials (HTTP $code)"
		return 1
	fi
	mkdir -p "$dir/data" || return 1
	svc_log "starting versitygw (S3) on $endpoint (log: $dir/versitygw.log)"
	# setsid: Ctrl-C in the terminal reaches the caller, which stops this in order.
	(cd "$dir" && exec setsid "$bin" --port "127.0.0.1:$port" \
		--access "$SERVICES_S3_ACCESS_KEY" --secret "$SERVICES_S3_SECRET_KEY" \
		--region "$SERVICES_S3_REGION" posix "$dir/data" \
		>>"$dir/versitygw.log" 2>&1 </dev/null 8>&- 9>&-) &
	pid=$!
	echo "$pid" >"$dir/versitygw.pid"
	SERVICES_STARTED+=("pidfile:$dir/versitygw.pid:versitygw:versitygw")
	for ((i = 0; i < 120; i++)); do
		code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$endpoint/" 2>/dev/null) || true
		[[ $code != 000 && -n $code ]] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			svc_err "versitygw exited; last lines of $dir/versitygw.log:"
			tail -n 20 "$dir/versitygw.log" >&2
			return 1
		fi
		sleep 0.5
	done
	[[ $code != 000 && -n $code ]] || { svc_err "versitygw does not answer on $port"; return 1; }
	svc_s3_ensure_bucket "$endpoint" "$SERVICES_S3_ACCESS_KEY" "$SERVICES_S3_SECRET_KEY" "$SERVICES_S3_REGION" "$SERVICES_S3_BUCKET"
}

# svc_s3_stop STATEDIR: stop STATEDIR's versitygw (the objects stay on disk).
svc_s3_stop() {
	svc_stop_pidfile "$1/s3/versitygw.pid" versitygw versitygw
}

# svc_stop_pidfile FILE COMM NAME: stop the process whose pid FILE holds, if it is
# still a COMM, and wait until it has exited.
svc_stop_pidfile() {
	local pid i
	pid=$(cat "$1" 2>/dev/null || true)
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	svc_stop_pid "$pid" "$2" "$3"
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
}

# svc_stop_pid PID COMM NAME: stop a process we started, if it is still ours.
svc_stop_pid() {
	local pid=$1 comm=$2 name=$3 i
	if ! kill -0 "$pid" 2>/dev/null; then
		return 0
	fi
	if [[ $(cat "/proc/$pid/comm" 2>/dev/null) != "$comm"* ]]; then
		return 0 # the pid now belongs to something else
	fi
	svc_log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	svc_log "$name did not stop in 10s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
}

# ------------------------------------------------------------ secrets and env

# svc_secrets STATEDIR: create STATEDIR/secrets once (JWT keypair, session key).
svc_secrets() {
	local state=$1 file=$1/secrets tmp seed pub session
	[[ -s $file ]] && return 0
	tmp=$(mktemp -d) || return 1
	if ! openssl genpkey -algorithm ed25519 -out "$tmp/key.pem" 2>/dev/null; then
		rm -rf "$tmp"
		svc_err "openssl cannot generate an Ed25519 key"
		return 1
	fi
	# The last 32 bytes of the PKCS#8 DER are the seed, of the SPKI DER the public key.
	seed=$(openssl pkey -in "$tmp/key.pem" -outform DER | tail -c 32 | base64 -w0)
	pub=$(openssl pkey -in "$tmp/key.pem" -pubout -outform DER | tail -c 32 | base64 -w0)
	session=$(openssl rand 32 | base64 -w0)
	rm -rf "$tmp"
	if [[ ${#seed} -ne 44 || ${#pub} -ne 44 || ${#session} -ne 44 ]]; then
		svc_err "generated keys have the wrong length"
		return 1
	fi
	(
		umask 077
		{
			echo "# Generated once for this state directory by scripts/lib/services.sh; delete to rotate."
			echo "JWT_PRIVATE_KEY=$seed"
			echo "JWT_PUBLIC_KEY=$pub"
			echo "SESSION_KEY=$session"
		} >"$file.tmp" && mv -f "$file.tmp" "$file"
	)
}

# svc_env_line NAME VALUE: NAME=VALUE in shell syntax, quoted only if needed.
svc_env_line() {
	if [[ $2 =~ ^[A-Za-z0-9_./:@%+=,?-]*$ ]]; then
		printf '%s=%s\n' "$1" "$2"
	else
		printf "%s='%s'\n" "$1" "${2//\'/\'\\\'\'}"
	fi
}

# services_write_env STATEDIR: write STATEDIR/env from SERVICES_* results.
services_write_env() {
	local state=$1 file=$1/env line key value
	svc_secrets "$state" || return 1
	(
		umask 077
		{
			echo "# Settings for the services under $state, written by scripts/lib/services.sh."
			echo "# Load into a shell with:  set -a; . $file; set +a"
			svc_env_line DATABASE_URL "$SERVICES_DATABASE_URL"
			svc_env_line REDIS_URL "$SERVICES_REDIS_URL"
			svc_env_line S3_ENDPOINT "$SERVICES_S3_ENDPOINT"
			svc_env_line S3_REGION "$SERVICES_S3_REGION_VALUE"
			svc_env_line S3_BUCKET "$SERVICES_S3_BUCKET_VALUE"
			svc_env_line S3_ACCESS_KEY_ID "$SERVICES_S3_ACCESS_KEY_VALUE"
			svc_env_line S3_SECRET_ACCESS_KEY "$SERVICES_S3_SECRET_KEY_VALUE"
			svc_env_line S3_PATH_STYLE true
			while IFS= read -r line; do
				key=${line%%=*}
				value=${line#*=}
				if [[ $line == *=* && $key =~ ^[A-Z_]+$ ]]; then
					svc_env_line "$key" "$value"
				fi
			done <"$state/secrets"
			svc_env_line JWT_ISSUER diary-auth
			svc_env_line JWT_AUDIENCE diary-api
		} >"$file.tmp" && mv -f "$file.tmp" "$file"
	)
}

# ------------------------------------------------------------------ up / down

services_up() { # STATEDIR PG_PORT REDIS_PORT S3_PORT
	if [[ $# -ne 4 ]]; then
		svc_err "usage: services_up STATEDIR PG_PORT REDIS_PORT S3_PORT"
		return 1
	fi
	local state=$1 pg_port=$2 redis_port=$3 s3_port=$4 own_pg own_redis own_s3
	mkdir -p "$state" || return 1
	state=$(cd "$state" && pwd -P)

	own_pg=$(svc_pg_url "$pg_port")
	own_redis="redis://127.0.0.1:$redis_port/0"
	own_s3="http://127.0.0.1:$s3_port"
	# A value equal to this state dir's own address (say, from a sourced env
	# file) still means "start it here".
	local ext_pg=0 ext_redis=0 ext_s3=0
	SERVICES_PG_OWN=0 SERVICES_REDIS_OWN=0
	[[ -n ${DATABASE_URL:-} && $DATABASE_URL != "$own_pg" ]] && ext_pg=1
	[[ -n ${REDIS_URL:-} && $REDIS_URL != "$own_redis" ]] && ext_redis=1
	[[ -n ${S3_ENDPOINT:-} && $S3_ENDPOINT != "$own_s3" ]] && ext_s3=1

	svc_ensure_tools $((1 - ext_pg)) $((1 - ext_redis)) || return 1

	if [[ $ext_pg == 1 ]]; then
		svc_log "DATABASE_URL is set; using it instead of starting PostgreSQL"
		SERVICES_DATABASE_URL=$DATABASE_URL
	else
		svc_pg_start "$state" "$pg_port" || return 1
		SERVICES_DATABASE_URL=$own_pg
		SERVICES_PG_OWN=1
	fi

	if [[ $ext_redis == 1 ]]; then
		svc_log "REDIS_URL is set; using it instead of starting Redis"
		SERVICES_REDIS_URL=$REDIS_URL
	else
		svc_redis_start "$state" "$redis_port" || return 1
		SERVICES_REDIS_URL=$own_redis
		SERVICES_REDIS_OWN=1
	fi

	if [[ $ext_s3 == 1 ]]; then
		svc_log "S3_ENDPOINT is set; using it instead of starting versitygw"
		SERVICES_S3_ENDPOINT=$S3_ENDPOINT
		SERVICES_S3_REGION_VALUE=${S3_REGION:-$SERVICES_S3_REGION}
		SERVICES_S3_BUCKET_VALUE=${S3_BUCKET:-$SERVICES_S3_BUCKET}
		SERVICES_S3_ACCESS_KEY_VALUE=${S3_ACCESS_KEY_ID:-$SERVICES_S3_ACCESS_KEY}
		SERVICES_S3_SECRET_KEY_VALUE=${S3_SECRET_ACCESS_KEY:-$SERVICES_S3_SECRET_KEY}
		svc_s3_ensure_bucket "$SERVICES_S3_ENDPOINT" "$SERVICES_S3_ACCESS_KEY_VALUE" \
			"$SERVICES_S3_SECRET_KEY_VALUE" "$SERVICES_S3_REGION_VALUE" "$SERVICES_S3_BUCKET_VALUE" ||
			svc_log "warning: could not make sure bucket $SERVICES_S3_BUCKET_VALUE exists at $SERVICES_S3_ENDPOINT"
	else
		svc_s3_start "$state" "$s3_port" || return 1
		SERVICES_S3_ENDPOINT=$own_s3
		SERVICES_S3_REGION_VALUE=$SERVICES_S3_REGION
		SERVICES_S3_BUCKET_VALUE=$SERVICES_S3_BUCKET
		SERVICES_S3_ACCESS_KEY_VALUE=$SERVICES_S3_ACCESS_KEY
		SERVICES_S3_SECRET_KEY_VALUE=$SERVICES_S3_SECRET_KEY
	fi

	services_write_env "$state" || return 1
	svc_log "services ready; settings in $state/env"
}

services_down() {
	local i entry rest pid comm name
	for ((i = ${#SERVICES_STARTED[@]} - 1; i >= 0; i--)); do
		entry=${SERVICES_STARTED[i]}
		case $entry in
		postgres:*) svc_pg_stop "${entry#postgres:}" || svc_err "stopping PostgreSQL failed" ;;
		pidfile:*)
			rest=${entry#pidfile:}
			comm=${rest#*:}
			name=${comm#*:}
			comm=${comm%%:*}
			svc_stop_pidfile "${rest%%:*}" "$comm" "$name"
			;;
		pid:*)
			rest=${entry#pid:}
			pid=${rest%%:*}
			rest=${rest#*:}
			comm=${rest%%:*}
			name=${rest#*:}
			svc_stop_pid "$pid" "$comm" "$name"
			;;
		esac
	done
	SERVICES_STARTED=()
}

# services_reset_data: empty the services this state dir runs itself (not the
# ones given by DATABASE_URL / REDIS_URL / S3_ENDPOINT): drop and recreate the
# database, flush Redis. For scripts/test, so every run starts clean.
services_reset_data() {
	local port
	if [[ ${SERVICES_PG_OWN:-0} == 1 ]]; then
		port=${SERVICES_DATABASE_URL##*@127.0.0.1:}
		port=${port%%/*}
		svc_log "recreating database $SERVICES_PG_DB"
		svc_pg_psql "$port" postgres "DROP DATABASE IF EXISTS $SERVICES_PG_DB WITH (FORCE)" || return 1
		svc_pg_psql "$port" postgres "CREATE DATABASE $SERVICES_PG_DB" || return 1
	fi
	if [[ ${SERVICES_REDIS_OWN:-0} == 1 ]]; then
		port=${SERVICES_REDIS_URL##*127.0.0.1:}
		port=${port%%/*}
		svc_log "flushing Redis"
		[[ $(redis-cli -h 127.0.0.1 -p "$port" flushall 2>/dev/null) == OK ]] || { svc_err "redis FLUSHALL failed"; return 1; }
	fi
}
