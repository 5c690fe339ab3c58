#!/usr/bin/env bash
# Makes sure what a make target needs is here, installing it when it can, or fails with one
# line saying what is missing.
#
# Python tools go into the project's virtual environment (.venv, or $ETL_VENV), never into the
# system interpreter, from requirements/<group>.txt: every package pinned with its hashes
# (pip-compile --generate-hashes from requirements/<group>.in; docs/security.md). A group is
# reinstalled when its file changes. PostgreSQL comes from Debian's packages.
#
# Usage: scripts/ensure-tools.sh [postgres] [moto] [chromium] [lambda] [checks] [peers]
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "missing: $*" >&2; exit 1; }

VENV=${ETL_VENV:-$PWD/.venv}

have_initdb() {
  command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

# Installs requirements/$1.txt into the virtual environment $2 (default: the project's), unless
# it already holds that file.
venv_install() {
  local group=$1 VENV=${2:-$VENV}
  local req="requirements/$group.txt" stamp="$VENV/.installed-$group" sum
  sum=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    local py
    py=$(command -v python3 || true)
    [ -n "$py" ] || fail "python3 (3.10 or later), to make the project's virtual environment $VENV"
    "$py" -m venv "$VENV" >&2 || fail "python3's venv module (apt-get install python3-venv), to make $VENV"
  fi
  echo "installing the $group tools into $VENV (pip install --require-hashes -r $req)" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$req" >&2 \
    || fail "could not install $req into $VENV (is PyPI reachable?)"
  echo "$sum" >"$stamp"
}

# The venv's tools must come first on PATH for what runs after this script (make exports it).
on_path() {
  command -v "$1" >/dev/null 2>&1 && [ "$(command -v "$1")" = "$VENV/bin/$1" ] \
    || fail "$1 is not taken from $VENV/bin: put $VENV/bin first on PATH (make does)"
}

command -v cargo >/dev/null 2>&1 || fail "cargo: install the Rust toolchain (rustup, Rust >= 1.95)"

for need in "$@"; do
  case "$need" in
    postgres)
      if [ -z "${ETL_TEST_DATABASE_URL:-}" ] && ! have_initdb; then
        if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
          echo "installing PostgreSQL server binaries (apt-get install postgresql)" >&2
          apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 \
            || fail "PostgreSQL: apt-get install postgresql failed"
        fi
        have_initdb || fail "PostgreSQL server binaries (initdb): install postgresql, or set ETL_TEST_DATABASE_URL to an existing server"
      fi
      ;;
    moto)
      venv_install dev
      on_path moto_server
      ;;
    chromium)
      # Headless Chromium renders `etl report --html` in its test. Debian's package; the
      # test harness starts it headless, with its background networking off.
      if ! command -v "${ETL_CHROMIUM:-chromium}" >/dev/null 2>&1; then
        if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
          echo "installing Chromium for the report test (apt-get install chromium)" >&2
          apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 \
            || fail "Chromium: apt-get install chromium failed"
        fi
        command -v "${ETL_CHROMIUM:-chromium}" >/dev/null 2>&1 \
          || fail "chromium (Debian: apt-get install chromium), or set ETL_CHROMIUM to a Chromium binary"
      fi
      ;;
    checks)
      venv_install dev
      on_path checkov
      on_path actionlint
      ;;
    lambda)
      venv_install lambda
      on_path cargo-lambda
      if command -v rustup >/dev/null 2>&1; then
        rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
          || rustup target add aarch64-unknown-linux-gnu >&2 \
          || fail "the aarch64-unknown-linux-gnu Rust target (rustup target add aarch64-unknown-linux-gnu)"
      fi
      ;;
    peers)
      # dlt and Sling for `make bench-peers`, in their own environment: their dependencies
      # never meet the test tools'.
      venv_install bench "${ETL_BENCH_VENV:-$PWD/.venv-bench}"
      ;;
    *) fail "unknown tool '$need' (scripts/ensure-tools.sh)" ;;
  esac
done
