"""A small HTTP/1.1 load generator: client processes, each with persistent connections driven by asyncio.

Pure Python (no wrk, no third-party client) and cheap per request, so on a small machine the server, not the
load generator, is what runs out of CPU. Every request is a POST of one of ``bodies`` (``@ID@`` in a body is
replaced by a unique id per request) with the given extra header lines.

    stats = run_load(port, "/path", [b'{"id": "@ID@"}'], clients=2, connections=8, seconds=5)
    stats["per_second"], stats["p50_ms"], stats["p99_ms"], stats["statuses"]
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time


def run_load(port: int, path: str, bodies: list[bytes], clients: int, connections: int, seconds: float,
             headers: dict[str, str] | None = None, ok_status: int = 200) -> dict:  # fmt: skip
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 1.0  # every client process imported and connected
    share = [bodies[i::clients] or bodies for i in range(clients)]
    procs = [
        ctx.Process(
            target=_client_process,
            args=(port, path, part, connections, seconds, start_at, headers or {}, ok_status, out),
        )  # fmt: skip
        for part in share
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for r in results for x in r[0])
    statuses: dict[int, int] = {}
    for r in results:
        for k, v in r[2].items():
            statuses[k] = statuses.get(k, 0) + v
    errors = sum(r[1] for r in results)
    return {
        "per_second": len(latencies) / seconds,
        "ok": len(latencies) - errors,
        "errors": errors,
        "statuses": statuses,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else None,
    }


def _client_process(port, path, bodies, connections, seconds, start_at, headers, ok_status, out) -> None:
    out.put(asyncio.run(_client(port, path, bodies, connections, seconds, start_at, headers, ok_status)))


async def _client(port, path, bodies, connections, seconds, start_at, headers, ok_status):
    lines = [f"POST {path} HTTP/1.1", f"host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")]
    head = ("\r\n".join(lines) + "\r\ncontent-length: ").encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    counter = iter(range(10**9))

    async def one_connection(c: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.time() < start_at:
            await asyncio.sleep(0.005)
        deadline = start_at + seconds
        while time.time() < deadline:
            n = next(counter)
            body = bodies[n % len(bodies)].replace(b"@ID@", b"%d-%d-%d" % (os.getpid(), c, n))
            started = time.perf_counter()
            writer.write(head + b"%d\r\n\r\n" % len(body) + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1]) if status_line else 0
            statuses[status] = statuses.get(status, 0) + 1
            if status != ok_status:
                errors += 1
        writer.close()

    await asyncio.gather(*(one_connection(c) for c in range(connections)))
    return latencies, errors, statuses
