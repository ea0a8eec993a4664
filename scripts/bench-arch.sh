#!/usr/bin/env bash
# x86_64 against arm64 (Graviton) handler builds, as `stackpro build --arch` runs them
# (cargo lambda, release, zig, glibc 2.17). Not a test, not run by CI. For each
# architecture, one after the other on this machine:
#   1. a clean build of the capability's handler (an empty target directory),
#   2. an incremental build after touching the crate's lib.rs,
# and the zip's size. Knobs: BENCH_CAPABILITY (messaging). Each clean build takes many
# minutes on 2 cores and about 3 GB of disk in a temporary target directory.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
cap=${BENCH_CAPABILITY:-messaging}
cargo build --quiet --locked -p stackpro
stackpro="${CARGO_TARGET_DIR:-target}/debug/stackpro"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '%-8s %12s %10s %14s\n' arch "zip bytes" "clean s" "incremental s"
for arch in x86_64 arm64; do
  export STACKPRO_LAMBDA_TARGET_DIR="$work/target-$arch"
  start=$(date +%s)
  "$stackpro" build "$cap" --arch "$arch" --output json >"$work/clean.json" 2>"$work/clean.log" \
    || { cat "$work/clean.log" >&2; exit 1; }
  clean=$(( $(date +%s) - start ))
  touch "handlers/$cap/src/lib.rs"
  start=$(date +%s)
  "$stackpro" build "$cap" --arch "$arch" --output json >"$work/incremental.json" 2>"$work/incremental.log" \
    || { cat "$work/incremental.log" >&2; exit 1; }
  incremental=$(( $(date +%s) - start ))
  bytes=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["artifacts"][0]["zip_bytes"])' "$work/incremental.json")
  printf '%-8s %12s %10s %14s\n' "$arch" "$bytes" "$clean" "$incremental"
  rm -rf "$STACKPRO_LAMBDA_TARGET_DIR"
done
