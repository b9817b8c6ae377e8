#!/usr/bin/env bash
# Set up everything Wangge needs on a Debian machine, then run one job.
#
#   scripts/bootstrap.sh demo   # venv + PostGIS + demo county, then the dashboards
#   scripts/bootstrap.sh test   # venv + test tools + PostGIS, then the whole test suite
#
# Idempotent: a second run checks what is there and skips it. With DATABASE_URL set, that
# server is used and no PostgreSQL is installed or started.
set -euo pipefail
cd "$(dirname "$0")/.."

job="${1:-demo}"
shift || true
VENV=.venv
PY=${PYTHON:-python3}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_install() {
    # Install the named Debian packages that are missing (needs root).
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: need root to install ${missing[*]} (or install them yourself)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_python() {
    if ! "$PY" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
        apt_install python3 python3-venv python3-dev
        PY=python3
    fi
    if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
        apt_install python3-venv
    fi
}

ensure_venv() {
    # Create .venv and install the pinned requirements; a stamp skips this when unchanged.
    local reqs=("$@")
    local stamp="$VENV/.wangge-stamp"
    local want
    want=$(cat "${reqs[@]}" requirements.txt pyproject.toml | sha256sum | cut -c1-16)-"${reqs[*]}"
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && grep -qx -- "$want" "$stamp"; then
        return 0
    fi
    ensure_python
    [ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
    say "installing pinned Python packages (${reqs[*]})"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -r "${reqs[0]}"
    "$VENV/bin/python" -m pip install -q --no-deps -e .
    echo "$want" >"$stamp"
}

case "$job" in
demo)
    ensure_venv requirements.txt
    say "PostGIS: provision, create and migrate the database"
    "$VENV/bin/wangge" db up
    say "demo county (profile ${WANGGE_PROFILE:-yanchi}): households, a published grid plan, incidents"
    "$VENV/bin/wangge" demo --profile "${WANGGE_PROFILE:-yanchi}"
    "$VENV/bin/wangge" info
    say "dashboards"
    exec "$VENV/bin/wangge" dash "$@"
    ;;
test)
    ensure_venv requirements-dev.txt
    # gdal-bin: ogrinfo as a real GDAL client; chromium (+ a CJK font): dashboards tested in a
    # real browser.
    apt_install gdal-bin chromium fonts-wqy-zenhei
    say "PostGIS: provision the server (the tests create and drop their own databases)"
    "$VENV/bin/wangge" db up --server-only
    say "tests"
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
*)
    echo "usage: $0 demo|test [args passed on to the dashboards or to pytest]" >&2
    exit 2
    ;;
esac
