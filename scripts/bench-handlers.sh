#!/usr/bin/env bash
# Benchmarks of the messaging handler. Not a test, and not run by CI. Prints:
#   1. the release zip (cargo lambda build exactly as `stackpro build` runs it); goal <= 6 MB
#   2. cold init of that bootstrap binary to its first served request (scripts/bench/cold_init.py)
#   3. p50/p99 and requests/s of the served handler under a bounded loopback load: wrk
#      (fixed connections and duration) -> cargo lambda watch's Lambda emulator -> the
#      release bootstrap binary -> a private moto server
#   4. the handler's own overhead without the store (examples/overhead.rs, built in release
#      with the crate's dev-dependencies: the first run compiles for several minutes); goal p99 <= 1 ms
# Knobs: BENCH_DURATION (seconds of load, 20), BENCH_CONNECTIONS (8), BENCH_RUNS (cold inits, 10).
set -euo pipefail
cd "$(dirname "$0")/.."

STACKPRO_SETUP_BENCH=1 bash scripts/setup.sh >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL STACKPRO_JWT_SECRET
export AWS_EC2_METADATA_DISABLED=true
duration=${BENCH_DURATION:-20}
connections=${BENCH_CONNECTIONS:-8}
runs=${BENCH_RUNS:-10}

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
  --target x86_64-unknown-linux-gnu.2.17 --skip-target-check -p stackpro-messaging >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
zip="$lambda_target/lambda/messaging/bootstrap.zip"
unzip -o -q "$zip" -d "$work/lambda"
bootstrap="$work/lambda/bootstrap"
zip_bytes=$(stat -c %s "$zip")
python3 - "$zip_bytes" "$(stat -c %s "$bootstrap")" "$(( $(date +%s) - start ))" <<'PY'
import sys
z, b, t = map(int, sys.argv[1:])
print(f"zip {z} bytes ({z / 2**20:.2f} MiB, goal <= 6 MB: {'ok' if z <= 6_000_000 else 'OVER'}); "
      f"bootstrap {b / 2**20:.2f} MiB; build {t} s")
PY

echo "== emulator and table"
moto_port=$(free_port)
setsid moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
for _ in $(seq 100); do curl -fs -m 2 "http://127.0.0.1:$moto_port/moto-api/" >/dev/null && break; sleep 0.1; done
cargo build --quiet --locked -p stackpro
stackpro="${CARGO_TARGET_DIR:-target}/debug/stackpro"
# The handler's environment, exactly as `stackpro dev` gives it (the deployed stack's variables).
"$stackpro" dev messaging --env local --endpoint-url "http://127.0.0.1:$moto_port" --dry-run --output json \
  | python3 -c 'import json, sys; [print(f"export {k}={v!r}") for k, v in json.load(sys.stdin)["served"][0]["environment"].items()]' \
  > "$work/env.sh"
# shellcheck disable=SC1091
source "$work/env.sh"
python3 - "$STACKPRO_TABLE_THREADS" <<'PY'
import sys, boto3
boto3.client("dynamodb").create_table(
    TableName=sys.argv[1], BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
PY
token=$(python3 scripts/dev-token.py --tenant bench)

echo "== 2. cold init (the release bootstrap, $runs runs)"
python3 scripts/bench/cold_init.py "$bootstrap" handlers/messaging/tests/fixtures/health.json "$runs"

echo "== 3. served handler under load (wrk -c $connections -d ${duration}s, one Lambda instance)"
watch_port=$(free_port)
setsid cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P "$watch_port" >"$work/watch.log" 2>&1 &
pids+=($!)
python3 -c 'import socket, sys, time
for _ in range(300):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close(); break
    except OSError:
        time.sleep(0.1)' "$watch_port"
AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$watch_port/.rt" AWS_LAMBDA_FUNCTION_NAME=_ \
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 AWS_LAMBDA_FUNCTION_VERSION='$LATEST' RUST_LOG=warn \
  setsid "$bootstrap" >"$work/bootstrap.log" 2>&1 &
pids+=($!)
# With --only-lambda-apis, cargo lambda routes every URL invocation to the function "_".
base="http://127.0.0.1:$watch_port/lambda-url/_"
for _ in $(seq 100); do curl -fs -m 2 -o /dev/null "$base/v1/health" && break; sleep 0.1; done
for i in $(seq 20); do
  curl -fsS -m 10 -o /dev/null -X POST -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"title\": \"thread $i\"}" "$base/v1/threads"
done
wrk -t2 -c"$connections" -d"${duration}s" --timeout 10s --latency -H "Authorization: Bearer $token" \
  "$base/v1/threads?limit=20" > "$work/wrk.txt"
grep -E "Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors|requests in" "$work/wrk.txt"

echo "== 4. the handler's own overhead, store excluded (release, in process)"
cargo run --quiet --release --locked -p stackpro-messaging --example overhead -- 20000 >/dev/null
