#!/usr/bin/env bash
# Contract test of every locally served capability. Each capability with a handler crate
# (handlers/<cap>/Cargo.toml) and a contract (handlers/<cap>/openapi.yaml) is served by
# `stackpro dev` (cargo lambda watch, one loopback port each) against a private moto
# server, and schemathesis checks it against the contract. Run by scripts/test.sh.
#   By default every check (--checks all), every phase (examples, coverage, fuzzing,
#     stateful) and 100 examples per operation. CONTRACT_QUICK=1: the four conformance
#     checks, no stateful phase, 25 examples (a quicker local loop).
#     CONTRACT_CHECKS, CONTRACT_PHASES, CONTRACT_MAX_EXAMPLES override either.
#   CONTRACT_CAPABILITIES="messaging ...": only these (default: every one found).
#   CONTRACT_SEED (default 4): the generation seed, so a failure can be replayed.
# Each capability's report (JUnit, the run's ndjson events) and the handlers' log land in
# .stackpro/contract-test/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/setup.sh >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
      AWS_ENDPOINT_URL AWS_REGION AWS_DEFAULT_REGION STACKPRO_JWT_SECRET
export AWS_EC2_METADATA_DISABLED=true

caps=()
if [ -n "${CONTRACT_CAPABILITIES:-}" ]; then
  read -r -a caps <<<"$CONTRACT_CAPABILITIES"
else
  for contract in handlers/*/openapi.yaml; do
    dir=$(dirname "$contract")
    if [ -f "$dir/Cargo.toml" ] && [ -f "$dir/capability.yaml" ]; then
      caps+=("$(basename "$dir")")
    fi
  done
fi
if [ ${#caps[@]} = 0 ]; then
  echo "contract-test: no capability has both a crate and an openapi.yaml under handlers/" >&2
  exit 1
fi
echo "contract-test: ${caps[*]}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # URL SECONDS [PID]: until URL answers 200 (giving up if PID exits)
  python3 - "$1" "$2" "${3:-}" <<'PY'
import os, sys, time, urllib.request
url, deadline, pid = sys.argv[1], time.time() + float(sys.argv[2]), sys.argv[3]
while time.time() < deadline:
    if pid:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            sys.exit(f"the server (pid {pid}) exited before {url} answered")
    try:
        if urllib.request.urlopen(url, timeout=5).status == 200:
            sys.exit(0)
    except Exception:
        pass
    time.sleep(1)
sys.exit(f"{url} did not answer within {sys.argv[2]} s")
PY
}

work=$(mktemp -d)
pids=()
cleanup() {
  # Only the process groups this script started (each was started with setsid).
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

moto_port=$(free_port)
setsid moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$moto_port/moto-api/" 30

# The ai capability's model, locally an OpenAI-compatible chat-completions server: one
# on loopback that answers at once (schemathesis checks the handler, not a model), handed
# to `stackpro dev` as the setting's override.
model_port=$(free_port)
setsid python3 scripts/model-server.py "$model_port" >"$work/model.log" 2>&1 &
pids+=($!)
export STACKPRO_SETTING_OPENAI_BASE_URL="http://127.0.0.1:$model_port/v1"

cargo build --quiet --locked -p stackpro
stackpro="${CARGO_TARGET_DIR:-target}/debug/stackpro"
dev_port=$(free_port)
dev=("$stackpro" dev "${caps[@]}" --env local --endpoint-url "http://127.0.0.1:$moto_port" --port "$dev_port")
# Where each capability is served, as `stackpro dev` itself says.
"${dev[@]}" --dry-run --output json >"$work/plan.json"
setsid "${dev[@]}" >"$work/dev.log" 2>&1 &
pids+=($!)
out=.stackpro/contract-test
rm -rf "$out" && mkdir -p "$out"

if [ "${CONTRACT_QUICK:-0}" = 1 ]; then
  checks=${CONTRACT_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}
  phases=${CONTRACT_PHASES:-examples,coverage,fuzzing}
  examples=${CONTRACT_MAX_EXAMPLES:-25}
else
  checks=${CONTRACT_CHECKS:-all}
  phases=${CONTRACT_PHASES:-examples,coverage,fuzzing,stateful}
  examples=${CONTRACT_MAX_EXAMPLES:-100}
fi
status=0
for cap in "${caps[@]}"; do
  base=$(python3 -c 'import json, sys; print(next(s["url"] for s in json.load(open(sys.argv[1]))["served"] if s["capability"] == sys.argv[2]))' "$work/plan.json" "$cap")
  echo "contract-test: $cap: waiting for $base/v1/health (cargo lambda watch builds the handler first)"
  if ! wait_for "$base/v1/health" 900 "${pids[-1]}"; then
    cat "$work/dev.log" >&2
    exit 1
  fi
  # Requests reach the function as API Gateway's HTTP API passes them (a body that is
  # not UTF-8 text arrives base64-encoded), through scripts/local-gateway.py and the
  # Lambda Invoke API of cargo lambda watch: its own function URLs answer such a body
  # 500 text/plain themselves, before the function runs.
  gateway_port=$(free_port)
  binary=$(python3 -c 'import json, sys; print(next(s["binary"] for s in json.load(open(sys.argv[1]))["served"] if s["capability"] == sys.argv[2]))' "$work/plan.json" "$cap")
  setsid python3 scripts/local-gateway.py --port "$gateway_port" --function "$binary" \
    --function-url "${base%%/lambda-url/*}" >"$work/gateway-$cap.log" 2>&1 &
  pids+=($!)
  gateway="http://127.0.0.1:$gateway_port"
  wait_for "$gateway/v1/health" 60 "${pids[-1]}"

  # Admin where the contract has admin routes (so they are exercised, not only refused).
  role=member
  if grep -q 'x-stackpro-access: admin' "handlers/$cap/openapi.yaml"; then role=admin; fi
  token=$(python3 scripts/dev-token.py --tenant contract-test --role "$role" --scope "$cap:read $cap:write")
  # Schemathesis runs outside the project and keeps no example database: cargo lambda
  # watch reloads the handler on any file change under the project (schemathesis writes
  # .hypothesis/ in its working directory), which would cut requests in flight.
  # Strings are ASCII (--generation-codec): HTTP header values outside it are refused by
  # the HTTP layers in between, not by the handler (whose answer, 400, is tested in the
  # capability's own tests).
  mkdir -p "$out/$cap"
  (cd "$work" && schemathesis run "$root/handlers/$cap/openapi.yaml" \
    --url "$gateway" \
    --header "Authorization: Bearer $token" \
    --checks "$checks" \
    --phases "$phases" \
    --max-examples "$examples" \
    --continue-on-failure \
    --generation-with-security-parameters false \
    --generation-database none \
    --generation-codec ascii \
    --workers 1 --seed "${CONTRACT_SEED:-4}" --request-timeout 30 --no-color \
    --report junit,ndjson --report-dir "$root/$out/$cap") || status=$?
done
cp "$work/dev.log" "$out/dev.log"
if [ "$status" != 0 ]; then
  echo "contract-test: schemathesis found contract violations; the handlers' log is $out/dev.log; its last lines:" >&2
  tail -n 30 "$work/dev.log" >&2
fi
exit "$status"
