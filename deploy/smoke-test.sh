#!/usr/bin/env bash
# Builds the Tradewind image, brings up a compose stack under a project name of its own, runs
# the smoke DAG through the REST API, checks it, and tears everything down (volumes too).
#
#   deploy/smoke-test.sh [celery|local]      (default celery: docker-compose.yaml, 2 workers;
#                                             local: docker-compose.local.yaml)
# Exit codes: 0 passed; 1 failed (the services' logs are printed); 77 no usable Docker engine or
# compose (nothing was tested). A stopped dockerd is started when this is possible (root, dockerd
# installed) and stopped again at the end.
# Environment: BASE_IMAGE (default python:3.12-slim; when it cannot be pulled, a Debian
# bookworm image is built with deploy/base-image.sh and cached as tradewind-base:bookworm),
# TRADEWIND_IMAGE_NAME (default tradewind:smoke), SMOKE_TIMEOUT (seconds, default 240).
set -uo pipefail

topology="${1:-celery}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
SKIP=77
case "$topology" in
celery) compose_file="$here/docker-compose.yaml" ;;
local) compose_file="$here/docker-compose.local.yaml" ;;
*) echo "usage: $0 [celery|local]" >&2; exit 2 ;;
esac

started_dockerd=""
project=""
workdir=""
compose=()

log() { echo "[smoke $(date -u +%H:%M:%S)] $*"; }

teardown() {
    if [ -n "$project" ] && [ ${#compose[@]} -gt 0 ]; then
        "${compose[@]}" down -v --remove-orphans --timeout 20 >/dev/null 2>&1
    fi
    [ -n "$workdir" ] && rm -rf "$workdir"
    if [ -n "$started_dockerd" ]; then
        kill "$started_dockerd" 2>/dev/null && wait "$started_dockerd" 2>/dev/null
    fi
}
trap teardown EXIT
trap 'exit 1' INT TERM

ensure_docker() {
    command -v docker >/dev/null || { echo "smoke: no docker client: skipped" >&2; exit $SKIP; }
    docker info >/dev/null 2>&1 && return
    if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null; then
        echo "smoke: no Docker engine running and none can be started here: skipped" >&2
        exit $SKIP
    fi
    log "starting dockerd"
    dockerd >"${TMPDIR:-/tmp}/smoke-dockerd.$$.log" 2>&1 &
    started_dockerd=$!
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && return
        kill -0 "$started_dockerd" 2>/dev/null || break
        sleep 0.5
    done
    tail -20 "${TMPDIR:-/tmp}/smoke-dockerd.$$.log" >&2
    started_dockerd=""
    echo "smoke: dockerd could not be started: skipped" >&2
    exit $SKIP
}

choose_compose() {
    if docker compose version >/dev/null 2>&1; then
        compose=(docker compose)
    elif command -v docker-compose >/dev/null; then
        compose=(docker-compose)
    else
        echo "smoke: neither 'docker compose' nor docker-compose is installed: skipped" >&2
        exit $SKIP
    fi
    # Without the buildx plugin the current docker CLI refuses BuildKit builds.
    docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
}

# An image present or pullable keeps its name; else the stand-in is built (once: cached by tag).
image_or_standin() {
    local wanted="$1" standin="$2" build_dir="$3"
    if docker image inspect "$wanted" >/dev/null 2>&1 || timeout 60 docker pull -q "$wanted" >/dev/null 2>&1; then
        echo "$wanted"
        return
    fi
    if ! docker image inspect "$standin" >/dev/null 2>&1; then
        "$here/base-image.sh" >&2 || return 1
        docker build -q -t "$standin" "$build_dir" >/dev/null || return 1
    fi
    echo "$standin"
}

# A key of this machine's pip configuration (`pip config list`: any section, last one wins).
pip_setting() {
    python3 -m pip config list 2>/dev/null | sed -n "s/^[a-z:]*\.$1='\(.*\)'$/\1/p" | tail -1
}

build_image() {
    local base="${BASE_IMAGE:-python:3.12-slim}" context cert index
    if ! docker image inspect "$base" >/dev/null 2>&1 && ! timeout 60 docker pull -q "$base" >/dev/null 2>&1; then
        log "$base cannot be pulled: using tradewind-base:bookworm"
        "$here/base-image.sh" || return 1
        base=tradewind-base:bookworm
    fi
    context="$workdir/context"
    mkdir -p "$context"
    local args=(--build-arg "BASE_IMAGE=$base")
    cert="${PIP_CERT:-$(pip_setting cert)}"
    if [ -n "$cert" ] && [ -f "$cert" ]; then
        cp "$cert" "$context/build-ca.pem"
        args+=(--build-arg PIP_CERT=/build/build-ca.pem)
    fi
    index="${PIP_INDEX_URL:-$(pip_setting index-url)}"
    [ -n "$index" ] && args+=(--build-arg "PIP_INDEX_URL=$index")
    log "building $TRADEWIND_IMAGE_NAME from $base"
    (cd "$root" && tar -c pyproject.toml README.md src deploy/Dockerfile -C "$context" \
        $(cd "$context" && ls)) |
        docker build -q -f deploy/Dockerfile "${args[@]}" -t "$TRADEWIND_IMAGE_NAME" - >/dev/null
}

# The hostnames the tries must record: the scheduler's container (local executor), or each
# worker container's Celery node name, celery@<container hostname>.
try_hosts() {
    local service=scheduler prefix="" id
    [ "$topology" = celery ] && service=worker prefix=celery@
    for id in $("${compose[@]}" ps -q "$service"); do
        echo "--host=$prefix$(docker inspect -f '{{.Config.Hostname}}' "$id")"
    done
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

show_logs() {
    echo "---- services ----" >&2
    "${compose[@]}" ps >&2
    "${compose[@]}" logs --no-color --tail 80 >&2
}

ensure_docker
choose_compose
workdir="$(mktemp -d "${TMPDIR:-/tmp}/tradewind-smoke.XXXXXX")"
t0=$SECONDS
export TRADEWIND_IMAGE_NAME="${TRADEWIND_IMAGE_NAME:-tradewind:smoke}"
build_image || { echo "smoke: image build failed" >&2; exit 1; }
TRADEWIND_POSTGRES_IMAGE="$(image_or_standin postgres:16 tradewind-postgres:local "$here/standins/postgres")" || exit 1
TRADEWIND_REDIS_IMAGE="$(image_or_standin redis:7.2-bookworm tradewind-redis:local "$here/standins/redis")" || exit 1
export TRADEWIND_POSTGRES_IMAGE TRADEWIND_REDIS_IMAGE
log "images ready in $((SECONDS - t0)) s"

mkdir -p "$workdir/dags" "$workdir/logs"
cp "$here/smoke/smoke_fanout.py" "$workdir/dags/"
project="twsmoke$$$(date +%s)"
export COMPOSE_PROJECT_NAME="$project" COMPOSE_FILE="$compose_file"
# Files in logs/ are the caller's; except root's: as root the roles run as the image's own uid
# (50000), as a deployment without TRADEWIND_UID does, and root still removes what they wrote.
uid="$(id -u)"
[ "$uid" = 0 ] && uid=50000
export TRADEWIND_PROJ_DIR="$workdir" TRADEWIND_UID="$uid" TRADEWIND_API_PORT="$(free_port)"
export TRADEWIND_FERNET_KEY="$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
export TRADEWIND_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export TRADEWIND_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export TRADEWIND_WORKER_CONCURRENCY=2
user=smoke password="$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
export _TRADEWIND_WWW_USER_USERNAME="$user" _TRADEWIND_WWW_USER_PASSWORD="$password"
compose=("${compose[@]}" -p "$project" -f "$compose_file")

scale=()
[ "$topology" = celery ] && scale=(--scale worker=2)
t1=$SECONDS
log "up: project $project, $topology topology, API on port $TRADEWIND_API_PORT"
if ! "${compose[@]}" up -d "${scale[@]}" >"$workdir/up.log" 2>&1; then
    cat "$workdir/up.log" >&2
    show_logs
    echo "smoke: compose up failed" >&2
    exit 1
fi
mapfile -t hosts < <(try_hosts)
expected=1
[ "$topology" = celery ] && expected=2
if [ ${#hosts[@]} -ne "$expected" ]; then
    show_logs
    echo "smoke: expected $expected containers to run tries, found: ${hosts[*]}" >&2
    exit 1
fi
if ! python3 "$here/smoke/check.py" --url "http://127.0.0.1:$TRADEWIND_API_PORT" \
    --username "$user" --password "$password" "${hosts[@]}" \
    --timeout "${SMOKE_TIMEOUT:-240}"; then
    show_logs
    exit 1
fi
log "run checked $((SECONDS - t1)) s after up"
# A second up runs init again: migrating an up-to-date metastore and finding the admin user
# already there must both pass.
if ! "${compose[@]}" up -d "${scale[@]}" >"$workdir/up2.log" 2>&1; then
    cat "$workdir/up2.log" >&2
    show_logs
    echo "smoke: second compose up failed" >&2
    exit 1
fi
log "second up passed; total $((SECONDS - t0)) s"
echo "smoke test ($topology) passed"
