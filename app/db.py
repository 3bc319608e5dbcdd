"""Engine and session factories. The request's session commits or rolls back; services flush."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# How long an SQLite statement waits for another connection's write lock before it fails with
# "database is locked". Statements run on the event loop (see `_InlineSQLite`), so this is also
# how long the loop can stall behind another process's write transaction; WAL keeps those short.
SQLITE_BUSY_TIMEOUT_S = 5.0


class _InlineSQLite(aiosqlite.Connection):
    """aiosqlite's connection, running each statement on the calling thread (the event loop).

    aiosqlite hands every call (execute, fetch, commit...) to a thread of its own and waits for
    the loop to pick up the result: several hand-offs per transaction, and a transaction holds
    the pooled connection across all of them, so under load every writer waits several turns of
    a busy loop. SQLite is a library, not a server: a statement on a WAL database takes
    microseconds, so here it runs inline and a transaction with no other await inside completes
    within one step of the loop. Connecting and closing still go through aiosqlite's thread.
    """

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _inline_sqlite_creator(database: str) -> Callable[[], Any]:
    async def connect() -> aiosqlite.Connection:
        connection = _InlineSQLite(
            partial(
                sqlite3.connect,
                database,
                timeout=SQLITE_BUSY_TIMEOUT_S,
                # Opened on aiosqlite's thread, used on the loop's thread.
                check_same_thread=False,
            ),
            iter_chunk_size=64,
        )
        connection._thread.daemon = True
        return await connection

    return connect


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout, foreign keys and inline statements."""
    if url.startswith("sqlite"):
        # SQLite has one writer at a time. One pooled connection per process makes writers
        # wait in the pool, in turn, rather than in SQLite's busy handler, which sleeps.
        kwargs = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60, **kwargs}
        database = make_url(url).database or ":memory:"
        engine = create_async_engine(url, async_creator=_inline_sqlite_creator(database), **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def session_scope(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
