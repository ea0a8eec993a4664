#!/usr/bin/env python3
"""An OpenAI-compatible chat-completions server on loopback that answers at once with
"ok" (12 prompt tokens, 2 completion tokens): the ai capability's model where the model's
own time or answers are not what is measured or checked (scripts/contract-test.sh,
scripts/bench-ai.sh). Standard library only.

    model-server.py PORT
"""
import http.server
import json
import sys


class Model(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = json.dumps({
            "id": "local", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "ok"}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Model).serve_forever()
