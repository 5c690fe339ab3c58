#!/usr/bin/env bash
# Makes sure what a make target needs is here, installing it when it can (pip packages,
# Debian's postgresql), or fails with one line saying what is missing.
# Usage: scripts/ensure-tools.sh [postgres] [moto] [lambda] [checkov] [jsonschema]
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "missing: $*" >&2; exit 1; }

have_initdb() {
  command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

pip_install() {
  local py
  py=$(command -v python3 || command -v python || true)
  [ -n "$py" ] || fail "python3 with pip, needed to install $* (apt-get install python3-pip)"
  "$py" -m pip install --quiet --disable-pip-version-check "$@" >&2 \
    || fail "could not pip install $* (is PyPI reachable?)"
  hash -r
  command -v pyenv >/dev/null 2>&1 && pyenv rehash >/dev/null 2>&1 || true
}

# Whether the installed moto is at least the version requirements-dev.txt asks for.
moto_is_recent() {
  python3 - <<'PY' 2>/dev/null
import importlib.metadata as metadata, sys
try:
    version = tuple(int(p) for p in metadata.version("moto").split(".")[:3])
except Exception:
    sys.exit(1)
sys.exit(0 if version >= (5, 2, 5) else 1)
PY
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
      if ! command -v moto_server >/dev/null 2>&1 || ! moto_is_recent; then
        echo "installing moto_server (pip install -r requirements-dev.txt)" >&2
        pip_install -r requirements-dev.txt
        command -v moto_server >/dev/null 2>&1 || fail "moto_server is not on PATH after pip install 'moto[server]'"
      fi
      ;;
    lambda)
      if ! command -v cargo-lambda >/dev/null 2>&1 || ! python3 -c "import ziglang" 2>/dev/null; then
        echo "installing cargo-lambda and zig (pip install cargo-lambda ziglang)" >&2
        pip_install cargo-lambda ziglang
        command -v cargo-lambda >/dev/null 2>&1 || fail "cargo-lambda is not on PATH after pip install cargo-lambda"
      fi
      if command -v rustup >/dev/null 2>&1; then
        rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
          || rustup target add aarch64-unknown-linux-gnu >&2 \
          || fail "the aarch64-unknown-linux-gnu Rust target (rustup target add aarch64-unknown-linux-gnu)"
      fi
      ;;
    checkov)
      if ! command -v checkov >/dev/null 2>&1; then
        echo "installing checkov (pip install checkov)" >&2
        pip_install checkov
        command -v checkov >/dev/null 2>&1 || fail "checkov is not on PATH after pip install checkov"
      fi
      ;;
    jsonschema)
      if ! command -v check-jsonschema >/dev/null 2>&1; then
        echo "installing check-jsonschema (pip install check-jsonschema)" >&2
        pip_install check-jsonschema
        command -v check-jsonschema >/dev/null 2>&1 || fail "check-jsonschema is not on PATH after pip install check-jsonschema"
      fi
      ;;
    *) fail "unknown tool '$need' (scripts/ensure-tools.sh)" ;;
  esac
done
