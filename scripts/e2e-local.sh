#!/usr/bin/env bash
# The main job end to end on the local AWS emulator, no AWS account needed:
# installs the pinned tools, builds stackpro, starts moto on a free loopback port,
# checks the environment (credentials, endpoint, account), and renders and lints every
# capability's stack. (Deploying comes with `stackpro deploy`, issue #3.)
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
"$STACKPRO" render --all --env local
# Deploying the rendered stacks is `stackpro deploy` (issue #3); until it lands, the
# emulator test `cargo test -p stackpro-tests emulator` deploys them with the SDK.
echo "e2e-local: rendered, linted and checked every capability against the emulator at $AWS_ENDPOINT_URL"
