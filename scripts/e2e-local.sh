#!/usr/bin/env bash
# The main job end to end on the local AWS emulator, no AWS account needed: the emulator
# target of scripts/e2e.sh (see there), which runs the very steps its AWS target runs.
# Kept under this name because the README's first command calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
STACKPRO_E2E_AWS=0 exec bash scripts/e2e.sh "$@"
