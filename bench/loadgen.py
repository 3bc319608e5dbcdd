"""A lean HTTP/1.1 load generator for the API benchmark: keep-alive connections on asyncio
streams, one request at a time per connection, requests prepared as bytes in advance.

httpx spent about 1.9 ms of CPU per request here, so on this 2-core machine the generator, not
the server, set the ceiling of the bare endpoint and took a core the server needs. This client
spends a small fraction of that; it speaks only what the benchmark needs (POST with a JSON body,
a response with Content-Length) and treats anything else as an error.

Two ways to load a server:
- `closed_loop`: N users, each sending its next event as soon as the last one is answered: the
  most the server does (saturation). Latency then only says how many users wait in line.
- `open_loop`: events start at a fixed rate whatever the server does, each given to a user whose
  last event is answered. Latency counts from when an event was due, so a server that falls
  behind is charged for the wait (no coordinated omission). This is what "sustains R events/s
  with p99 under X" means.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

HOST = "127.0.0.1"  # the only address this generator ever talks to
HEADER_TIMING = b"x-server-time-us"


class ProtocolError(Exception):
    pass


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def post(self, request: bytes) -> tuple[int, bytes, int]:
        """Send a prepared request; (status, body, server time in µs or 0)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, server_us = -1, 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == HEADER_TIMING:
                server_us = int(value)
        if length < 0:
            raise ProtocolError("response without Content-Length")
        body = await self.reader.readexactly(length)
        return status, body, server_us

    def close(self) -> None:
        self.writer.close()


def prepare(port: int, path: str, body: bytes, token: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@dataclass
class Step:
    body: bytes
    node: str | None  # where the user must be afterwards (None: do not check)


@dataclass
class LoadResult:
    latencies: list[int] = field(default_factory=list)  # ns, completed inside the window
    server: list[int] = field(default_factory=list)  # µs, the server's own time
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    late_starts: int = 0  # open loop: events that found no idle user when due
    completed: int = 0  # answered without error inside the window (throughput)
    client_cpu_s: float = 0.0


class Users:
    """Scripted sessions handed out in turn, each under a new user id."""

    def __init__(self, port: int, sessions: list[list[Step]], token: str, tag: str) -> None:
        self.port, self.sessions, self.token, self.tag = port, sessions, token, tag
        self.count = 0

    def new(self) -> Iterator[tuple[bytes, str | None]]:
        k = self.count
        self.count += 1
        path = f"/v1/conversations/bench/{self.tag}-{k}/events"
        for turn in self.sessions[k % len(self.sessions)]:
            yield prepare(self.port, path, turn.body, self.token), turn.node


async def _send(
    conn: Connection, request: bytes, node: str | None, check: bool
) -> tuple[str | None, int]:
    try:
        status, body, server_us = await conn.post(request)
    except (OSError, asyncio.IncompleteReadError, ProtocolError, ValueError) as exc:
        return type(exc).__name__, 0
    if status != 200:
        return f"HTTP {status}", server_us
    if check and json.loads(body)["state"]["node"] != node:
        return "diverged from the scripted walk", server_us
    return None, server_us


async def closed_loop(
    users: Users, n_users: int, measure_from: int, stop_at: int, check: bool
) -> LoadResult:
    """`n_users` users on a connection each, no think time, until `stop_at` (monotonic ns)."""
    res = LoadResult()
    clock = time.monotonic_ns

    async def user() -> None:
        conn = await Connection.open(users.port)
        try:
            while clock() < stop_at:
                for request, node in users.new():
                    if clock() >= stop_at:
                        return
                    t0 = clock()
                    error, server_us = await _send(conn, request, node, check)
                    t1 = clock()
                    if measure_from <= t1 < stop_at:
                        _record(res, error, t1 - t0, server_us)
                        res.completed += not error
                    if error:
                        conn.close()
                        conn = await Connection.open(users.port)
                        break  # this user's state is unknown now: a new user
        finally:
            conn.close()

    cpu0 = await _cpu_at(measure_from)
    tasks = [asyncio.create_task(user()) for _ in range(n_users)]
    res.client_cpu_s = await _cpu_at(stop_at) - cpu0
    await asyncio.gather(*tasks)
    return res


async def open_loop(
    users: Users, rate: float, max_users: int, measure_from: int, stop_at: int, check: bool
) -> LoadResult:
    """An event every 1/rate s from now until `stop_at`, to an idle user (a new one if none is
    idle, up to `max_users` in flight); latency from the moment the event was due."""
    res = LoadResult()
    clock = time.monotonic_ns
    idle: deque[tuple[Connection, Iterator[tuple[bytes, str | None]]]] = deque()
    in_flight = 0
    freed = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    async def run(
        conn: Connection,
        walk: Iterator[tuple[bytes, str | None]],
        due: int,
        request: bytes,
        node: str | None,
    ) -> None:
        nonlocal in_flight
        error, server_us = await _send(conn, request, node, check)
        t1 = clock()
        if measure_from <= due < stop_at:
            _record(res, error, t1 - due, server_us)
        if not error and measure_from <= t1 < stop_at:
            res.completed += 1
        if error:
            conn.close()
        else:
            idle.append((conn, walk))
        in_flight -= 1
        freed.set()

    cpu0 = None
    start = clock()
    interval = 1e9 / rate
    i = 0
    while True:
        due = start + int(i * interval)
        if due >= stop_at:
            break
        i += 1
        now = clock()
        if due > now:
            await asyncio.sleep((due - now) / 1e9)
        if cpu0 is None and clock() >= measure_from:
            cpu0 = time.process_time()
        while True:
            if idle:
                conn, walk = idle.popleft()
                nxt = next(walk, None)
                if nxt is None:  # the session is over: the connection serves a new user
                    walk = users.new()
                    nxt = next(walk)
                break
            if in_flight < max_users:
                conn, walk = await Connection.open(users.port), users.new()
                nxt = next(walk)
                break
            if measure_from <= due:
                res.late_starts += 1
            freed.clear()
            await freed.wait()
        in_flight += 1
        task = asyncio.create_task(run(conn, walk, due, *nxt))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    res.client_cpu_s = time.process_time() - (cpu0 if cpu0 is not None else time.process_time())
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    for conn, _ in idle:
        conn.close()
    return res


def _record(res: LoadResult, error: str | None, latency_ns: int, server_us: int) -> None:
    if error:
        res.errors[error] += 1
    else:
        res.ok += 1
        res.latencies.append(latency_ns)
        res.server.append(server_us)


async def _cpu_at(when_ns: int) -> float:
    await asyncio.sleep(max(0.0, (when_ns - time.monotonic_ns()) / 1e9))
    return time.process_time()
