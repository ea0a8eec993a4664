#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the pinned tools (.venv), then
#   cargo fmt --check, cargo clippy -D warnings, every test (the emulator tests start
#   their own moto servers on loopback), the short fault-injection suite (stackpro through
#   scripts/fault-proxy.py in front of its own moto), schemathesis against every locally
#   served capability (ai with a loopback model server), cfn-lint and checkov over every rendered template, and the committed
#   client SDKs against the contracts (stackpro sdk check).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# Tests never see the caller's AWS identity or endpoints.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
      AWS_ENDPOINT_URL AWS_REGION AWS_DEFAULT_REGION
export AWS_EC2_METADATA_DISABLED=true

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked
echo "==> fault injection, short form (scripts/fault-suite.py --short)"
cargo build --workspace --locked --quiet
.venv/bin/python scripts/fault-suite.py --short
echo "==> schemathesis against every locally served capability (scripts/contract-test.sh)"
bash scripts/contract-test.sh
echo "==> cfn-lint and checkov over every rendered template (stackpro validate)"
cargo run --quiet --locked -p stackpro -- validate
echo "==> the committed client SDKs are what the contracts generate (stackpro sdk check)"
cargo run --quiet --locked -p stackpro -- sdk check
