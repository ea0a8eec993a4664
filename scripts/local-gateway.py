#!/usr/bin/env python3
"""A local stand-in for API Gateway's HTTP API (payload format 2.0) in front of a function
served by `cargo lambda watch` (standard library only; used by scripts/contract-test.sh).

    python3 scripts/local-gateway.py --port 9100 --function-url http://127.0.0.1:9000 --function messaging

Why not cargo lambda watch's own function URLs: they refuse a body that is not UTF-8
under a text content type (500 text/plain, before the function runs), where API Gateway
passes it base64-encoded with `isBase64Encoded: true`. This builds the event as API
Gateway does and calls the function through the Lambda Invoke API that cargo lambda
watch serves (`POST /2015-03-31/functions/<name>/invocations`), then answers with the
function's response document. Loopback only.
"""
import argparse
import base64
import http.client
import http.server
import json
import time
import urllib.parse
import uuid

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


def build_event(method, target, headers, body):
    path, _, raw_query = target.partition("?")
    merged = {}
    for name, value in headers.items():
        name = name.lower()
        merged[name] = f"{merged[name]},{value}" if name in merged else value
    query = {}
    for name, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = time.time()
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": merged.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if "cookie" in merged:
        event["cookies"] = [c.strip() for c in merged["cookie"].split(";") if c.strip()]
    if body:
        content_type = merged.get("content-type", "").lower()
        text = None
        if content_type.startswith(TEXT_TYPES):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--function-url", required=True, help="http://127.0.0.1:PORT of cargo lambda watch")
    p.add_argument("--function", required=True, help="the function (binary) name")
    a = p.parse_args()
    upstream = urllib.parse.urlsplit(a.function_url)
    invoke_path = f"/2015-03-31/functions/{a.function}/invocations"

    class Gateway(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one_request(self):
            # Every method, known to http.server or not (TRACE, PROPFIND...).
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self.serve()
            self.wfile.flush()

        def serve(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            event = build_event(self.command, self.path, self.headers, body)
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            try:
                conn.request("POST", invoke_path, json.dumps(event), {"content-type": "application/json"})
                reply = conn.getresponse()
                payload = reply.read()
                doc = json.loads(payload) if reply.status == 200 else None
            except (OSError, ValueError):
                doc = None
            finally:
                conn.close()
            if not isinstance(doc, dict) or "statusCode" not in doc:
                # What API Gateway answers when the integration fails.
                self.answer(500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
                return
            raw = doc.get("body") or ""
            data = base64.b64decode(raw) if doc.get("isBase64Encoded") else raw.encode()
            headers = dict(doc.get("headers") or {})
            for name, values in (doc.get("multiValueHeaders") or {}).items():
                headers[name] = ",".join(values)
            self.answer(int(doc["statusCode"]), headers, data, doc.get("cookies") or [])

        def answer(self, status, headers, data, cookies=()):
            self.send_response_only(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, str(value).encode("latin-1", "replace").decode("latin-1"))
            for cookie in cookies:
                self.send_header("set-cookie", cookie)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def log_message(self, *args):
            pass

    # One thread a connection: a client's idle keep-alive connection must not hold others.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Gateway)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
