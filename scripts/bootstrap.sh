#!/usr/bin/env bash
# Set up everything the demo and the tests need, on a fresh Debian machine or a developer's.
# Idempotent: each step is skipped when already done. Usage: scripts/bootstrap.sh [demo|test]
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-test}"

apt_packages=()
need() { command -v "$1" >/dev/null 2>&1 || apt_packages+=("$2"); }
need python3 python3
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_packages+=(python3-venv)
if [ "$purpose" = "test" ]; then
  need redis-server redis-server
  need chromium chromium
  need zbarimg zbar-tools
fi
if [ "${#apt_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing ${apt_packages[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
  else
    echo "bootstrap: please install: ${apt_packages[*]} (needs root and apt-get)" >&2
    [ "$purpose" = "demo" ] && exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  # PYTHONWARNINGS: setuptools' notice about editable installs is not ours to act on
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q --upgrade pip
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e '.[test]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# The pages' translations: the repository has the .po catalogues, Flask-Babel reads compiled .mo
# files. A wheel compiles them as it is built (setup.py); this checkout compiles them here, every
# time, so an edited catalogue is never served stale.
for package in portal devidp; do
  .venv/bin/pybabel -q compile -d "$package/translations"
done

# The interop provider's pinned packages, installed with the Node.js of the test extra. That
# Node.js knows only its own CA list; like Debian's, it should trust the system's too.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
if [ "$purpose" = "test" ] && [ ! -d tests/interop/provider/node_modules/oidc-provider ]; then
  (cd tests/interop/provider && PATH="$PWD/../../../.venv/bin:$PATH" npm ci --no-audit --no-fund --loglevel=error)
fi
