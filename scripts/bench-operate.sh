#!/usr/bin/env bash
# Measures what the operate issue sets goals for, on a release build against a private
# emulator on loopback (not a test: it prints figures and exits 0):
#   - tail latency: from an event put into a capability's log group to its line printed
#     by a running `stackpro tail --follow` (goal: at most 2 s)
#   - fast rollback: wall time of `stackpro rollback messaging` after two deploys
#     (goal: at most 2 s on the emulator)
# Usage: bash scripts/bench-operate.sh   (EVENTS=20 ROLLBACKS=10 to change the counts)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
export CARGO_TARGET_DIR=${STACKPRO_RELEASE_TARGET_DIR:-$HOME/.cache/stackpro-release-target}
BIN=${STACKPRO_BIN:-$(bash scripts/build-release.sh)}

export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_ENDPOINT_URL
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WORK=$(mktemp -d)
export STACKPRO_EMULATOR_STATE=$WORK/emulator
bash scripts/emulator.sh start "$PORT" >/dev/null
trap 'bash scripts/emulator.sh stop >/dev/null; rm -rf "$WORK"' EXIT
ENDPOINT=http://127.0.0.1:$PORT

# A copy of the project's configuration with a handler zip per capability.
PROJECT=$WORK/project
mkdir -p "$PROJECT/handlers"
cp -r envs templates dashboards "$PROJECT/"
for cap in handlers/*/capability.yaml; do
  mkdir -p "$PROJECT/$(dirname "$cap")"; cp "$cap" "$PROJECT/$cap"
done

BIN="$BIN" PROJECT="$PROJECT" ENDPOINT="$ENDPOINT" EVENTS=${EVENTS:-20} ROLLBACKS=${ROLLBACKS:-10} \
  .venv/bin/python - <<'PY'
import json, os, statistics, subprocess, threading, time, zipfile, queue
import boto3

BIN, PROJECT, ENDPOINT = os.environ["BIN"], os.environ["PROJECT"], os.environ["ENDPOINT"]
EVENTS, ROLLBACKS = int(os.environ["EVENTS"]), int(os.environ["ROLLBACKS"])
common = ["--project-dir", PROJECT, "--endpoint-url", ENDPOINT]

def sp(*args):
    r = subprocess.run([BIN, *args, *common], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"stackpro {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r

def zips(version):
    for cap in os.listdir(f"{PROJECT}/handlers"):
        d = f"{PROJECT}/.stackpro/lambda/{cap}"
        os.makedirs(d, exist_ok=True)
        with zipfile.ZipFile(f"{d}/bootstrap.zip", "w") as z:
            z.writestr("bootstrap", f"#!/bin/sh\n# {cap} {version}\n")

# --- fast rollback ------------------------------------------------------------
zips("1")
sp("bootstrap", "--env", "local")
sp("deploy", "messaging", "--env", "local", "--no-build", "--yes")
zips("2")
sp("deploy", "messaging", "--env", "local", "--no-build", "--yes")
rollbacks = []
for _ in range(ROLLBACKS):
    t = time.monotonic()
    sp("rollback", "messaging", "--env", "local", "--yes")
    rollbacks.append(time.monotonic() - t)
    sp("deploy", "messaging", "--env", "local", "--no-build", "--yes")  # back to the new version

# --- tail latency -------------------------------------------------------------
logs = boto3.client("logs", endpoint_url=ENDPOINT, region_name="us-east-1")
group = "/aws/lambda/stackpro-messaging-local"
# The stack made the group; the bench writes a stream of its own.
logs.create_log_stream(logGroupName=group, logStreamName="bench")
tail = subprocess.Popen([BIN, "tail", "messaging", "--env", "local", "--follow", "--since", "1m",
                         "--output", "raw", *common], stdout=subprocess.PIPE, text=True)
lines = queue.Queue()
threading.Thread(target=lambda: [lines.put((time.monotonic(), l)) for l in tail.stdout], daemon=True).start()
time.sleep(2)
latencies = []
for i in range(EVENTS):
    marker = f"bench-event-{i}"
    logs.put_log_events(logGroupName=group, logStreamName="bench",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps({"level": "info", "message": marker})}])
    put = time.monotonic()
    while True:
        seen, line = lines.get(timeout=30)
        if marker in line:
            latencies.append(seen - put)
            break
    time.sleep(0.37 * (i % 5))  # events at uneven gaps: flowing and idle polls both
tail.terminate(); tail.wait()

def row(name, xs, goal):
    xs = sorted(xs)
    p50 = statistics.median(xs); worst = xs[-1]
    print(f"| {name} | {len(xs)} | {p50*1000:.0f} ms | {statistics.mean(xs)*1000:.0f} ms | {worst*1000:.0f} ms | {goal} | {'PASS' if worst <= 2.0 else 'FAIL'} |")

print("| figure | runs | median | mean | max | goal | verdict (max) |")
print("|---|---|---|---|---|---|---|")
row("tail: event put -> line printed", latencies, "<= 2 s")
row("fast rollback wall time", rollbacks, "<= 2 s")
PY
