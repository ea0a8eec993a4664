#!/usr/bin/env bash
# The main job end to end on the local AWS emulator, no AWS account needed:
# installs the pinned tools, builds stackpro and the handler crates (cargo-lambda, zig),
# starts moto on a free loopback port, checks the environment, lints every template,
# bootstraps the artifact bucket, deploys every capability that has a handler crate,
# shows their status, and deploys again to show the no-op path.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --quiet --locked -p stackpro
STACKPRO=${CARGO_TARGET_DIR:-target}/debug/stackpro

# The emulator accepts any credentials; never use real ones here.
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION

PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bash scripts/emulator.sh start "$PORT"
trap 'bash scripts/emulator.sh stop >/dev/null' EXIT
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT

"$STACKPRO" doctor --env local
"$STACKPRO" validate --env local

# Build the handler crates that exist (cargo-lambda, release, glibc 2.17 target).
build_json=$(mktemp)
"$STACKPRO" build --output json > "$build_json"
mapfile -t CAPS < <(.venv/bin/python -c 'import json,sys; [print(a["capability"]) for a in json.load(open(sys.argv[1]))["artifacts"]]' "$build_json")
rm -f "$build_json"
echo "e2e-local: built ${CAPS[*]}"

"$STACKPRO" bootstrap --env local
"$STACKPRO" deploy "${CAPS[@]}" --env local --no-build --yes
"$STACKPRO" status "${CAPS[@]}" --env local
# Nothing changed: the second deploy answers "up to date" without a change set.
"$STACKPRO" deploy "${CAPS[@]}" --env local --no-build --yes
echo "e2e-local: built, deployed and checked ${CAPS[*]} on the emulator at $AWS_ENDPOINT_URL"
