#!/usr/bin/env bash
# Benchmarks of the datalake capability (issue 9's figures). Not a test, not run by CI:
#   1. lines of handlers/datalake/src, tests excluded (scripts/count-lines.py)
#   2. release zips of datalake and messaging (cargo lambda build as `stackpro build` runs it)
#   3. the handler's own overhead, store excluded, in process (examples/ingest_overhead.rs):
#      a 100-record batch and a 100-record page; goal p99 <= 1 ms
#   4. 10,000 records through the served handler (`stackpro dev datalake` over a private
#      moto): ingest wall time and records/s, read back, export wall time and bytes
# Knobs: BENCH_RECORDS (10000), BENCH_BATCH (500), BENCH_REQUESTS (overhead samples, 5000).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL STACKPRO_JWT_SECRET
export AWS_EC2_METADATA_DISABLED=true
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "== 1. lines of handlers/datalake/src (tests excluded)"
python3 scripts/count-lines.py handlers/datalake/src | tail -n 1

echo "== 2. release zips (cargo lambda build --release, zig, x86_64-unknown-linux-gnu.2.17)"
lambda_target=${STACKPRO_LAMBDA_TARGET_DIR:-$HOME/.cache/stackpro-lambda-target-handlers}
for crate in datalake messaging; do
  start=$(date +%s)
  CARGO_TARGET_DIR="$lambda_target" cargo lambda build --release --locked --output-format zip \
    --target x86_64-unknown-linux-gnu.2.17 --skip-target-check -p "stackpro-$crate" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
  z=$(stat -c %s "$lambda_target/lambda/$crate/bootstrap.zip")
  echo "$crate: zip $z bytes ($(( z / 1024 )) KiB; goal <= 6 MB: $([ "$z" -le 6000000 ] && echo ok || echo OVER)); build $(( $(date +%s) - start )) s"
done

echo "== 3. the handler's own overhead, store excluded (release, in process)"
cargo run --quiet --release --locked -p stackpro-datalake --example ingest_overhead -- "${BENCH_REQUESTS:-5000}" >/dev/null

echo "== 4. ${BENCH_RECORDS:-10000} records through the served handler (stackpro dev datalake, private moto)"
moto_port=$(free_port)
setsid moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs -m 2 "http://127.0.0.1:$moto_port/moto-api/" >/dev/null && break; sleep 0.1; done
cargo build --quiet --locked -p stackpro
stackpro="${CARGO_TARGET_DIR:-target}/debug/stackpro"
dev_port=$(free_port)
setsid "$stackpro" dev datalake --env local --endpoint-url "http://127.0.0.1:$moto_port" --port "$dev_port" \
  >"$work/dev.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$dev_port/lambda-url/datalake"
for _ in $(seq 900); do curl -fs -m 2 -o /dev/null "$base/v1/health" && break; sleep 1; done
token=$(python3 scripts/dev-token.py --tenant bench --scope "datalake:read datalake:write")
python3 scripts/bench/datalake_ingest.py "$base" "$token" "${BENCH_RECORDS:-10000}" "${BENCH_BATCH:-500}"
