#!/usr/bin/env python3
"""A loopback HTTP proxy in front of a local AWS emulator that injects faults, changed
while it runs (standard library only; scripts/fault-suite.py drives it).

Usage: fault-proxy.py LISTEN_PORT TARGET_PORT CONTROL_PORT
Listens on 127.0.0.1:LISTEN_PORT, forwards to 127.0.0.1:TARGET_PORT only, and takes
commands on 127.0.0.1:CONTROL_PORT: `POST /fault` with one command per line (body text),
`GET /log` (JSON: every request seen, `service operation fault` per line, then a blank
line between the calls of each `POST /log/reset`), `GET /state`. Prints "ready" on stdout
once both listen.

Commands (each replaces the fault before it; `latency` is kept apart and adds to any):
  pass                     forward everything
  latency MS               wait MS ms before forwarding each request (0: none)
  reset N [MATCH]          close the next N matching requests' connections with a TCP
                           reset, before forwarding (the emulator never sees them)
  drop N [MATCH]           forward the next N matching requests, then reset the
                           connection instead of passing the answer back: the call took
                           effect, its caller does not know (a lost answer)
  5xx N [MATCH]            answer the next N matching requests 500 and 503 in turn, with
                           the service's own InternalFailure/ServiceUnavailable error shape
  throttle N [MATCH]       answer the next N matching requests with the service's
                           documented throttling error (below)
  hang [N] [MATCH]         accept the next N (default: every) matching requests and
                           never answer them
  down                     stop listening and reset every open connection (a stopped
                           emulator: connection refused); `up` listens again
N may be `all`. A fault line may end in `after K`: the first K matching requests pass,
the fault takes the ones after (a fault in the middle of a command). MATCH is `OPERATION`, `service:` or `service:OPERATION` (the SigV4
credential scope's service name: cloudformation, lambda, ssm, logs, s3, sts, monitoring,
dynamodb, iam) and limits the fault to those requests; the others pass.

The operation is the `X-Amz-Target` header's (JSON protocol: SSM, Logs, DynamoDB), the
form's `Action=` (query protocol: CloudFormation, STS, CloudWatch, IAM), Lambda's REST
route (PublishVersion, UpdateAlias, ...) or S3's method and object/bucket. Error shapes,
as AWS documents them per protocol:
  query (cloudformation, sts, monitoring, iam): HTTP 400 text/xml
      <ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>
      <Message>Rate exceeded</Message></Error><RequestId>..</RequestId></ErrorResponse>
  JSON (ssm, logs, dynamodb): HTTP 400 application/x-amz-json-1.1,
      x-amzn-ErrorType: ThrottlingException, {"__type":"ThrottlingException","message":...}
  Lambda (REST JSON): HTTP 429, x-amzn-ErrorType: TooManyRequestsException,
      {"Type":"User","message":"Rate exceeded","Reason":"CallerRateLimitExceeded"}
  S3 (REST XML): HTTP 503 <Error><Code>SlowDown</Code>...</Error>
5xx answers are InternalFailure (500) / ServiceUnavailable (503) in the same shapes
(S3: InternalError / ServiceUnavailable, Lambda: ServiceException).
"""
import asyncio
import json
import re
import socket
import struct
import sys
import uuid
from urllib.parse import parse_qs

HOST = "127.0.0.1"

# Lambda's REST routes (2015-03-31 API) the CLI uses, as (method, path regex, operation).
LAMBDA_ROUTES = [
    ("POST", r"/functions/[^/]+/versions$", "PublishVersion"),
    ("GET", r"/functions/[^/]+/versions$", "ListVersionsByFunction"),
    ("PUT", r"/functions/[^/]+/code$", "UpdateFunctionCode"),
    ("PUT", r"/functions/[^/]+/configuration$", "UpdateFunctionConfiguration"),
    ("GET", r"/functions/[^/]+/configuration$", "GetFunctionConfiguration"),
    ("POST", r"/functions/[^/]+/aliases$", "CreateAlias"),
    ("GET", r"/functions/[^/]+/aliases$", "ListAliases"),
    ("PUT", r"/functions/[^/]+/aliases/[^/]+$", "UpdateAlias"),
    ("GET", r"/functions/[^/]+/aliases/[^/]+$", "GetAlias"),
    ("DELETE", r"/functions/[^/]+/aliases/[^/]+$", "DeleteAlias"),
    ("POST", r"/functions/[^/]+/policy$", "AddPermission"),
    ("GET", r"/functions/[^/]+/policy$", "GetPolicy"),
    ("DELETE", r"/functions/[^/]+/policy/[^/]+$", "RemovePermission"),
    ("GET", r"/functions/[^/]+$", "GetFunction"),
    ("POST", r"/functions/?$", "CreateFunction"),
    ("GET", r"/functions/?$", "ListFunctions"),
]
QUERY_SERVICES = {"cloudformation", "sts", "monitoring", "iam", "ec2"}
QUERY_NS = {
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "monitoring": "http://monitoring.amazonaws.com/doc/2010-08-01/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}


class Fault:
    """The fault in force: a mode, how many requests it still takes, and which."""

    def __init__(self):
        self.mode, self.left, self.match, self.skip = "pass", 0, None, 0
        self.latency = 0.0
        self.applied = 0
        self.turn = 0  # 500 and 503 in turn

    def set(self, line):
        words = line.split()
        if not words:
            return
        mode = words[0].lower()
        if mode == "latency":
            self.latency = int(words[1]) / 1000
            return
        if mode == "pass":
            self.mode, self.left, self.match, self.skip = "pass", 0, None, 0
            return
        if mode not in ("reset", "drop", "5xx", "throttle", "hang"):
            raise ValueError("unknown fault %r" % mode)
        rest = words[1:]
        skip = 0
        if len(rest) >= 2 and rest[-2] == "after":
            skip = int(rest[-1])
            rest = rest[:-2]
        count = None
        if rest and (rest[0].isdigit() or rest[0] == "all"):
            count = rest.pop(0)
        if count is None and mode != "hang":
            raise ValueError("%s needs a count" % mode)
        self.left = float("inf") if count in (None, "all") else int(count)
        self.match = rest[0] if rest else None
        self.mode, self.applied, self.skip = mode, 0, skip

    def matches(self, service, operation):
        if self.match is None:
            return True
        svc, sep, op = self.match.partition(":")
        if not sep:
            return operation == self.match
        return service == svc and (not op or operation == op)

    def take(self, service, operation):
        """The fault for this request (and counts it), or None to pass it."""
        if self.mode == "pass" or self.left <= 0 or not self.matches(service, operation):
            return None
        if self.skip > 0:
            self.skip -= 1
            return None
        self.left -= 1
        self.applied += 1
        mode = self.mode
        if self.left <= 0 and mode != "hang":
            self.mode = "pass"
        return mode

    def describe(self):
        left = "all" if self.left == float("inf") else self.left
        return {"mode": self.mode, "left": left, "match": self.match, "skip": self.skip,
                "latency_ms": int(self.latency * 1000), "applied": self.applied}


FAULT = Fault()
LOG = []  # (service, operation, fault or "pass")
HELD = set()  # connections of hung requests, and every open client connection
OPEN = set()


async def read_message(reader, request):
    """One HTTP message: (first line, headers as a lowercase dict, raw head, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    return lines[0].decode("latin-1"), headers, head


async def read_body(reader, headers, until_eof=False):
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        while True:
            size_line = await reader.readline()
            out += size_line
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:
                    line = await reader.readline()
                    out += line
                    if line in (b"\r\n", b"\n", b""):
                        return out
            out += await reader.readexactly(size + 2)
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if until_eof:
        return await reader.read()
    return b""


def identify(first_line, headers, body):
    """(service, operation) of a request."""
    method, _, rest = first_line.partition(" ")
    path = rest.rsplit(" ", 1)[0].split("?", 1)[0]
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", headers.get("authorization", ""))
    service = m.group(1) if m else "?"
    if "x-amz-target" in headers:
        return service, headers["x-amz-target"].split(".")[-1]
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return service, action[0]
    if service == "lambda":
        for verb, pattern, op in LAMBDA_ROUTES:
            if method == verb and re.search(pattern, path):
                return service, op
    if service == "s3":
        kind = "Bucket" if len(path.strip("/").split("/")) <= 1 else "Object"
        return service, method.title() + kind
    return service, "%s %s" % (method, path)


def error_answer(kind, service, operation):
    """A throttling (kind "throttle") or 5xx answer in the service's protocol."""
    request_id = str(uuid.uuid4())
    if kind == "throttle":
        status = 429 if service == "lambda" else 503 if service == "s3" else 400
    else:
        FAULT.turn += 1
        status = 500 if FAULT.turn % 2 else 503
    reason = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error",
              503: "Service Unavailable"}[status]
    headers = [("x-amzn-RequestId", request_id)]
    if service in QUERY_SERVICES:
        if kind == "throttle":
            typ, code, msg = "Sender", "Throttling", "Rate exceeded"
        else:
            typ, code = "Receiver", "InternalFailure" if status == 500 else "ServiceUnavailable"
            msg = "injected by fault-proxy: the service is unavailable"
        ns = QUERY_NS.get(service, "")
        body = ('<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code>'
                "<Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
                % (ns, typ, code, msg, request_id))
        ctype = "text/xml"
    elif service == "s3":
        if kind == "throttle":
            code, msg = "SlowDown", "Please reduce your request rate."
        else:
            code = "InternalError" if status == 500 else "ServiceUnavailable"
            msg = "injected by fault-proxy: we encountered an internal error"
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s'
                "</Message><RequestId>%s</RequestId><HostId>fault-proxy</HostId></Error>"
                % (code, msg, request_id))
        ctype = "application/xml"
    elif service == "lambda":
        if kind == "throttle":
            code = "TooManyRequestsException"
            doc = {"Type": "User", "message": "Rate exceeded", "Reason": "CallerRateLimitExceeded"}
            headers.append(("Retry-After", "1"))
        else:
            code = "ServiceException"
            doc = {"Type": "Service", "message": "injected by fault-proxy: service unavailable"}
        headers.append(("x-amzn-ErrorType", code))
        body, ctype = json.dumps(doc), "application/json"
    else:  # JSON protocol
        if kind == "throttle":
            code, msg = "ThrottlingException", "Rate exceeded"
        else:
            code = "InternalServerError" if status == 500 else "ServiceUnavailableException"
            msg = "injected by fault-proxy: the service is unavailable"
        headers.append(("x-amzn-ErrorType", code))
        body = json.dumps({"__type": code, "message": msg})
        ctype = "application/x-amz-json-1.1"
    data = body.encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
        status, reason, ctype, len(data))
    head += "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
    return head.encode() + data


def rst(writer):
    """Close a connection with a TCP reset (SO_LINGER 0) instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.close()


async def serve(client_r, client_w, target):
    OPEN.add(client_w)
    up_r = up_w = None
    try:
        while True:
            try:
                first, headers, head = await read_message(client_r, True)
                if headers.get("expect", "").lower() == "100-continue":
                    # The body is read here before anything is forwarded: say go on, and
                    # forward the request without the expectation.
                    client_w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    await client_w.drain()
                    head = re.sub(rb"(?im)^expect:[^\r\n]*\r\n", b"", head)
                body = await read_body(client_r, headers)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            service, operation = identify(first, headers, body)
            fault = FAULT.take(service, operation)
            LOG.append((service, operation, fault or "pass"))
            if FAULT.latency:
                await asyncio.sleep(FAULT.latency)
            if fault == "reset":
                rst(client_w)
                return
            if fault == "hang":
                HELD.add(client_w)
                await asyncio.Event().wait()  # until the proxy stops
            if fault in ("throttle", "5xx"):
                client_w.write(error_answer(fault, service, operation))
                await client_w.drain()
                continue
            # Forward it, and read the whole answer before passing it back.
            if up_w is None or up_w.is_closing():
                try:
                    up_r, up_w = await asyncio.open_connection(HOST, target)
                except OSError:
                    rst(client_w)  # the emulator is gone: as a reset
                    return
            try:
                up_w.write(head + body)
                await up_w.drain()
                status_line, rheaders, rhead = await read_message(up_r, False)
                code = int(status_line.split()[1])
                no_body = first.startswith("HEAD ") or code in (204, 304) or code < 200
                close = rheaders.get("connection", "").lower() == "close" or (
                    "content-length" not in rheaders and "transfer-encoding" not in rheaders
                    and not no_body)
                rbody = b"" if no_body else await read_body(up_r, rheaders, until_eof=close)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
                rst(client_w)
                return
            if fault == "drop":
                rst(client_w)
                return
            client_w.write(rhead + rbody)
            await client_w.drain()
            if close:
                up_w.close()
                up_w = None
                if headers.get("connection", "").lower() == "close":
                    client_w.close()
                    return
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        OPEN.discard(client_w)
        HELD.discard(client_w)
        if up_w is not None:
            up_w.close()
        if not client_w.is_closing():
            client_w.close()


async def control(reader, writer, state):
    try:
        first, headers, _ = await read_message(reader, True)
        body = (await read_body(reader, headers)).decode()
        method, path = first.split()[:2]
        status, answer = 200, {}
        if method == "POST" and path == "/fault":
            try:
                for line in body.splitlines():
                    line = line.strip()
                    if line == "down":
                        await state["down"]()
                    elif line == "up":
                        await state["up"]()
                    elif line:
                        FAULT.set(line)
                answer = FAULT.describe()
            except (ValueError, IndexError) as e:
                status, answer = 400, {"error": str(e)}
        elif method == "GET" and path == "/log":
            answer = {"requests": ["%s %s %s" % r for r in LOG]}
        elif method == "POST" and path == "/log/reset":
            LOG.clear()
        elif method == "GET" and path == "/state":
            answer = dict(FAULT.describe(), listening=state["server"] is not None,
                          open=len(OPEN), held=len(HELD))
        else:
            status, answer = 404, {"error": "unknown control path %s %s" % (method, path)}
        data = json.dumps(answer).encode()
        writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % (status, len(data)) + data)
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    listen, target, control_port = (int(a) for a in sys.argv[1:4])
    state = {"server": None}

    async def up():
        if state["server"] is None:
            state["server"] = await asyncio.start_server(
                lambda r, w: serve(r, w, target), HOST, listen, reuse_address=True)

    async def down():
        if state["server"] is not None:
            state["server"].close()
            state["server"] = None
        for w in list(OPEN):
            rst(w)
        HELD.clear()
        FAULT.set("pass")

    state["up"], state["down"] = up, down
    await up()
    ctl = await asyncio.start_server(lambda r, w: control(r, w, state), HOST, control_port)
    print("ready", flush=True)
    async with ctl:
        await ctl.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
