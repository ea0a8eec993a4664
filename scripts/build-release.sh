#!/usr/bin/env bash
# Builds the release `stackpro` binary the way it ships, and prints its path.
#
# A plain `cargo build --release`: the binary is a position-independent executable with
# full RELRO and a non-executable stack, as rustc links it by default, so the platform's
# hardening (ASLR for its own code too) covers a process that holds AWS credentials.
# (It was once linked position-dependent to save ~1.3 ms of relocations at start-up;
# `tests/tests/it/hardening.rs` now checks what rustc gives, with checksec.)
#
# Usage: bash scripts/build-release.sh   (CARGO_TARGET_DIR as usual; default
#        ~/.cache/stackpro-release-target, apart from the debug builds of the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/stackpro-release-target}
cargo build --quiet --release --locked -p stackpro --bin stackpro >&2
echo "$CARGO_TARGET_DIR/release/stackpro"
