#!/usr/bin/env python3
"""RSS per idle WebSocket or SSE stream of a running process (the proxy, or a reference).

Opens N connections to URL, holds them idle, and reports the RSS growth of process PID divided
by N (`--pid` may be given more than once: a multi-process server such as nginx is measured as
the sum of its processes). ws:// URLs open WebSockets (the `websockets` package); http:// URLs open SSE streams
(plain HTTP/1.1 GETs kept reading). Example, with a release proxy in front of mock-backends:

    scripts/idle-streams.py --pid $(pgrep -f 'rampart -c') --url ws://127.0.0.1:8080/ws -n 4000
    scripts/idle-streams.py --pid $(pgrep -f 'rampart -c') --url 'http://127.0.0.1:8080/sse?interval=5s' -n 4000
"""
import argparse
import asyncio
import time
from urllib.parse import urlsplit


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            total += next(
                (int(line.split()[1]) for line in f if line.startswith("VmRSS:")), None
            ) or 0
    return total


async def open_ws(url):
    import websockets

    return await websockets.connect(url, ping_interval=None, max_size=None, compression=None)


async def open_sse(url):
    u = urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port or 80)
    path = u.path + (f"?{u.query}" if u.query else "")
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(head.decode(errors="replace"))

    async def drain():
        while await reader.read(65536):
            pass

    task = asyncio.create_task(drain())
    return (writer, task)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pid", type=int, required=True, action="append")
    p.add_argument("--url", required=True)
    p.add_argument("-n", type=int, default=4000)
    p.add_argument("--settle", type=float, default=3.0)
    a = p.parse_args()
    ws = a.url.startswith("ws")
    opener = open_ws if ws else open_sse
    before = rss_kib(a.pid)
    conns = []
    sem = asyncio.Semaphore(200)

    async def one():
        async with sem:
            conns.append(await opener(a.url))

    t = time.time()
    await asyncio.gather(*(one() for _ in range(a.n)))
    opened = time.time() - t
    await asyncio.sleep(a.settle)
    after = rss_kib(a.pid)
    if ws:
        # Still open and relaying: a round trip on a sample of them.
        for c in conns[:: max(1, a.n // 20)]:
            await c.send("ping")
            assert await c.recv() == "ping"
    kind = "WebSocket" if ws else "SSE stream"
    print(
        f"{a.n} idle {kind}s opened in {opened:.1f}s: RSS {before} -> {after} KiB, "
        f"{(after - before) / a.n:.2f} KiB per connection"
    )
    for c in conns:
        if ws:
            await c.close()
        else:
            c[0].close()
            c[1].cancel()


asyncio.run(main())
