"""The conversation API under load, on SQLite, against a bare FastAPI endpoint as the ceiling.

In a temporary directory: a fresh SQLite database migrated by the real migrations, the content of
`content/` published into it, then the real app served by uvicorn in a subprocess on 127.0.0.1
(one worker process per core by default, `--workers`; no access log). The load generator
(loadgen.py: lean HTTP/1.1 keep-alive connections on asyncio) plays scripted sessions (walks.py),
each under a new user id, one event at a time per user. Each server gets two runs, each after
a warm-up:

- rate: events start at a fixed rate (the bar's 500/s), whatever the server does; latency is
  counted from when each event was due. This is the bar: does it sustain the rate, and what is p99.
- saturation: N users with no think time (a closed loop): the most events/s the server does.
  Its latency is mostly users waiting in line behind each other, by Little's law N / throughput.

The same is then done against bare_app.py (same route and body validation, no database, no
engine). Everything goes to 127.0.0.1 only; every loop ends by its deadline; the servers are
stopped and the temporary directory removed whatever happens.

    .venv/bin/python bench/api_bench.py [--duration 10] [--warmup 3] [--rate 500] [--users 50]
                                        [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from engine_bench import pct
from loadgen import LoadResult, Step, Users, closed_loop, open_loop
from walks import CONTENT_DIR, ROOT, Turn, load_content, make_pool, mix, service_answerer

from app.content.service import publish_directory_to
from app.migrations import upgrade

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"  # the only address this benchmark ever talks to
TOKEN = "bench-service-token-0123456789"
CHANNEL = "bench"
BAR_EVENTS_PER_S = 500
BAR_P99_MS = 50.0
# One uvicorn worker process per core, as one deploys it; both servers alike. With several, the
# app's processes share the SQLite file (per-user order holds: the revision check on every write).
WORKERS = os.cpu_count() or 1
MAX_IN_FLIGHT = 256  # open loop: users (connections) with an event in flight, at most
POOL = 400

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


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and of its children (uvicorn's worker processes)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return process_cpu_s(pid) + sum(process_cpu_s(child) for child in children)


@contextmanager
def serve(
    name: str,
    target: list[str],
    env: dict[str, str],
    workdir: Path,
    ready_path: str,
    workers: int = 1,
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
        "--workers",
        str(workers),
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


@contextmanager
def database(workdir: Path, postgres: str | None) -> Iterator[tuple[str, str]]:
    """A fresh database: an SQLite file in `workdir`, or with `postgres` (a server URL) a new
    database made on that server for this run and dropped after it. (URL, label)"""
    if postgres is None:
        yield f"sqlite+aiosqlite:///{workdir / 'jol.db'}", "SQLite"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(postgres.replace("postgresql+psycopg://", "postgresql://", 1))
    assert server.host in (HOST, "localhost", None), "the benchmark only talks to this machine"
    name = f"jol_bench_{os.getpid()}_{int(time.time())}"
    admin = server.render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = server.set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False), f"PostgreSQL ({name}, dropped after)"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_rows(url: str, table: str) -> int:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        with sqlite3.connect(path) as db:
            found: int = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        db.close()
        return found
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0


async def _publish(url: str, content_dir: Path) -> int:
    result = await publish_directory_to(url, content_dir=content_dir, review_max_age_days=10_000)
    return result.version


# -- the load ------------------------------------------------------------------------------------


def run_load(
    base: str,
    server_pid: int,
    pool: list[list[Turn]],
    *,
    mode: str,
    rate: float,
    users: int,
    warmup_s: float,
    duration_s: float,
    tag: str,
    check: bool,
) -> tuple[LoadResult, float, float]:
    """One timed run: the result, and the CPU seconds of the server and of the whole machine in
    the measuring window."""
    port = int(base.rsplit(":", 1)[1])
    sessions = [[Step(t.body, t.node if check else None) for t in s] for s in pool]

    async def go() -> tuple[LoadResult, tuple[float, float]]:
        start = time.monotonic_ns() + 100_000_000
        measure_from = start + int(warmup_s * 1e9)
        stop_at = measure_from + int(duration_s * 1e9)
        loader = Users(port, sessions, TOKEN, tag)

        async def cpu() -> tuple[float, float]:
            await asyncio.sleep(max(0.0, (measure_from - time.monotonic_ns()) / 1e9))
            server0, machine0 = tree_cpu_s(server_pid), machine_busy_s()
            await asyncio.sleep(max(0.0, (stop_at - time.monotonic_ns()) / 1e9))
            return tree_cpu_s(server_pid) - server0, machine_busy_s() - machine0

        if mode == "rate":
            load = open_loop(loader, rate, MAX_IN_FLIGHT, measure_from, stop_at, check)
        else:
            load = closed_loop(loader, users, measure_from, stop_at, check)
        return await asyncio.gather(load, cpu())

    res, (server_cpu_s, machine_cpu_s) = asyncio.run(go())
    return res, server_cpu_s, machine_cpu_s


# -- the benchmark ---------------------------------------------------------------------------------


def summarise(
    name: str, res: LoadResult, server_cpu_s: float, machine_cpu_s: float, duration_s: float
) -> dict[str, Any]:
    lat = sorted(res.latencies)
    srv = sorted(res.server)
    return {
        "name": name,
        "events_per_s": res.completed / duration_s,  # answered inside the window
        "ok": res.ok,
        "errors": sum(res.errors.values()),
        "error_kinds": dict(res.errors),
        "late_starts": res.late_starts,
        "p50_ms": pct(lat, 0.5) / 1e6,
        "p99_ms": pct(lat, 0.99) / 1e6,
        "max_ms": (lat[-1] / 1e6) if lat else 0.0,
        "server_p50_ms": pct(srv, 0.5) / 1e3,
        "server_p99_ms": pct(srv, 0.99) / 1e3,
        "server_cpu_pct": 100 * server_cpu_s / duration_s,
        "server_cpu_ms_per_event": 1000 * server_cpu_s / res.completed if res.completed else 0.0,
        "client_cpu_pct": 100 * res.client_cpu_s / duration_s,
        # Everything else that ran meanwhile (other processes on a shared machine, the kernel).
        "other_cpu_pct": max(
            0.0, 100 * (machine_cpu_s - server_cpu_s - res.client_cpu_s) / duration_s
        ),
    }


def run(
    duration_s: float = 10.0,
    warmup_s: float = 3.0,
    rate: float = BAR_EVENTS_PER_S,
    users: int = 50,
    content_dir: Path = CONTENT_DIR,
    workers: int = WORKERS,
    postgres: str | None = None,
) -> dict[str, Any]:
    content = load_content(content_dir)
    pool = make_pool(content, service_answerer(content), POOL, seed=7)
    turns = sum(len(s) for s in pool)
    fast = [m for m in ("uvloop", "httptools") if importlib.util.find_spec(m)]
    print(
        f"api: per server, {warmup_s:g} s warm-up + {duration_s:g} s measured for each run: "
        f"rate = {rate:g} events/s started on schedule (open loop); saturation = {users} users "
        "with no think time (closed loop)"
    )
    print(f"api: {POOL} scripted sessions ({turns} events, a new user id per session): {mix(pool)}")
    print(
        f"api: uvicorn, {workers} worker process(es) per server, loop/http: "
        f"{', '.join(fast) if fast else 'asyncio + h11 (uvloop and httptools not installed)'}"
    )

    backend = "SQLite" if postgres is None else "PostgreSQL"
    results: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="jol-bench-") as tmp,
        database(Path(tmp), postgres) as (db_url, db_label),
    ):
        workdir = Path(tmp)
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
        print(f"api: fresh {db_label} database, migrated, content version {version}")

        servers = [
            ("jol", ["servers:jol_app", "--factory"], "/readyz", True),
            ("bare", ["bare_app:app"], "/healthz", False),
        ]
        for name, target, ready, check in servers:
            with serve(name, target, env, workdir, ready, workers) as (base, proc):
                for mode in ("rate", "saturation"):
                    res, server_cpu_s, machine_cpu_s = run_load(
                        base,
                        proc.pid,
                        pool,
                        mode=mode,
                        rate=rate,
                        users=users,
                        warmup_s=warmup_s,
                        duration_s=duration_s,
                        tag=f"{name}-{mode}-{int(time.time())}",
                        check=check,
                    )
                    key = f"{name}_{mode}"
                    results[key] = summarise(key, res, server_cpu_s, machine_cpu_s, duration_s)
                    if res.errors:
                        print(f"  {key}: errors: {dict(res.errors)}")

        conversations = count_rows(db_url, "conversations")
        requests = count_rows(db_url, "consular_requests")
        print(
            f"api: the database now holds {conversations} conversations and {requests} "
            f"consular requests"
        )

    print(
        f"\n  {'':22}{'events/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'srv p50':>8}"
        f"{'srv p99':>8}{'errors':>7}{'late':>6}{'srv CPU':>8}{'ms/ev':>6}{'cli CPU':>8}"
        f"{'other':>7}"
    )
    labels = {
        "jol_rate": f"jol {backend} @{rate:g}/s",
        "bare_rate": f"bare FastAPI @{rate:g}/s",
        "jol_saturation": f"jol {backend}, {users} u.",
        "bare_saturation": f"bare FastAPI, {users} u.",
    }
    for key in ("jol_rate", "bare_rate", "jol_saturation", "bare_saturation"):
        r = results[key]
        print(
            f"  {labels[key]:22}{r['events_per_s']:>9,.0f}{r['p50_ms']:>8.1f}"
            f"{r['p99_ms']:>8.1f}{r['max_ms']:>8.1f}{r['server_p50_ms']:>8.1f}"
            f"{r['server_p99_ms']:>8.1f}{r['errors']:>7}{r['late_starts']:>6}"
            f"{r['server_cpu_pct']:>7.0f}%{r['server_cpu_ms_per_event']:>6.2f}"
            f"{r['client_cpu_pct']:>7.0f}%{r['other_cpu_pct']:>6.0f}%"
        )
    jol, bare = results["jol_saturation"], results["bare_saturation"]
    ratio = jol["events_per_s"] / bare["events_per_s"] if bare["events_per_s"] else 0.0
    print(f"  jol/bare events/s at saturation: {ratio:.2f}")
    print(
        "  (rate: events started on schedule; p50/p99/max from when each was due, so waiting\n"
        "   for the server counts; late = events that found every user busy when due.\n"
        "   saturation: latency there is mostly the queue of users, N / throughput.\n"
        "   srv p50/p99: the server's own time per request (x-server-time-us); ms/ev: server\n"
        "   CPU per event. CPU: % of one core in the window (2 cores = 200%): server, load\n"
        "   generator, other = everything else on the machine; high other means noisy figures)"
    )
    for key, r in results.items():
        if r["other_cpu_pct"] >= 20:
            print(
                f"  WARNING: other processes used {r['other_cpu_pct']:.0f}% of a core during "
                f"{key}: its figures are lower than this machine can do"
            )
    at_rate = results["jol_rate"]
    sustained = (
        at_rate["events_per_s"] >= 0.98 * rate
        and at_rate["errors"] == 0
        and at_rate["late_starts"] == 0
    )
    ok_rate = sustained and rate >= BAR_EVENTS_PER_S
    ok_p99 = ok_rate and at_rate["p99_ms"] < BAR_P99_MS
    print(
        f"\n  bar: sustains >= {BAR_EVENTS_PER_S} events/s on {backend}: "
        f"{at_rate['events_per_s']:.0f} of {rate:g} started, {at_rate['errors']} errors "
        f"(saturation {jol['events_per_s']:.0f}/s) -> {'PASS' if ok_rate else 'MISS'}"
    )
    print(
        f"  bar: p99 < {BAR_P99_MS:g} ms at that rate: {at_rate['p99_ms']:.1f} ms -> "
        f"{'PASS' if ok_p99 else 'MISS'}"
    )
    return {
        "database": backend,
        "rate": rate,
        "workers": workers,
        "users": users,
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        **results,
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
    parser.add_argument("--rate", type=float, default=BAR_EVENTS_PER_S, help="events/s, open loop")
    parser.add_argument("--users", type=int, default=50, help="users of the saturation run")
    parser.add_argument("--content", type=Path, default=CONTENT_DIR, help="content directory")
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help="uvicorn worker processes per server"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on PostgreSQL instead: a server on this machine (a database is created for "
        "the run and dropped after), e.g. postgresql://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()
    run(
        args.duration, args.warmup, args.rate, args.users, args.content, args.workers, args.postgres
    )


if __name__ == "__main__":
    main()
