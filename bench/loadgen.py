"""A small HTTP/1.1 keep-alive load generator on raw asyncio sockets (closed and open loop).

Lives beside the benchmarks (not in a package) because only ``bench/serving.py`` and the serving tests use it.
A Python client such as httpx costs more CPU per request than the server under test; writing pre-built
request bytes and reading ``Content-Length``/chunked bodies keeps the generator's share of the two cores small.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoadResult:
    """Latencies in milliseconds of the requests that completed, and how many failed."""

    latencies_ms: list[float] = field(default_factory=list)
    send_late_ms: list[float] = field(default_factory=list)
    """Open loop: how late each request left against its schedule (the generator's own error)."""
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, float | int]:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.asarray([np.nan])
        done = len(self.latencies_ms)
        out: dict[str, float | int] = {
            "requests": done + self.errors,
            "rps": round(done / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2),
            "max_ms": round(float(np.max(lat)), 2),
            "errors": self.errors,
        }
        if self.send_late_ms:
            out["send_late_p99_ms"] = round(float(np.percentile(self.send_late_ms, 99)), 3)
        return out


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    marker = lower.find(b"content-length:")
    if marker >= 0:
        end = lower.find(b"\r\n", marker)
        await reader.readexactly(int(lower[marker + 15 : end]))
        return status
    if b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                return status
    return status


async def _connect(host: str, port: int):
    return await asyncio.open_connection(host, port)


async def closed_loop(host: str, port: int, payloads: list[bytes], concurrency: int, requests: int,
                      max_seconds: float) -> LoadResult:
    """``concurrency`` connections each send the next request when the previous answer arrived."""
    result = LoadResult()
    counter = iter(range(requests))
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        reader, writer = await _connect(host, port)
        try:
            for i in counter:
                if time.perf_counter() > deadline:
                    break
                t0 = time.perf_counter()
                writer.write(payloads[i % len(payloads)])
                status = await _read_response(reader)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status >= 400:
                    result.errors += 1
                else:
                    result.latencies_ms.append((time.perf_counter() - t0) * 1e3)
        except (OSError, asyncio.IncompleteReadError):
            result.errors += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - start
    return result


TIMER_SLACK = 0.0015
"""Seconds before its schedule that the open loop's sender wakes. The event loop's timers wait in whole
milliseconds (epoll), rounded up, so a plain ``asyncio.sleep`` to the schedule left a request late by 0.66 ms at
the median and 1.19 ms at the 99th percentile (``bench/serving_parts.py``, no server), and that lateness counted as the
service's latency. The sender now sleeps to this much before the schedule and yields to the event loop (which
keeps reading answers) until the schedule: requests leave within microseconds, at the cost of some CPU."""


async def leave_at(scheduled: float) -> None:
    """Return at ``scheduled`` (a ``time.perf_counter()`` value), within microseconds (see :data:`TIMER_SLACK`)."""
    delay = scheduled - time.perf_counter() - TIMER_SLACK
    if delay > 0:
        await asyncio.sleep(delay)
    while time.perf_counter() < scheduled:  # the last stretch: keep serving answers, leave on time
        await asyncio.sleep(0)


async def open_loop(host: str, port: int, payloads: list[bytes], rate: float, seconds: float,
                    max_connections: int = 64) -> LoadResult:
    """Send at a fixed offered ``rate``; latency counts from the scheduled send time (no coordinated omission).

    ``send_late_ms`` records how late each request left (see :data:`TIMER_SLACK`)."""
    result = LoadResult()
    pool: asyncio.Queue = asyncio.Queue()
    opened = 0
    total = int(rate * seconds)

    async def one(i: int, scheduled: float) -> None:
        nonlocal opened
        if pool.empty() and opened < max_connections:
            opened += 1
            conn = await _connect(host, port)
        else:
            conn = await pool.get()
        reader, writer = conn
        try:
            writer.write(payloads[i % len(payloads)])
            status = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError):
            result.errors += 1
            writer.close()
            opened -= 1
            return
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if status >= 400:
            result.errors += 1
        else:
            result.latencies_ms.append((time.perf_counter() - scheduled) * 1e3)
        pool.put_nowait(conn)

    start = time.perf_counter()
    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        await leave_at(scheduled)
        result.send_late_ms.append((time.perf_counter() - scheduled) * 1e3)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait()[1].close()
    return result
