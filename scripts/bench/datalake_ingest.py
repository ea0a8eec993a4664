#!/usr/bin/env python3
"""Ingest N records into a served datalake handler, read them back, export them.

    datalake_ingest.py BASE_URL TOKEN [RECORDS] [BATCH]

BASE_URL is the served capability (`stackpro dev datalake`: http://127.0.0.1:PORT/lambda-url/datalake).
Prints wall times, records per second and the export's bytes. Loopback only; bounded."""
import json
import sys
import time
import urllib.request
from urllib.parse import urlparse


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status, json.loads(r.read())


def main():
    base, token = sys.argv[1], sys.argv[2]
    assert urlparse(base).hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
    total = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    schema = {"type": "object", "required": ["value", "label"], "additionalProperties": False,
              "properties": {"value": {"type": "integer"}, "label": {"type": "string"}}}
    status, d = call(base, token, "POST", "/v1/datasets", {"name": "bench", "schema": schema})
    assert status == 201, d
    ds = d["id"]
    started = time.monotonic()
    for start in range(0, total, size):
        batch = [{"value": i, "label": f"record {i}"} for i in range(start, min(total, start + size))]
        status, r = call(base, token, "POST", f"/v1/datasets/{ds}/records", {"records": batch})
        assert status == 201 and r["accepted"] == len(batch), r
    ingest = time.monotonic() - started
    started = time.monotonic()
    seen, cursor = 0, None
    while True:
        q = "?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        status, page = call(base, token, "GET", f"/v1/datasets/{ds}/records{q}")
        seen += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    read = time.monotonic() - started
    assert seen == total, (seen, total)
    started = time.monotonic()
    status, e = call(base, token, "POST", f"/v1/datasets/{ds}/exports", {})
    export = time.monotonic() - started
    assert status == 201 and e["records"] == total, e
    print(f"ingest: {total} records in batches of {size}: {ingest:.2f} s, {total / ingest:.0f} records/s")
    print(f"read back: {seen} records in pages of 1000: {read:.2f} s")
    print(f"export: {e['records']} records, {len(e['objects'])} object(s), {e['bytes']} bytes gzipped: {export:.2f} s")


if __name__ == "__main__":
    main()
