#!/usr/bin/env python3
"""Fault injection: runs stackpro's commands through scripts/fault-proxy.py in front of a
private moto server and checks that each one ends converged or with a clear error.

Usage: python3 scripts/fault-suite.py [--short | --full] [--bin PATH] [--keep]
  --short   the form scripts/test.sh runs (about 3 minutes on 2 cores)
  --full    (default) every fault x every command, stackpro killed (SIGINT, then
            SIGKILL) at several points of a deploy, and the emulator killed mid-deploy
  --bin     the stackpro binary (default: $CARGO_TARGET_DIR/debug/stackpro, else
            target/debug/stackpro; build it first with `cargo build --workspace`)
  --only    run only the cells whose label contains this text (for a quick loop)
  --keep    leave the scratch directory (project copy, logs) for a look afterwards
Standard library only. Loopback only: a scratch copy of the project (its envs,
templates, dashboards and capability files, with stand-in handler zips) whose `local`
environment points at the proxy, moto on a free 127.0.0.1 port behind it, dummy
credentials. Nothing reaches AWS.

For each fault x command it records the exit code, the wall time and the first error
line, and checks:
  - the outcome: a fault the SDK's retries absorb (a burst of two) ends in exit 0; a
    lasting one ends in exit 1 (README "Exit codes": an AWS call that failed, an endpoint
    that does not answer) with an `error:` line that names the service, the operation,
    the endpoint or the object; never a panic, never past the time limit (a hung call:
    30 s, README "Time limits": 25 s per call that is not a wait on a stack operation);
  - convergence: the fault cleared, a failed command is run again and must succeed; then
    the emulator's state (stack status and outputs, the live alias's version and weights,
    the function's published versions and their code, the deployment records in SSM with
    their kinds and versions, the flags in SSM) must equal what the same command leaves
    on a fault-free run. moto keeps change sets that were never executed, which AWS
    deletes when another one executes: they are shown, not compared.
Prints a markdown table (fault x command -> outcome, converged, seconds) and exits 1 if
any cell fails its expectation.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = "local"
CAP = "messaging"
STACK = "stackpro-%s-%s" % (CAP, ENV)
FUNCTION = STACK
RECORD = "/stackpro/%s/deployments/%s" % (ENV, CAP)
FLAGS = "/stackpro/%s/flags" % ENV
LOG_GROUP = "/aws/lambda/%s" % STACK
HANG_LIMIT = 30.0  # seconds to a clear error for a hung call (goal; README: 25 s per call)
RUN_LIMIT = 300.0  # a command still running after this is killed and fails its cell
WAIT_PROBE = 40.0  # a throttled command still running after this is a wait (see cell)
SERVICES = ("cloudformation", "lambda", "ssm", "logs", "s3", "sts", "cloudwatch",
            "monitoring", "dynamodb", "iam")


def log(msg):
    print("fault-suite: %s" % msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ended(proc, secs):
    """Whether `proc` ends within `secs`."""
    try:
        proc.wait(timeout=secs)
        return True
    except subprocess.TimeoutExpired:
        return False


# --- the emulator, and calls straight to it (never through the proxy) -------------------

class Moto:
    """moto_server on a loopback port; state in memory, so a restart is empty."""

    def __init__(self, work, port):
        self.work, self.port, self.proc = work, port, None
        self.url = "http://127.0.0.1:%d" % port

    def start(self):
        out = open(os.path.join(self.work, "moto.log"), "ab")
        self.proc = subprocess.Popen(
            [os.path.join(ROOT, ".venv", "bin", "moto_server"), "-H", "127.0.0.1", "-p",
             str(self.port)], stdout=out, stderr=out, stdin=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "")})
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=2).read()
                return
            except (OSError, urllib.error.URLError):
                if self.proc.poll() is not None:
                    sys.exit("fault-suite: moto_server exited at start-up (see moto.log)")
                time.sleep(0.1)
        sys.exit("fault-suite: moto_server did not answer within 30 s")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(
            self.url + "/moto-api/reset", method="POST"), timeout=10).read()

    def call(self, service, method="POST", path="/", body=b"", headers=None):
        h = {"Authorization": "AWS4-HMAC-SHA256 Credential=local/20261130/us-east-1/%s/"
             "aws4_request, SignedHeaders=host, Signature=0" % service,
             "X-Amz-Date": "20261130T000000Z"}
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=body or None, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def query(self, service, action, version, **params):
        form = dict(params, Action=action, Version=version)
        status, body = self.call(service, body=urllib.parse.urlencode(form).encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        root = ET.fromstring(body)
        for el in root.iter():  # drop namespaces
            el.tag = el.tag.split("}")[-1]
        return status, root

    def json(self, service, target, doc):
        status, body = self.call(service, body=json.dumps(doc).encode(), headers={
            "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
        return status, json.loads(body or b"{}")

    def lambda_get(self, path):
        status, body = self.call("lambda", "GET", "/2015-03-31/functions/%s%s" % (FUNCTION, path))
        return status, json.loads(body or b"{}")

    def snapshot(self):
        """What a fault could leave different: compared between runs (`facts`), and
        what is shown but not compared (`info`)."""
        facts, info = {}, {}
        status, root = self.query("cloudformation", "DescribeStacks", "2010-05-15",
                                  StackName=STACK)
        stack = root.find(".//Stacks/member")
        if status == 200 and stack is not None:
            outputs = {o.findtext("OutputKey"): o.findtext("OutputValue")
                       for o in stack.findall("./Outputs/member")}
            facts["stack"] = {"status": stack.findtext("StackStatus"), "outputs": outputs}
        else:
            facts["stack"] = None
        status, root = self.query("cloudformation", "ListChangeSets", "2010-05-15",
                                  StackName=STACK)
        sets = [(m.findtext("ExecutionStatus"), m.findtext("Status"))
                for m in root.findall(".//Summaries/member")] if status == 200 else []
        info["change_sets"] = {"executed": sum(1 for e, _ in sets if e == "EXECUTE_COMPLETE"),
                               "never_executed": sum(1 for e, _ in sets if e == "AVAILABLE")}
        status, alias = self.lambda_get("/aliases/live")
        if status == 200:
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            facts["live"] = {"version": alias["FunctionVersion"], "weights": weights}
        else:
            facts["live"] = None
        status, versions = self.lambda_get("/versions")
        facts["versions"] = [(v["Version"], v["CodeSha256"], v.get("MemorySize"))
                             for v in versions.get("Versions", []) if v["Version"] != "$LATEST"]
        status, history = self.json("ssm", "AmazonSSM.GetParameterHistory", {"Name": RECORD})
        records = []
        for p in history.get("Parameters", []) if status == 200 else []:
            doc = json.loads(p["Value"])
            records.append((p["Version"], doc.get("kind"), doc.get("function_version")))
        facts["records"] = records
        status, flags = self.json("ssm", "AmazonSSM.GetParametersByPath",
                                  {"Path": FLAGS, "Recursive": True})
        facts["flags"] = {p["Name"]: p["Value"] for p in flags.get("Parameters", [])}
        return facts, info

    def put_log_events(self, messages):
        """Log lines the handler would have written (the emulator runs no function)."""
        stream = "2026/11/30/[1]fault-suite"
        self.json("logs", "Logs_20140328.CreateLogStream",
                  {"logGroupName": LOG_GROUP, "logStreamName": stream})
        now = int(time.time() * 1000) - 60_000
        events = [{"timestamp": now + i, "message": m} for i, m in enumerate(messages)]
        status, _ = self.json("logs", "Logs_20140328.PutLogEvents",
                              {"logGroupName": LOG_GROUP, "logStreamName": stream,
                               "logEvents": events})
        if status != 200:
            sys.exit("fault-suite: could not put log events (HTTP %d)" % status)


# --- the proxy --------------------------------------------------------------------------

class Proxy:
    def __init__(self, work, listen, target, control):
        self.listen, self.control = listen, control
        self.url = "http://127.0.0.1:%d" % listen
        out = open(os.path.join(work, "proxy.log"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "scripts", "fault-proxy.py"), str(listen),
             str(target), str(control)], stdout=subprocess.PIPE, stderr=out,
            stdin=subprocess.DEVNULL)
        if self.proc.stdout.readline().strip() != b"ready":
            sys.exit("fault-suite: fault-proxy.py did not start (see proxy.log)")

    def _ctl(self, method, path, body=b""):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.control, path),
                                     data=body or None, method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def fault(self, *lines):
        return self._ctl("POST", "/fault", "\n".join(lines).encode())

    def requests(self):
        return self._ctl("GET", "/log")["requests"]

    def reset_log(self):
        self._ctl("POST", "/log/reset")

    def state(self):
        return self._ctl("GET", "/state")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --- the scratch project ---------------------------------------------------------------

def scratch_project(work, endpoint):
    proj = os.path.join(work, "project")
    for sub in ("envs", "templates", "dashboards"):
        shutil.copytree(os.path.join(ROOT, sub), os.path.join(proj, sub))
    binaries = {}
    for cap in sorted(os.listdir(os.path.join(ROOT, "handlers"))):
        src = os.path.join(ROOT, "handlers", cap)
        if not os.path.isfile(os.path.join(src, "capability.yaml")):
            continue
        os.makedirs(os.path.join(proj, "handlers", cap))
        for f in ("capability.yaml", "openapi.yaml"):
            if os.path.isfile(os.path.join(src, f)):
                shutil.copy(os.path.join(src, f), os.path.join(proj, "handlers", cap, f))
        text = open(os.path.join(src, "capability.yaml")).read()
        m = re.search(r"^handler:\s*\n(?:\s+.*\n)*?\s+binary:\s*(\S+)", text, re.M)
        binaries[cap] = m.group(1).strip("'\"")
    # The local environment's endpoint is the proxy.
    env_file = os.path.join(proj, "envs", ENV + ".yaml")
    text = open(env_file).read()
    text, n = re.subn(r"^endpoint_url:.*$", "endpoint_url: %s" % endpoint, text, flags=re.M)
    if n != 1:
        sys.exit("fault-suite: envs/%s.yaml has no endpoint_url line to point at the proxy" % ENV)
    open(env_file, "w").write(text)
    return proj, binaries


def write_zip(proj, binary, build):
    """A stand-in handler zip (the emulator never runs it); `build` changes its bytes."""
    d = os.path.join(proj, ".stackpro", "lambda", binary)
    os.makedirs(d, exist_ok=True)
    with zipfile.ZipFile(os.path.join(d, "bootstrap.zip"), "w") as z:
        info = zipfile.ZipInfo("bootstrap", (2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        z.writestr(info, "#!/bin/sh\n# stand-in for the %s handler, build %s\n" % (binary, build))


# --- running stackpro ------------------------------------------------------------------

class Run:
    def __init__(self, argv, code, secs, stdout, stderr, killed=False):
        self.argv, self.code, self.secs = argv, code, secs
        self.stdout, self.stderr, self.killed = stdout, stderr, killed

    def error_lines(self):
        """The `error:` line and the three after it (caused by, help); a deploy's
        summary error (`N of M capabilities did not deploy`) comes after the report's
        own line per failed capability (`error <what failed>`), which leads then."""
        lines = self.stderr.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("error: ") or "panicked" in line:
                per_capability = [l.strip() for l in lines[:i] if re.match(r"^\s+error ", l)]
                return per_capability + lines[i:i + 4]
        return []

    def first_error(self):
        """The first error line, without its `error:`/`error` mark."""
        e = self.error_lines()
        return re.sub(r"^error:? ", "", e[0]) if e else ""


class Suite:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="fault-suite-")
        self.bin = args.bin
        self.moto = Moto(self.work, free_port())
        self.moto.start()
        self.proxy = Proxy(self.work, free_port(), self.moto.port, free_port())
        self.proj, self.binaries = scratch_project(self.work, self.proxy.url)
        self.home = os.path.join(self.work, "home")
        os.makedirs(self.home)
        self.env = {
            "PATH": os.environ.get("PATH", ""), "HOME": self.home, "NO_COLOR": "1", "CI": "1",
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.path.join(self.home, "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.home, "aws-credentials"),
            "STACKPRO_CFN_LINT": os.path.join(ROOT, ".venv", "bin", "cfn-lint"),
        }
        self.build = 0
        self.runs = 0
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs)
        self.rows = []
        self.baselines = {}
        self.failures = 0

    def close(self):
        self.proxy.stop()
        self.moto.kill()
        if self.args.keep:
            log("scratch directory kept: %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def argv(self, args):
        return [self.bin, "--project-dir", self.proj] + args

    def start(self, args):
        out = tempfile.TemporaryFile(dir=self.work)
        err = tempfile.TemporaryFile(dir=self.work)
        proc = subprocess.Popen(self.argv(args), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, env=self.env, cwd=self.proj)
        return proc, out, err, time.monotonic()

    def finish(self, args, started, limit=RUN_LIMIT):
        proc, out, err, t0 = started
        killed = False
        try:
            proc.wait(timeout=max(1, limit - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            killed = True
        secs = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        run = Run(args, proc.returncode, secs, out.read().decode(errors="replace"),
                  err.read().decode(errors="replace"), killed)
        self.runs += 1
        with open(os.path.join(self.logs, "%04d.txt" % self.runs), "w") as f:
            f.write("$ stackpro %s\nexit %s in %.1f s%s\n--- stderr\n%s--- stdout\n%s"
                    % (" ".join(args), run.code, secs, " (killed)" if killed else "",
                       run.stderr, run.stdout))
        return run

    def sp(self, args, limit=RUN_LIMIT):
        return self.finish(args, self.start(args), limit)

    def must(self, args):
        r = self.sp(args)
        if r.code != 0:
            sys.exit("fault-suite: set-up step `stackpro %s` failed (exit %s):\n%s"
                     % (" ".join(args), r.code, r.stderr[-3000:]))
        return r

    def new_build(self):
        self.build += 1
        write_zip(self.proj, self.binaries[CAP], self.build)

    # --- the commands, each with what it needs first -----------------------------------

    def deploy_args(self):
        return ["deploy", CAP, "--env", ENV, "--no-build", "--yes"]

    def prepare(self, command):
        """Wipes the emulator and sets up what `command` acts on, without faults."""
        self.proxy.fault("pass", "latency 0")
        self.moto.reset()
        self.build = 0
        self.must(["bootstrap", "--env", ENV])
        if command == "deploy-create":
            self.new_build()
            return
        self.new_build()
        self.must(self.deploy_args())
        if command in ("deploy", "canary"):
            self.new_build()  # a new build to ship
        elif command == "rollback":
            self.new_build()
            self.must(self.deploy_args())
        elif command in ("tail",):
            self.moto.put_log_events([
                '{"level":"INFO","message":"request served","route":"GET /v1/threads","status":200}',
                '{"level":"ERROR","message":"request failed","route":"POST /v1/threads","status":500}',
            ])
        elif command == "flags get":
            self.must(["flags", "set", "CAP_MESSAGING_DEGRADED=true", "--env", ENV, "--yes"])

    COMMANDS = {
        "deploy-create": lambda s: s.deploy_args(),
        "deploy": lambda s: s.deploy_args(),
        "status": lambda s: ["status", CAP, "--env", ENV, "--output", "json"],
        "flags set": lambda s: ["flags", "set", "CAP_MESSAGING_DEGRADED=true", "--env", ENV,
                                "--yes"],
        "flags get": lambda s: ["flags", "get", "CAP_MESSAGING_DEGRADED", "--env", ENV,
                                "--output", "json"],
        "tail": lambda s: ["tail", CAP, "--env", ENV, "--no-follow", "--since", "30m",
                           "--output", "raw"],
        "rollback": lambda s: ["rollback", CAP, "--env", ENV, "--yes"],
        "canary": lambda s: s.deploy_args() + ["--canary", "10%:2s"],
        "destroy": lambda s: ["destroy", CAP, "--env", ENV, "--yes"],
    }
    # What a read-only command prints that must be the same after a fault as without.
    READS = {"status", "flags get", "tail"}

    def read_result(self, command, run):
        """The part of a read-only command's output that a fault must not change."""
        if command == "status":
            c = json.loads(run.stdout)["capabilities"][0]
            return {k: c.get(k) for k in ("status", "live_version", "outputs")} | {
                "deployment": (c.get("deployment") or {}).get("number")}
        if command == "flags get":
            doc = json.loads(run.stdout)
            return {k: doc.get(k) for k in ("value", "source")}
        if command == "tail":
            return sorted(l for l in run.stdout.splitlines() if l.strip())
        return None

    def baseline(self, command):
        if command not in self.baselines:
            self.prepare(command)
            self.proxy.reset_log()
            r = self.sp(self.COMMANDS[command](self))
            calls = [c.rsplit(" ", 1)[0] for c in self.proxy.requests()]
            if r.code != 0:
                sys.exit("fault-suite: fault-free `stackpro %s` failed (exit %d):\n%s"
                         % (" ".join(r.argv), r.code, r.stderr[-3000:]))
            facts, _ = self.moto.snapshot()
            self.baselines[command] = (facts, self.read_result(command, r), calls)
        return self.baselines[command]

    # --- one cell: a fault x a command --------------------------------------------------

    def cell(self, fault, command, expect):
        """expect: "ok" (exit 0), "error" (exit 1, a clear error), "either". A fault
        ending in `after MID` starts at the middle call of the command's fault-free run."""
        label = "%s | %s" % (fault, command)
        if self.args.only and self.args.only not in label:
            return
        base_facts, base_read, calls = self.baseline(command)
        line = fault
        if fault.endswith(" after MID"):
            k = len(calls) // 2
            line = fault.replace("MID", str(k))
            fault = fault.replace("after MID", "from call %d/%d (%s)" % (k + 1, len(calls), calls[k]))
        self.prepare(command)
        self.proxy.reset_log()
        self.proxy.fault(line)
        argv = self.COMMANDS[command](self)
        started = self.start(argv)
        waited = None
        if fault.startswith("throttle") and not ended(started[0], WAIT_PROBE):
            # A wait on a stack operation that is throttled slows down and goes on
            # (README, ARCHITECTURE "Failure modes": never a failure, bounded by the
            # wait's own deadline): it must carry on to the end once the fault clears.
            waited = time.monotonic() - started[3]
            self.proxy.fault("pass")
            expect = "ok"
        run = self.finish(argv, started)
        applied = self.proxy.state()["applied"]
        self.proxy.fault("pass", "latency 0")
        problems = self.judge(run, expect, hang="hang" in fault)
        if applied == 0 and not fault.startswith("latency"):
            problems.append("the fault never applied (no matching call)")
        # The proxy's own log must show the fault on as many calls as it counted, and a
        # bounded fault (`reset 2`, `drop 1 Op`) on exactly that many.
        faulted = sum(1 for r in self.proxy.requests() if not r.endswith(" pass"))
        if not fault.startswith("latency") and faulted != applied:
            problems.append("the proxy faulted %d call(s), counted %d" % (faulted, applied))
        if waited is not None:
            notes_before = ["still waiting (throttled) after %.0f s: fault cleared, then it "
                            "finished %.1f s later" % (waited, run.secs - waited)]
        else:
            notes_before = []
        rerun = None
        if run.code != 0:
            rerun = self.sp(self.COMMANDS[command](self))
            if rerun.code != 0:
                problems.append("re-run after the fault cleared: exit %d %s"
                                % (rerun.code, rerun.first_error()))
        facts, info = self.moto.snapshot()
        diffs, notes = compare(facts, base_facts)
        if command in self.READS:
            final = rerun if rerun is not None else run
            if final.code == 0 and self.read_result(command, final) != base_read:
                diffs.append("output")
        converged = not diffs and (rerun is None or rerun.code == 0)
        if diffs:
            problems.append("differs from the fault-free run in %s: %s" % (
                ", ".join(diffs), "; ".join("%s %s != %s" % (k, json.dumps(facts.get(k)),
                                                             json.dumps(base_facts.get(k)))
                                           for k in diffs if k != "output")))
        self.record(fault, command, run, converged, problems, info,
                    "; ".join(notes_before + (["re-run exit %d" % rerun.code] if rerun else [])
                              + notes))

    def judge(self, run, expect, hang=False):
        problems = []
        text = run.stderr + run.stdout
        if run.killed:
            problems.append("still running after %d s: killed" % RUN_LIMIT)
        if "panicked" in text:
            problems.append("panic")
        if expect == "ok" and run.code != 0:
            problems.append("expected exit 0 (the SDK's retries absorb it)")
        if expect == "error" and run.code != 1:
            problems.append("expected exit 1")
        if run.code not in (0, 1, 2):
            problems.append("exit %s is not a documented exit code" % run.code)
        if run.code in (1, 2):
            problems += self.unclear(run)
        if hang and run.secs > HANG_LIMIT:
            problems.append("took %.1f s to fail (goal <= %d s)" % (run.secs, HANG_LIMIT))
        return problems

    def unclear(self, run):
        """Why an error is not clear: no `error:` line, or one naming nothing."""
        lines = run.error_lines()
        if not any(l.startswith("error: ") for l in lines):
            return ["no `error:` line on stderr"]
        head = " ".join(l for l in lines if not l.startswith("help:")).lower()
        names = SERVICES + (self.proxy.url.lower(), STACK, CAP, RECORD.lower(), FLAGS.lower())
        ops = re.search(r"\b[A-Z][a-z]+(?:[A-Z][a-z0-9]+)+\b", " ".join(lines))
        if not any(n in head for n in names) and not ops:
            return ["the error names no service, operation, endpoint or object"]
        return []

    def record(self, fault, command, run, converged, problems, info, note):
        ok = not problems
        self.failures += 0 if ok else 1
        if run.code < 0:  # ended by the signal the suite sent
            outcome = "killed by %s (a shell says %d)" % (signal.Signals(-run.code).name,
                                                         128 - run.code)
        else:
            outcome = "exit %s" % run.code + (": " + run.first_error() if run.first_error() else "")
        self.rows.append({"fault": fault, "command": command, "outcome": outcome,
                          "converged": converged, "secs": run.secs, "ok": ok,
                          "problems": problems, "note": note, "info": info})
        log("%-28s %-14s %s %5.1fs converged=%s %s%s" % (
            fault, command, "PASS" if ok else "FAIL", run.secs, "yes" if converged else "NO",
            outcome[:100], ("  <- " + "; ".join(problems)) if problems else ""))

    # --- stackpro killed mid-deploy -----------------------------------------------------

    def deploy_calls(self, latency, command="deploy"):
        """The calls a fault-free deploy (`deploy`: an update, `deploy-create`: the
        first) makes, in order (for the kill points)."""
        self.prepare(command)
        self.proxy.fault("latency %d" % latency)
        self.proxy.reset_log()
        self.must(self.deploy_args())
        self.proxy.fault("latency 0")
        return [r.rsplit(" ", 1)[0] for r in self.proxy.requests()]

    def kill_deploy(self, sig, at, calls, latency, command="deploy"):
        """Sends `sig` to a deploy when its `at`-th call reaches the proxy (still held
        there for `latency` ms: the call goes on to the emulator whether or not the
        process lives), then deploys again and compares with a fault-free deploy."""
        label = "%s at call %d/%d (%s)" % (sig.name, at + 1, len(calls), calls[at])
        if self.args.only and self.args.only not in label + " | " + command:
            return
        base_facts = self.baseline(command)[0]
        self.prepare(command)
        self.proxy.reset_log()
        self.proxy.fault("latency %d" % latency)
        started = self.start(self.deploy_args())
        deadline = time.monotonic() + 120
        while len(self.proxy.requests()) <= at and started[0].poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        sent = started[0].poll() is None
        if sent:
            started[0].send_signal(sig)
        run = self.finish(self.deploy_args(), started, limit=60)
        self.proxy.fault("latency 0")
        time.sleep(latency / 1000 + 0.2)  # the held call reaches the emulator
        problems = []
        if not sent:
            problems.append("the deploy ended before call %d" % (at + 1))
        if "panicked" in run.stderr:
            problems.append("panic")
        if sig == signal.SIGINT and run.killed:
            problems.append("did not stop within 60 s of SIGINT")
        rerun = self.sp(self.deploy_args())
        if rerun.code != 0:
            problems.append("re-run: exit %d %s" % (rerun.code, rerun.first_error()))
        facts, info = self.moto.snapshot()
        diffs, notes = compare(facts, base_facts)
        if diffs:
            problems.append("differs from a fault-free deploy in %s: %s" % (
                ", ".join(diffs), "; ".join("%s %s != %s" % (k, json.dumps(facts.get(k)),
                                                             json.dumps(base_facts[k]))
                                           for k in diffs)))
        self.record(label, command, run, rerun.code == 0 and not diffs, problems, info,
                    "; ".join(["re-run exit %d" % rerun.code] + notes))

    # --- the emulator killed mid-deploy -------------------------------------------------

    def kill_emulator(self, at_op, latency=100):
        label = "emulator killed at %s" % at_op
        if self.args.only and self.args.only not in label:
            return
        self.prepare("deploy")
        self.proxy.reset_log()
        self.proxy.fault("latency %d" % latency)
        started = self.start(self.deploy_args())
        deadline = time.monotonic() + 120
        while not any(at_op in r for r in self.proxy.requests()) \
                and started[0].poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        problems = []
        if started[0].poll() is not None:
            problems.append("the deploy ended before %s" % at_op)
        # moto gone, and nothing listening on the endpoint any more (the proxy stops
        # listening too, so the endpoint refuses connections as a stopped emulator's does)
        self.moto.kill()
        self.proxy.fault("down")
        run = self.finish(self.deploy_args(), started)
        problems += self.judge(run, "error")
        if run.code == 1 and "could not reach" not in " ".join(run.error_lines()):
            problems.append("the error does not say the endpoint could not be reached")
        status = self.sp(self.COMMANDS["status"](self))
        problems += ["status while down: " + p for p in self.judge(status, "error", hang=True)]
        # A new, empty emulator (moto keeps its state in memory): bootstrap and deploy
        # again must reach what a first deploy of the same build reaches.
        self.moto.start()
        self.proxy.fault("up", "pass", "latency 0")
        facts_wanted = self.fresh_first_deploy_facts()
        self.moto.reset()
        b = self.sp(["bootstrap", "--env", ENV])
        rerun = self.sp(self.deploy_args())
        if b.code != 0 or rerun.code != 0:
            problems.append("bootstrap/deploy on the restarted emulator: exit %d/%d %s"
                            % (b.code, rerun.code, rerun.first_error() or b.first_error()))
        facts, info = self.moto.snapshot()
        diffs, _ = compare(facts, facts_wanted)
        if diffs:
            problems.append("differs from a first deploy of the same build in %s" % ", ".join(diffs))
        self.record(label, "deploy", run, rerun.code == 0 and not diffs, problems, info,
                    "status while down: exit %d in %.1f s (%s)"
                    % (status.code, status.secs, status.first_error()))

    def fresh_first_deploy_facts(self):
        """A first deploy of the current build on an empty emulator, fault-free."""
        self.moto.reset()
        self.must(["bootstrap", "--env", ENV])
        self.must(self.deploy_args())
        return self.moto.snapshot()[0]

    # --- the report -----------------------------------------------------------------------

    def table(self):
        print()
        print("| fault | command | outcome (exit code: first error line) | converged | s | result |")
        print("|---|---|---|---|---|---|")
        for r in self.rows:
            outcome = r["outcome"].replace("|", "\\|")
            if len(outcome) > 150:
                outcome = outcome[:147] + "..."
            result = "PASS" if r["ok"] else "FAIL: " + "; ".join(r["problems"]).replace("|", "\\|")
            if r["note"]:
                result += " (%s)" % r["note"].replace("|", "\\|")
            orphans = r["info"].get("change_sets", {}).get("never_executed")
            if orphans:
                result += " [%d never-executed change set(s) kept by moto]" % orphans
            print("| %s | %s | %s | %s | %.1f | %s |" % (
                r["fault"], r["command"], outcome, "yes" if r["converged"] else "no",
                r["secs"], result))
        hangs = [r for r in self.rows if r["fault"].startswith("hang")]
        if hangs:
            print()
            print("Time to a clear error with a hung endpoint: %.1f to %.1f s (goal <= %d s)"
                  % (min(r["secs"] for r in hangs), max(r["secs"] for r in hangs), HANG_LIMIT))


def compare(facts, want):
    """Which facts differ from the fault-free run's (`want`), and notes on what is
    allowed to differ. The deployment records are a history: a failed attempt that did
    something (a canary started, then rolled back because its alarms could not be read)
    is recorded, truthfully, before the re-run's records. So records converge when the
    last one is the fault-free run's last, every fault-free record is there in order,
    and no record was written twice in a row (a retried or repeated write: a duplicate).
    Everything else must be equal."""
    diffs, notes = [], []
    for key in want:
        if facts.get(key) == want[key]:
            continue
        if key == "records":
            got = [tuple(r[1:]) for r in facts.get(key) or []]
            wanted = [tuple(r[1:]) for r in want[key]]
            rest = iter(got)
            if (got and wanted and got[-1] == wanted[-1]
                    and all(a != b for a, b in zip(got, got[1:]))
                    and all(w in rest for w in wanted)):
                extra = len(got) - len(wanted)
                notes.append("%d more record(s) than without the fault: %s" % (
                    extra, ", ".join("%s %s" % r for r in got)))
                continue
        diffs.append(key)
    return diffs, notes


# --- the plans ----------------------------------------------------------------------------

ALL = ["deploy", "status", "flags set", "flags get", "tail", "rollback", "canary", "destroy"]
# A burst of two: the SDK's standard retries (three attempts) absorb it.
ABSORBED = ["latency 150", "reset 2", "5xx 2", "throttle 2"]
# Lasting: every call fails the same way until the fault clears.
LASTING = ["reset all", "5xx all", "throttle all", "hang"]
# Aimed at one call in the middle of a command, where a half-done operation is left.
TARGETED = [
    ("drop 1 PublishVersion", "deploy"),     # the version is made, its answer lost
    ("drop 1 ExecuteChangeSet", "deploy"),
    ("5xx all UpdateAlias", "deploy"),       # the stack is updated, live is not moved
    ("drop 1 PutParameter", "deploy"),       # the record is written, its answer lost
    ("throttle all DescribeStacks", "deploy"),
    ("drop 1 UpdateAlias", "rollback"),
    ("5xx all PutParameter", "rollback"),    # the alias moved, the record cannot be written
    ("5xx all DescribeAlarms", "canary"),    # the alarms cannot be read
    ("drop 1 UpdateAlias", "canary"),
    ("drop 1 PutParameter", "flags set"),
    ("drop 1 DeleteStack", "destroy"),
    ("throttle all GetAlias", "status"),
    ("throttle all FilterLogEvents", "tail"),
]


# The commands that change something, where a fault in the middle leaves half a change.
CHANGING = ["deploy-create", "deploy", "flags set", "rollback", "canary", "destroy"]


def plan_full(s):
    for command in ALL + ["deploy-create"]:
        for fault in ABSORBED:
            s.cell(fault, command, "ok")
        for fault in LASTING:
            s.cell(fault, command, "error")
    for command in CHANGING:
        for fault in LASTING:
            s.cell(fault + " after MID", command, "error")
    for fault, command in TARGETED:
        s.cell(fault, command, "either")
    calls = s.deploy_calls(100)
    log("an update deploy makes %d calls: %s" % (len(calls), ", ".join(calls)))
    points = sorted({int(len(calls) * f) for f in (0.1, 0.3, 0.5, 0.7, 0.85, 0.95)})
    for sig in (signal.SIGINT, signal.SIGKILL):
        for at in points:
            s.kill_deploy(sig, min(at, len(calls) - 1), calls, 100)
    calls = s.deploy_calls(100, "deploy-create")
    log("a first deploy makes %d calls: %s" % (len(calls), ", ".join(calls)))
    for sig in (signal.SIGINT, signal.SIGKILL):
        for f in (0.5, 0.8):
            s.kill_deploy(sig, int(len(calls) * f), calls, 100, "deploy-create")
    s.kill_emulator("ExecuteChangeSet")
    s.kill_emulator("PublishVersion")


def plan_short(s):
    for command in ("deploy", "status", "flags set", "tail", "rollback", "canary", "destroy"):
        s.cell("reset 2", command, "ok")
        s.cell("5xx all", command, "error")
    s.cell("throttle all", "deploy", "error")
    s.cell("throttle all", "flags get", "error")
    s.cell("hang", "status", "error")
    s.cell("hang after MID", "deploy", "error")
    s.cell("drop 1 PublishVersion", "deploy", "either")
    s.cell("drop 1 PutParameter", "deploy", "either")
    s.cell("5xx all UpdateAlias", "deploy", "either")
    s.cell("5xx all PutParameter", "rollback", "either")
    s.cell("throttle all FilterLogEvents", "tail", "either")
    calls = s.deploy_calls(100)
    mid = len(calls) // 2
    s.kill_deploy(signal.SIGINT, mid, calls, 100)
    s.kill_deploy(signal.SIGKILL, int(len(calls) * 0.8), calls, 100)
    s.kill_emulator("ExecuteChangeSet")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--short", action="store_true")
    g.add_argument("--full", action="store_true")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    p.add_argument("--bin", default=os.path.join(target, "debug", "stackpro"))
    p.add_argument("--only", default="")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit("fault-suite: %s is not an executable: build it with `cargo build --workspace` "
                 "or pass --bin" % args.bin)
    if not os.access(os.path.join(ROOT, ".venv", "bin", "moto_server"), os.X_OK):
        sys.exit("fault-suite: .venv/bin/moto_server is missing: run scripts/setup.sh")
    # Stopped from outside (a CI job's timeout): still stop the emulator and the proxy.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    s = Suite(args)
    try:
        (plan_short if args.short else plan_full)(s)
    finally:
        s.close()
    s.table()
    total = time.monotonic() - t0
    print()
    print("%s run: %d cells, %d failed, %.0f s" % ("short" if args.short else "full",
                                                   len(s.rows), s.failures, total))
    sys.exit(1 if s.failures else 0)


if __name__ == "__main__":
    main()
