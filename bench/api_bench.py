"""The conversation API under load, on SQLite, against a bare FastAPI endpoint as the ceiling.

In a temporary directory: a fresh SQLite database migrated by the real migrations, the content of
`content/` published into it, then the real app served by uvicorn in a subprocess on 127.0.0.1 (one
worker process, no access log). The load generator is an asyncio httpx client (HTTP/1.1 keep-alive,
a bounded pool of connections) running N simulated users; each plays scripted sessions (walks.py)
one event at a time, each session under a new user id, with no think time (a closed loop). After
a warm-up, every response completed inside the measuring window counts. The same is then done
against bare_app.py (same route and body validation, no database, no engine).

Everything goes to 127.0.0.1 only; every loop ends by its deadline or a request cap; the servers
are stopped and the temporary directory removed whatever happens.

    .venv/bin/python bench/api_bench.py [--duration 10] [--warmup 3] [--users 50] [--conns 32]
                                        [--client-procs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from engine_bench import pct
from walks import CONTENT_DIR, ROOT, Turn, load_content, make_pool, mix, service_answerer

from app.content.service import publish_directory_to
from app.migrations import upgrade

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"  # the only address this benchmark ever talks to
TOKEN = "bench-service-token-0123456789"
CHANNEL = "bench"
BAR_EVENTS_PER_S = 500
BAR_P99_MS = 50.0
REQUEST_CAP = 2_000_000  # a hard bound on requests per load run, whatever the clock says
POOL = 400

if importlib.util.find_spec("sniffio") is None:
    # httpcore 1.0 runs `import sniffio` on every request and, when it is not installed, pays
    # for a failed import (a search of sys.path, ~65 µs here) each time. A None entry in
    # sys.modules makes that import fail at once. Only this client process is affected.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


# -- the servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def machine_busy_s() -> float:
    """CPU seconds all processes of the machine spent busy so far (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(v) for i, v in enumerate(fields[:8]) if i not in (3, 4))  # all but idle, iowait
    return busy / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (from /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(
    name: str, target: list[str], env: dict[str, str], workdir: Path, ready_path: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start `uvicorn <target>` on a free port of 127.0.0.1; always stop it."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        *target,
        "--app-dir",
        str(BENCH),
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=base, trust_env=False, timeout=5) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} server exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}"
                    )
                try:
                    if client.get(ready_path).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{name} server not ready in 60 s:\n{log_path.read_text()[-3000:]}"
                    )
                time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        problems = [
            line
            for line in log_path.read_text(errors="replace").splitlines()
            if "Traceback" in line or " ERROR" in line or "Error" in line
        ]
        if problems:
            print(f"  {name} server log has {len(problems)} error lines, first: {problems[0]}")


async def _publish(url: str, content_dir: Path) -> int:
    result = await publish_directory_to(url, content_dir=content_dir, review_max_age_days=10_000)
    return result.version


# -- the load generator ----------------------------------------------------------------------------


@dataclass
class LoadResult:
    latencies: list[int] = field(default_factory=list)  # ns, responses completed in the window
    server: list[int] = field(default_factory=list)  # µs, the server's own x-server-time-us
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    client_cpu_s: float = 0.0
    sent: int = 0

    def merge(self, other: LoadResult) -> None:
        self.latencies += other.latencies
        self.server += other.server
        self.ok += other.ok
        self.errors.update(other.errors)
        self.client_cpu_s += other.client_cpu_s
        self.sent += other.sent


async def load(
    base: str,
    pool: list[list[Turn]],
    users: range,
    conns: int,
    tag: str,
    measure_from: int,
    stop_at: int,
    check: bool,
) -> LoadResult:
    """Simulated users `users` against `base` until `stop_at` (time.monotonic_ns)."""
    assert base.startswith(f"http://{HOST}:"), base
    res = LoadResult()
    clock = time.monotonic_ns
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=120)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    async def user(u: int, client: httpx.AsyncClient) -> None:
        k = 0
        while clock() < stop_at and res.sent < REQUEST_CAP:
            session = pool[(u + k * 97) % len(pool)]
            url = f"/v1/conversations/{CHANNEL}/{tag}-{u}-{k}/events"
            k += 1
            for turn in session:
                if clock() >= stop_at or res.sent >= REQUEST_CAP:
                    return
                res.sent += 1
                error = None
                t0 = clock()
                try:
                    response = await client.post(url, content=turn.body)
                    if response.status_code != 200:
                        error = f"HTTP {response.status_code}"
                    else:
                        body = response.json()
                        if check and body["state"]["node"] != turn.node:
                            error = "diverged from the scripted walk"
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
                    response = None
                t1 = clock()
                if measure_from <= t1 < stop_at:
                    if error:
                        res.errors[error] += 1
                    else:
                        res.ok += 1
                        res.latencies.append(t1 - t0)
                        assert response is not None
                        res.server.append(int(response.headers.get("x-server-time-us", 0)))
                if error:
                    break  # this user's state is unknown now: start a new user

    async def cpu_marks() -> None:
        await asyncio.sleep(max(0.0, (measure_from - clock()) / 1e9))
        cpu0 = time.process_time()
        await asyncio.sleep(max(0.0, (stop_at - clock()) / 1e9))
        res.client_cpu_s = time.process_time() - cpu0

    # One client with a one-connection pool per connection, users spread over them: a single
    # shared httpx pool spends most of the client's CPU arbitrating between waiting requests.
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base,
                    limits=limits,
                    headers=headers,
                    trust_env=False,
                    timeout=httpx.Timeout(30.0),
                    http1=True,
                    http2=False,
                )
            )
            for _ in range(conns)
        ]
        await asyncio.gather(
            cpu_marks(), *(user(u, clients[i % conns]) for i, u in enumerate(users))
        )
    return res


def _load_in_process(args: tuple[Any, ...]) -> LoadResult:
    return asyncio.run(load(*args))


def run_load(
    base: str,
    server_pid: int,
    pool: list[list[Turn]],
    *,
    users: int,
    conns: int,
    procs: int,
    warmup_s: float,
    duration_s: float,
    tag: str,
    check: bool,
) -> tuple[LoadResult, float, float]:
    """One timed load run: the merged result, and the CPU seconds of the server and of the whole
    machine in the measuring window."""
    start = time.monotonic_ns() + 200_000_000  # room for the client processes to start
    measure_from = start + int(warmup_s * 1e9)
    stop_at = measure_from + int(duration_s * 1e9)
    total = LoadResult()
    if procs == 1:
        jobs = []
    else:
        ctx = multiprocessing.get_context("fork")
        shares = [range(i, users, procs) for i in range(procs)]
        per_conns = max(1, conns // procs)
        pool_proc = ctx.Pool(procs)
        jobs = [
            pool_proc.apply_async(
                _load_in_process,
                ((base, pool, share, per_conns, tag, measure_from, stop_at, check),),
            )
            for share in shares
        ]
    try:
        if procs == 1:

            async def single() -> tuple[LoadResult, tuple[float, float]]:
                async def cpu() -> tuple[float, float]:
                    await asyncio.sleep(max(0.0, (measure_from - time.monotonic_ns()) / 1e9))
                    server0, machine0 = process_cpu_s(server_pid), machine_busy_s()
                    await asyncio.sleep(max(0.0, (stop_at - time.monotonic_ns()) / 1e9))
                    return process_cpu_s(server_pid) - server0, machine_busy_s() - machine0

                return await asyncio.gather(
                    load(base, pool, range(users), conns, tag, measure_from, stop_at, check), cpu()
                )

            got, (server_cpu_s, machine_cpu_s) = asyncio.run(single())
            total.merge(got)
        else:
            time.sleep(max(0.0, (measure_from - time.monotonic_ns()) / 1e9))
            server0, machine0 = process_cpu_s(server_pid), machine_busy_s()
            time.sleep(max(0.0, (stop_at - time.monotonic_ns()) / 1e9))
            server_cpu_s = process_cpu_s(server_pid) - server0
            machine_cpu_s = machine_busy_s() - machine0
            for job in jobs:
                total.merge(job.get(timeout=duration_s + warmup_s + 120))
    finally:
        if procs != 1:
            pool_proc.close()
            pool_proc.join()
    return total, server_cpu_s, machine_cpu_s


# -- the benchmark ---------------------------------------------------------------------------------


def summarise(
    name: str, res: LoadResult, server_cpu_s: float, machine_cpu_s: float, duration_s: float
) -> dict[str, Any]:
    lat = sorted(res.latencies)
    srv = sorted(res.server)
    return {
        "name": name,
        "events_per_s": res.ok / duration_s,
        "ok": res.ok,
        "errors": sum(res.errors.values()),
        "error_kinds": dict(res.errors),
        "p50_ms": pct(lat, 0.5) / 1e6,
        "p99_ms": pct(lat, 0.99) / 1e6,
        "max_ms": (lat[-1] / 1e6) if lat else 0.0,
        "server_p50_ms": pct(srv, 0.5) / 1e3,
        "server_p99_ms": pct(srv, 0.99) / 1e3,
        "server_cpu_pct": 100 * server_cpu_s / duration_s,
        "client_cpu_pct": 100 * res.client_cpu_s / duration_s,
        # Everything else that ran meanwhile (other processes on a shared machine, the kernel).
        "other_cpu_pct": max(
            0.0, 100 * (machine_cpu_s - server_cpu_s - res.client_cpu_s) / duration_s
        ),
    }


def run(
    duration_s: float = 10.0,
    warmup_s: float = 3.0,
    users: int = 50,
    conns: int = 32,
    client_procs: int = 1,
    content_dir: Path = CONTENT_DIR,
) -> dict[str, Any]:
    content = load_content(content_dir)
    pool = make_pool(content, service_answerer(content), POOL, seed=7)
    turns = sum(len(s) for s in pool)
    fast = [m for m in ("uvloop", "httptools") if importlib.util.find_spec(m)]
    print(
        f"api: {users} users over {conns} keep-alive connections, {client_procs} client "
        f"process(es); {warmup_s:g} s warm-up + {duration_s:g} s measured per server"
    )
    print(f"api: {POOL} scripted sessions ({turns} events, a new user id per session): {mix(pool)}")
    print(
        f"api: uvicorn 1 process, loop/http: "
        f"{', '.join(fast) if fast else 'asyncio + h11 (uvloop and httptools not installed)'}"
    )

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="jol-bench-") as tmp:
        workdir = Path(tmp)
        db_url = f"sqlite+aiosqlite:///{workdir / 'jol.db'}"
        upgrade(db_url)
        version = asyncio.run(_publish(db_url, content_dir))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("JOL_", "TELEGRAM_", "DATABASE_URL"))
            and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        env.update(
            {
                "DATABASE_URL": db_url,
                "JOL_SERVICE_TOKEN": TOKEN,
                "JOL_ENV": "test",
                "JOL_DATA_DIR": str(workdir),
                "JOL_CONTENT_DIR": str(content_dir),
                "JOL_CONTENT_REFRESH_SECONDS": "2",
                "JOL_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
                "NO_PROXY": "*",
            }
        )
        print(f"api: fresh SQLite database in {tmp}, migrated, content version {version}")

        runs = [
            ("jol", ["servers:jol_app", "--factory"], "/readyz", True),
            ("bare", ["bare_app:app"], "/healthz", False),
        ]
        for name, target, ready, check in runs:
            with serve(name, target, env, workdir, ready) as (base, proc):
                res, server_cpu_s, machine_cpu_s = run_load(
                    base,
                    proc.pid,
                    pool,
                    users=users,
                    conns=conns,
                    procs=client_procs,
                    warmup_s=warmup_s,
                    duration_s=duration_s,
                    tag=f"{name}{int(time.time())}",
                    check=check,
                )
            results[name] = summarise(name, res, server_cpu_s, machine_cpu_s, duration_s)
            if res.errors:
                print(f"  {name}: errors: {dict(res.errors)}")

        with sqlite3.connect(workdir / "jol.db") as db:
            conversations = db.execute("SELECT count(*) FROM conversations").fetchone()[0]
            requests = db.execute("SELECT count(*) FROM consular_requests").fetchone()[0]
        db.close()
        print(
            f"api: the database now holds {conversations} conversations and {requests} "
            f"consular requests"
        )

    jol, bare = results["jol"], results["bare"]
    print(
        f"\n  {'':14}{'events/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'srv p50':>8}"
        f"{'srv p99':>8}{'errors':>7}{'srv CPU':>8}{'cli CPU':>8}{'other':>7}"
    )
    labels = {"jol": "jol SQLite", "bare": "bare FastAPI"}
    for r in (jol, bare):
        print(
            f"  {labels[r['name']]:14}{r['events_per_s']:>9,.0f}{r['p50_ms']:>8.1f}"
            f"{r['p99_ms']:>8.1f}{r['max_ms']:>8.1f}{r['server_p50_ms']:>8.1f}"
            f"{r['server_p99_ms']:>8.1f}{r['errors']:>7}{r['server_cpu_pct']:>7.0f}%"
            f"{r['client_cpu_pct']:>7.0f}%{r['other_cpu_pct']:>6.0f}%"
        )
    ratio = jol["events_per_s"] / bare["events_per_s"] if bare["events_per_s"] else 0.0
    print(f"  jol/bare events/s: {ratio:.2f}")
    print(
        "  (p50/p99/max: latency as the client saw it, queueing for a connection included;\n"
        "   srv p50/p99: the server's own time per request, from the x-server-time-us header;\n"
        "   CPU: % of one core in the window (2 cores = 200%): server, load generator, and\n"
        "   other = everything else on the machine, e.g. other jobs; high means noisy figures)"
    )
    for r in (jol, bare):
        if r["other_cpu_pct"] >= 20:
            print(
                f"  WARNING: other processes used {r['other_cpu_pct']:.0f}% of a core during "
                f"the {r['name']} run: its figures are lower than this machine can do"
            )
    for r in (jol, bare):
        if r["client_cpu_pct"] >= 85:
            print(
                f"  note: the load generator used {r['client_cpu_pct']:.0f}% of a core against "
                f"{r['name']}: it is the limit there, so {r['events_per_s']:,.0f} events/s is "
                f"a floor for that server, not its ceiling"
            )
        elif r["server_cpu_pct"] >= 85:
            print(
                f"  note: the {r['name']} server used {r['server_cpu_pct']:.0f}% of a core "
                f"(it runs one process): the server is the limit there, not the generator"
            )
        elif r["other_cpu_pct"] < 20:
            print(
                f"  note: neither the {r['name']} server ({r['server_cpu_pct']:.0f}% of a core) "
                f"nor the generator ({r['client_cpu_pct']:.0f}%) is saturated: requests wait "
                "on something inside the server (a lock, a pooled connection)"
            )
    ok_rate = jol["events_per_s"] >= BAR_EVENTS_PER_S
    ok_p99 = jol["p99_ms"] < BAR_P99_MS
    print(
        f"\n  bar: >= {BAR_EVENTS_PER_S} events/s on SQLite: {jol['events_per_s']:.0f} -> "
        f"{'PASS' if ok_rate else 'MISS'}"
    )
    print(
        f"  bar: p99 < {BAR_P99_MS:g} ms on SQLite: {jol['p99_ms']:.1f} ms -> "
        f"{'PASS' if ok_p99 else 'MISS'}"
    )
    return {
        "users": users,
        "conns": conns,
        "client_procs": client_procs,
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        "jol": jol,
        "bare": bare,
        "ratio": ratio,
        "pass_rate": ok_rate,
        "pass_p99": ok_p99,
        "conversations": conversations,
        "consular_requests": requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--client-procs", type=int, default=1, choices=(1, 2))
    parser.add_argument("--content", type=Path, default=CONTENT_DIR, help="content directory")
    args = parser.parse_args()
    run(args.duration, args.warmup, args.users, args.conns, args.client_procs, args.content)


if __name__ == "__main__":
    main()
