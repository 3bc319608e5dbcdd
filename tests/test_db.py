"""The SQLite engine runs statements on the event loop's thread (app/db.py, `_InlineSQLite`)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlalchemy import text

from app.db import create_engine


async def test_sqlite_statements_run_on_the_loop_thread(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    seen: list[int] = []
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            sqlite_conn = raw.driver_connection._conn  # type: ignore[union-attr]
            sqlite_conn.create_function("thread_id", 0, lambda: seen.append(threading.get_ident()))
            await conn.execute(text("SELECT thread_id()"))
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
    finally:
        await engine.dispose()
    assert seen == [threading.get_ident()]
    assert mode == "wal"


async def test_a_transaction_does_not_yield_to_the_loop(tmp_path: Path) -> None:
    """Nothing else runs between BEGIN and COMMIT, so a second connection never finds the
    write lock taken by a transaction that waits for the loop."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with engine.connect() as conn:
            before = ticks
            async with conn.begin():
                for i in range(50):
                    await conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": i})
            during = ticks - before
    finally:
        stop = True
        await task
        await engine.dispose()
    assert during == 0
