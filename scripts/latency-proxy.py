#!/usr/bin/env python3
"""A loopback HTTP proxy that adds a fixed delay before each request, so a local
emulator answers like an AWS region (about 100 ms per call) and round trips, not
milliseconds, decide how long a command takes.

Usage: latency-proxy.py LISTEN_PORT TARGET_PORT [DELAY_MS]   (default 100 ms)
Listens on 127.0.0.1:LISTEN_PORT and forwards to 127.0.0.1:TARGET_PORT only. Requests are
told apart on keep-alive connections by their headers (Content-Length or chunked
bodies), so each request is delayed once, however many packets it takes; answers are
passed back as they come. Prints "ready" on stdout once it listens.
"""
import asyncio
import sys

HOST = "127.0.0.1"


async def copy_exactly(reader, writer, n):
    while n > 0:
        chunk = await reader.read(min(n, 65536))
        if not chunk:
            raise ConnectionError("closed mid-body")
        writer.write(chunk)
        n -= len(chunk)


async def copy_chunked(reader, writer):
    while True:
        size_line = await reader.readline()
        writer.write(size_line)
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while True:  # trailers, then the empty line
                line = await reader.readline()
                writer.write(line)
                if line in (b"\r\n", b"\n", b""):
                    return
        await copy_exactly(reader, writer, size + 2)  # data and its CRLF


async def requests(client, upstream, delay):
    """Client -> emulator, one request at a time, each after `delay` seconds."""
    while True:
        head = await client.readuntil(b"\r\n\r\n")
        await asyncio.sleep(delay)
        upstream.write(head)
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            if b":" in line:
                k, v = line.split(b":", 1)
                headers[k.strip().lower()] = v.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            await copy_chunked(client, upstream)
        else:
            await copy_exactly(client, upstream, int(headers.get(b"content-length", b"0")))
        await upstream.drain()


async def answers(upstream, client):
    while True:
        data = await upstream.read(65536)
        if not data:
            break
        client.write(data)
        await client.drain()


async def serve(client_r, client_w, target, delay):
    try:
        up_r, up_w = await asyncio.open_connection(HOST, target)
    except OSError:
        client_w.close()
        return
    tasks = [
        asyncio.create_task(requests(client_r, up_w, delay)),
        asyncio.create_task(answers(up_r, client_w)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except Exception:
        pass
    for t in tasks:
        t.cancel()
    for w in (up_w, client_w):
        w.close()


async def main():
    listen, target = int(sys.argv[1]), int(sys.argv[2])
    delay = (int(sys.argv[3]) if len(sys.argv) > 3 else 100) / 1000
    server = await asyncio.start_server(
        lambda r, w: serve(r, w, target, delay), HOST, listen
    )
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
