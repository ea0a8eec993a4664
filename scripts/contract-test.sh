#!/usr/bin/env bash
# Contract test of the locally served messaging API: `stackpro dev messaging` serves the
# handler on loopback (cargo lambda watch) against a private moto server on a free port,
# and schemathesis fuzzes it with handlers/messaging/openapi.yaml: no server errors, and
# no status code, content type or body outside the contract. Run by scripts/test.sh.
#   CONTRACT_MAX_EXAMPLES (default 25) bounds the examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
      AWS_ENDPOINT_URL AWS_REGION AWS_DEFAULT_REGION STACKPRO_JWT_SECRET
export AWS_EC2_METADATA_DISABLED=true

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

cargo build --quiet --locked -p stackpro
stackpro="${CARGO_TARGET_DIR:-target}/debug/stackpro"
dev_port=$(free_port)
setsid "$stackpro" dev messaging --env local --endpoint-url "http://127.0.0.1:$moto_port" \
  --port "$dev_port" >"$work/dev.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$dev_port/lambda-url/messaging"
echo "contract-test: waiting for $base/v1/health (cargo lambda watch builds the handler first)"
if ! wait_for "$base/v1/health" 900 "${pids[-1]}"; then
  cat "$work/dev.log" >&2
  exit 1
fi

token=$(python3 scripts/dev-token.py --tenant contract-test --role member)
# Schemathesis runs outside the project and keeps no example database: cargo lambda
# watch reloads the handler on any file change under the project (schemathesis writes
# .hypothesis/ in its working directory), which would cut requests in flight.
# Strings are ASCII, and the contract's Idempotency-Key has no pattern a fuzzer would
# violate with latin-1 bytes: cargo lambda watch itself answers 500 (text/plain, before
# the handler runs) to a header value that is not UTF-8, e.g. the bytes D7 F8 9B. The
# handler's own answer to non-ASCII header values (400) is tested in
# handlers/messaging/tests/it/api.rs.
status=0
schema="$PWD/handlers/messaging/openapi.yaml"
(cd "$work" && schemathesis run "$schema" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${CONTRACT_MAX_EXAMPLES:-25}" \
  --generation-with-security-parameters false \
  --generation-database none \
  --generation-codec ascii \
  --workers 1 --seed 4 --request-timeout 30 --no-color ${CONTRACT_REPORT:+--report har --report-dir "$CONTRACT_REPORT"}) || status=$?
mkdir -p .stackpro/contract-test && cp "$work/dev.log" .stackpro/contract-test/dev.log
if [ "$status" != 0 ]; then
  echo "contract-test: schemathesis found contract violations; the handler's log is .stackpro/contract-test/dev.log; its last lines:" >&2
  tail -n 30 "$work/dev.log" >&2
fi
exit "$status"
