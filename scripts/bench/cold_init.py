#!/usr/bin/env python3
"""Cold init of a Lambda bootstrap binary to its first served request.

A minimal Lambda Runtime API on loopback hands the binary one API Gateway v2 event.
Each run starts the binary afresh and measures from process start to the moment its
response reaches the Runtime API (init: config, SDK clients, the first flags read,
then the request itself, including its store calls).

    cold_init.py BOOTSTRAP EVENT.json RUNS  (the handler's environment comes from ours)
"""
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

bootstrap, event_file, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
event = open(event_file, "rb").read()
state = {"served": threading.Event(), "handed": False, "status": None, "error": None}


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.endswith("/invocation/next"):
            self.send_error(404)
            return
        if state["handed"]:
            # One invocation per run: later polls wait until the process is stopped.
            time.sleep(30)
            self.send_error(503)
            return
        state["handed"] = True
        try:
            self.hand_over()
        except OSError:
            # A poll left over from the previous run's (stopped) process: hand the
            # event to the next poll instead.
            state["handed"] = False

    def hand_over(self):
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "cold-init")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:messaging")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Length", str(len(event)))
        self.end_headers()
        self.wfile.write(event)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/response"):
            state["status"] = json.loads(body).get("statusCode")
        else:
            state["error"] = body.decode(errors="replace")
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        state["served"].set()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a poll cut short by stopping the binary between runs


server = Server(("127.0.0.1", 0), RuntimeApi)
threading.Thread(target=server.serve_forever, daemon=True).start()
env = dict(os.environ)
env.update({
    "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
    "AWS_LAMBDA_FUNCTION_NAME": "messaging",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
})
samples = []
for _ in range(runs):
    state.update(handed=False, status=None, error=None)
    state["served"].clear()
    started = time.perf_counter()
    proc = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=None if os.environ.get("COLD_INIT_DEBUG") else subprocess.DEVNULL)
    if not state["served"].wait(60):
        proc.kill()
        sys.exit("the bootstrap binary served nothing within 60 s")
    samples.append((time.perf_counter() - started) * 1000)
    proc.kill()
    proc.wait()
    if state["error"] or not 200 <= (state["status"] or 0) < 300:
        sys.exit(f"the first request failed: status {state['status']}, error {state['error']}")
samples.sort()
print(f"cold init to first served request over {runs} runs: median {statistics.median(samples):.1f} ms, "
      f"min {samples[0]:.1f} ms, max {samples[-1]:.1f} ms")
