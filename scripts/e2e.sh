#!/usr/bin/env bash
# The main job end to end, one code path for two targets:
#   - the local AWS emulator (default; no AWS account needed): moto on a free loopback port
#     (scripts/emulator.sh), dummy credentials;
#   - a real AWS account, only with STACKPRO_E2E_AWS=1 and credentials that work
#     (`stackpro doctor` must name the caller), and never with AWS_ENDPOINT_URL set.
# Only the target's setup differs (emulator start, or the credentials check); then both run
# the same steps in a throw-away environment `e2e-<random>` (an env file copied from
# envs/local.yaml, or envs/sandbox.yaml on AWS, removed at the end):
#   doctor, validate, build, bootstrap, deploy of every capability that has a handler crate,
#   status, deploy again (up to date), a canary (deploy --canary, promoted after its window),
#   a fast rollback, status, drift, destroy, status; then the tables, buckets and the
#   bootstrap stack that outlive the run are listed for deletion by hand.
# Where the emulator cannot do a step (drift detection), the step still runs and the
# emulator's answer, as stackpro reports it, is checked and said; see the README's Testing.
#
# Environment:
#   STACKPRO=/path/to/stackpro      use this binary instead of building one (debug)
#   STACKPRO_E2E_AWS=1              the real account target
#   STACKPRO_E2E_BASE_ENV=NAME      the env file the throw-away one is copied from
#                                   (default: local, or sandbox on AWS)
#   STACKPRO_E2E_CANARY=P%:D        the canary's traffic and window (default 50%:20s)
#   STACKPRO_LAMBDA_TARGET_DIR      the handlers' cargo build directory (stackpro build's)
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=local
[ "${STACKPRO_E2E_AWS:-0}" = 1 ] && TARGET=aws
START=$SECONDS
say() { echo "e2e[$TARGET] $(date -u +%H:%M:%S) $*" >&2; }
die() {
  say "FAILED: $*"
  exit 1
}
refuse() {
  say "refused: $*"
  exit 2
}

# 0. Refusals that need nothing installed.
if [ "$TARGET" = aws ]; then
  for var in $(compgen -e | grep '^AWS_ENDPOINT_URL' || true); do
    refuse "$var is set (${!var}): the AWS target talks to AWS itself; unset it, or drop STACKPRO_E2E_AWS=1 for the emulator"
  done
fi

bash scripts/setup.sh >&2
PY=.venv/bin/python
if [ -z "${STACKPRO:-}" ]; then
  cargo build --quiet --locked -p stackpro
  STACKPRO=${CARGO_TARGET_DIR:-target}/debug/stackpro
fi
[ -x "$STACKPRO" ] || refuse "STACKPRO=$STACKPRO is not an executable"
OUT=$(mktemp -d)
ENV_NAME=""
ENV_FILE=""
CAPS=()
DEPLOYED=()
FINISHED=0

# 1. The target's setup: the only part that differs.
if [ "$TARGET" = local ]; then
  BASE_ENV=${STACKPRO_E2E_BASE_ENV:-local}
  # The emulator accepts any credentials; never use real ones here.
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION
  PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  bash scripts/emulator.sh start "$PORT" >&2
  export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
  WHERE="the emulator at $AWS_ENDPOINT_URL"
else
  BASE_ENV=${STACKPRO_E2E_BASE_ENV:-sandbox}
  # Whoever the credentials are must be known before anything is created.
  if ! "$STACKPRO" doctor --env "$BASE_ENV" --output json >"$OUT/identity.json" 2>"$OUT/identity.err" ||
    ! $PY -c 'import json,sys; sys.exit(0 if (json.load(open(sys.argv[1])).get("identity") or {}).get("account") else 1)' "$OUT/identity.json"; then
    cat "$OUT/identity.err" >&2
    refuse "STACKPRO_E2E_AWS=1 needs working AWS credentials (a profile, SSO session or keys that STS accepts); stackpro doctor --env $BASE_ENV could not name the caller"
  fi
  WHERE="AWS account $($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["identity"]["account"])' "$OUT/identity.json")"
fi
[ -f "envs/$BASE_ENV.yaml" ] || refuse "envs/$BASE_ENV.yaml does not exist"

# The throw-away environment: a copy of the base env file under a fresh name.
ENV_NAME=${STACKPRO_E2E_ENV:-e2e-$($PY -c 'import secrets; print(secrets.token_hex(3))')}
ENV_FILE=envs/$ENV_NAME.yaml
[ -e "$ENV_FILE" ] && refuse "$ENV_FILE exists already: choose another STACKPRO_E2E_ENV"
sed -e "s/^\(  environment:\) .*/\1 $ENV_NAME/" "envs/$BASE_ENV.yaml" >"$ENV_FILE"

cleanup() {
  local rc=$?
  set +e
  if [ "$FINISHED" != 1 ] && [ "$TARGET" = aws ] && [ ${#DEPLOYED[@]} -gt 0 ]; then
    say "the run stopped early: destroying what it deployed in $ENV_NAME"
    local left=()
    for cap in "${DEPLOYED[@]}"; do
      "$STACKPRO" destroy "$cap" --env "$ENV_NAME" --yes >&2 || left+=("$cap")
    done
    if [ ${#left[@]} -gt 0 ]; then
      say "could not destroy ${left[*]}: $ENV_FILE is kept so that you can run"
      for cap in "${left[@]}"; do say "  $STACKPRO destroy $cap --env $ENV_NAME --yes"; done
      ENV_FILE=""
    fi
    say "and the bootstrap stack stackpro-bootstrap-$ENV_NAME with its bucket, and the retained tables, stay: see the list a successful run prints"
  fi
  [ -n "$ENV_FILE" ] && rm -f "$ENV_FILE"
  [ "$TARGET" = local ] && bash scripts/emulator.sh stop >/dev/null
  rm -rf "$OUT"
  exit "$rc"
}
trap cleanup EXIT

# Runs one step: `step NAME EXPECTED_EXIT stackpro-args...`; stdout (JSON) into $OUT/NAME.json,
# stderr to the terminal and $OUT/NAME.err. Fails the run on another exit code.
step() {
  local name=$1 want=$2 t=$SECONDS rc
  shift 2
  say "==> stackpro $*"
  set +e
  "$STACKPRO" "$@" 2>&1 >"$OUT/$name.json" | tee "$OUT/$name.err" >&2
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = "$want" ] || die "stackpro $* exited $rc, expected $want"
  say "    $name: exit $rc in $((SECONDS - t)) s"
}
# Evaluates a Python expression over the JSON lines of a step: `lines` (all objects),
# `summary` (the last one, or the only document); prints the result, fails on False.
check() {
  local name=$1 what=$2 expr=$3
  $PY - "$OUT/$name.json" "$expr" <<'PY' || die "$name: $what"
import json, sys
text = open(sys.argv[1]).read().strip()
try:  # one document, or one object per line (the streams: deploy, rollback, destroy)
    lines = [json.loads(text)]
except ValueError:
    try:
        lines = [json.loads(l) for l in text.splitlines() if l.strip()]
    except ValueError as e:
        sys.exit(f"not JSON: {e}")
summary = lines[-1] if lines else {}
result = eval(sys.argv[2])
if result is False or result is None:
    sys.exit(1)
if result is not True:
    print(result)
PY
}

say "target: $WHERE; throw-away environment $ENV_NAME (from envs/$BASE_ENV.yaml)"

# 2. The environment as the credentials see it, and every template linted.
step doctor 0 doctor --env "$ENV_NAME" --output json
step validate 0 validate --env "$ENV_NAME"

# 3. Build the handler crates that exist (cargo-lambda, release, glibc 2.17 target).
step build 0 build --env "$ENV_NAME" --output json
mapfile -t CAPS < <(check build "no artifacts" '"\n".join(a["capability"] for a in summary["artifacts"]) or None')
say "built ${CAPS[*]}"

# 4. The artifact bucket, then every capability, then the gate.
step bootstrap 0 bootstrap --env "$ENV_NAME"
DEPLOYED=("${CAPS[@]}")
step deploy 0 deploy "${CAPS[@]}" --env "$ENV_NAME" --no-build --yes --output json
check deploy "not every capability was created" \
  'all(c["success"] and c["decision"] == "create" for c in summary["capabilities"]) and len(summary["capabilities"]) == '"${#CAPS[@]}"
step status 0 status "${CAPS[@]}" --env "$ENV_NAME" --output json

# 5. Nothing changed: the second deploy answers "up to date" without a change set.
step redeploy 0 deploy "${CAPS[@]}" --env "$ENV_NAME" --no-build --yes --output json
check redeploy "a deploy of nothing new was not up to date" \
  'all(c["decision"] == "up_to_date" for c in summary["capabilities"])'

# 6. A canary: a new configuration (memory doubled in the env file) makes a new version,
#    which gets part of the traffic while the alarms are watched, then all of it.
$PY - "$ENV_FILE" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
new, n = re.subn(r"^(  memory_mb:) (\d+)", lambda m: f"{m.group(1)} {int(m.group(2)) * 2}", text, count=1, flags=re.M)
if n != 1:
    sys.exit(f"no lambda.memory_mb in {path}")
open(path, "w").write(new)
PY
step canary 0 deploy "${CAPS[@]}" --env "$ENV_NAME" --no-build --yes --canary "${STACKPRO_E2E_CANARY:-50%:20s}" --output json
check canary "a canary was not started and promoted for every capability" \
  'all(c["success"] and ((c.get("canary") or {}).get("verdict") or {}).get("verdict") == "healthy" for c in summary["capabilities"])'
check canary "promoted versions" \
  '" ".join(c["capability"] + "=" + c["canary"]["stable"] + "->" + c["canary"]["canary"] for c in summary["capabilities"])' >&2

# 7. A fast rollback of each capability: the live alias back on the version before.
for cap in "${CAPS[@]}"; do
  step "rollback-$cap" 0 rollback "$cap" --env "$ENV_NAME" --yes --output json
  check "rollback-$cap" "$cap was not rolled back to an earlier version" \
    'summary["action"] == "alias" and int(summary["to_version"]) < int(summary["from_version"])'
done
step status-after-rollback 0 status "${CAPS[@]}" --env "$ENV_NAME" --output json

# 8. Drift. Nothing was changed by hand, so every stack must be in sync; the emulator does
#    not implement drift detection (DetectStackDrift answers HTTP 500), which stackpro
#    reports as such: that answer, and only that one, is accepted on the emulator.
say "==> stackpro drift ${CAPS[*]} --env $ENV_NAME --output json"
rc=0
"$STACKPRO" drift "${CAPS[@]}" --env "$ENV_NAME" --output json >"$OUT/drift.json" 2>"$OUT/drift.err" || rc=$?
cat "$OUT/drift.err" >&2
if [ "$rc" = 0 ]; then
  check drift "a stack is not in sync" 'not summary["drifted"]'
  say "    drift: every stack in sync"
elif [ "$TARGET" = local ] && [ "$rc" = 1 ] && grep -q "does not implement this call" "$OUT/drift.err"; then
  say "    drift: not available on the emulator (it does not implement DetectStackDrift; README, Testing): stackpro said so and exited 1"
else
  die "stackpro drift exited $rc"
fi

# 9. Destroy every capability; their tables and buckets are retained by design.
RETAINED=()
for cap in "${CAPS[@]}"; do
  step "destroy-$cap" 0 destroy "$cap" --env "$ENV_NAME" --yes --output json
  check "destroy-$cap" "$cap's stack was not deleted" 'summary["action"] == "deleted"'
  mapfile -t -O ${#RETAINED[@]} RETAINED < <(check "destroy-$cap" "no retained list" \
    '"\n".join(["table " + t for t in summary["retained_tables"]] + ["bucket " + b for b in summary["retained_buckets"]]) or True')
done
DEPLOYED=()
step status-after-destroy 0 status "${CAPS[@]}" --env "$ENV_NAME" --output json

FINISHED=1
REGION=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["region"])' "$OUT/doctor.json")
say "done in $((SECONDS - START)) s on $WHERE: ${CAPS[*]} deployed, canary promoted, rolled back, drift checked, destroyed"
say "left in $ENV_NAME (kept by design; delete them by hand when no longer wanted):"
for r in "${RETAINED[@]}"; do
  case $r in
    table\ *) say "  ${r}: aws dynamodb delete-table --region $REGION --table-name ${r#table }" ;;
    bucket\ *) say "  ${r}: aws s3 rb --region $REGION --force s3://${r#bucket }" ;;
  esac
done
say "  bootstrap stack stackpro-bootstrap-$ENV_NAME and its versioned artifact bucket (retained): empty the bucket (every version), then aws cloudformation delete-stack --region $REGION --stack-name stackpro-bootstrap-$ENV_NAME and delete the bucket"
say "  deployment records and flags in SSM under /stackpro/$ENV_NAME/: aws ssm get-parameters-by-path --region $REGION --recursive --path /stackpro/$ENV_NAME/ (then delete-parameters)"
[ "$TARGET" = local ] && say "  (on the emulator all of it goes with the emulator, stopped now)"
