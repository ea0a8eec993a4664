#!/usr/bin/env bash
# Benchmarks of the ai handler. Not a test, and not run by CI. Prints:
#   1. the release zip (cargo lambda build exactly as `stackpro build` runs it); goal <= 6 MB
#   2. cold init of that bootstrap binary to its first answered model request
#      (scripts/bench/cold_init.py: a loopback Lambda Runtime API, a private moto for the
#      tables, a loopback OpenAI-compatible model server that answers at once)
#   3. DynamoDB calls per request, counted by an interceptor on the handler's own client
#      (examples/dynamodb_calls.rs, over a private moto); goal: <= 2 besides the cache read
#   4. the handler's own overhead without the store or the model (examples/request_overhead.rs,
#      release, in process); goal p99 <= 1 ms
# Knobs: BENCH_RUNS (cold inits, 10), BENCH_REQUESTS (overhead requests per route, 20000).
set -euo pipefail
cd "$(dirname "$0")/.."

STACKPRO_SETUP_BENCH=1 bash scripts/setup.sh >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL STACKPRO_JWT_SECRET
export AWS_EC2_METADATA_DISABLED=true
runs=${BENCH_RUNS:-10}
requests=${BENCH_REQUESTS:-20000}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "== 1. release zip (cargo lambda build --release, zig, x86_64-unknown-linux-gnu.2.17)"
lambda_target=${STACKPRO_LAMBDA_TARGET_DIR:-$HOME/.cache/stackpro-lambda-target-handlers}
start=$(date +%s)
CARGO_TARGET_DIR="$lambda_target" cargo lambda build --release --locked --output-format zip \
  --target x86_64-unknown-linux-gnu.2.17 --skip-target-check -p stackpro-ai >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
zip="$lambda_target/lambda/ai/bootstrap.zip"
unzip -o -q "$zip" -d "$work/lambda"
bootstrap="$work/lambda/bootstrap"
python3 - "$(stat -c %s "$zip")" "$(stat -c %s "$bootstrap")" "$(( $(date +%s) - start ))" <<'PY'
import sys
z, b, t = map(int, sys.argv[1:])
print(f"zip {z} bytes ({z / 2**20:.2f} MiB, goal <= 6 MB: {'ok' if z <= 6_000_000 else 'OVER'}); "
      f"bootstrap {b / 2**20:.2f} MiB; build {t} s")
PY

echo "== emulator, tables, model server"
moto_port=$(free_port)
setsid moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
for _ in $(seq 100); do curl -fs -m 2 "http://127.0.0.1:$moto_port/moto-api/" >/dev/null && break; sleep 0.1; done
model_port=$(free_port)
# An OpenAI-compatible chat-completions server that answers at once (the model's own time
# is not the handler's).
setsid python3 scripts/model-server.py "$model_port" >"$work/model.log" 2>&1 &
pids+=($!)
cargo build --quiet --locked -p stackpro
stackpro="${CARGO_TARGET_DIR:-target}/debug/stackpro"
# The handler's environment, exactly as `stackpro dev` gives it (the deployed stack's variables).
"$stackpro" dev ai --env local --endpoint-url "http://127.0.0.1:$moto_port" --dry-run --output json \
  | python3 -c 'import json, sys; [print(f"export {k}={v!r}") for k, v in json.load(sys.stdin)["served"][0]["environment"].items()]' \
  > "$work/env.sh"
# shellcheck disable=SC1091
source "$work/env.sh"
export STACKPRO_SETTING_OPENAI_BASE_URL="http://127.0.0.1:$model_port/v1" STACKPRO_SETTING_CACHE_TTL_SECONDS=0
python3 - "$STACKPRO_TABLE_REQUESTS" "$STACKPRO_TABLE_QUOTAS" <<'PY'
import sys, boto3
for name in sys.argv[1:]:
    boto3.client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
PY
token=$(python3 scripts/dev-token.py --tenant bench --scope "ai:read ai:write")
python3 - "$token" > "$work/ask.json" <<'PY'
import json, sys
event = json.load(open("handlers/messaging/tests/fixtures/health.json"))
body = json.dumps({"prompt": "Say ok.", "max_tokens": 16})
event.update(routeKey="POST /v1/requests", rawPath="/v1/requests", body=body)
event["headers"]["authorization"] = f"Bearer {sys.argv[1]}"
event["headers"]["content-length"] = str(len(body))
event["requestContext"].update(routeKey="POST /v1/requests")
event["requestContext"]["http"].update(method="POST", path="/v1/requests")
print(json.dumps(event))
PY

echo "== 2. cold init to the first answered request (the release bootstrap, $runs runs)"
python3 scripts/bench/cold_init.py "$bootstrap" "$work/ask.json" "$runs"

echo "== 3. DynamoDB calls per request (interceptor on the handler's client, private moto)"
cargo run --quiet --locked -p stackpro-ai --example dynamodb_calls >/dev/null

echo "== 4. the handler's own overhead, store and model excluded (release, in process)"
cargo run --quiet --release --locked -p stackpro-ai --example request_overhead -- "$requests" >/dev/null
