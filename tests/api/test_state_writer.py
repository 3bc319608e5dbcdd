"""SQLite's fast write of ordinary events (SQLiteStateWriter): same row as the ORM writes, no
wait when the database is busy, a lost race reported."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from sqlalchemy import select

from app.conversations.service import SQLiteStateWriter, _Cached, _store_params
from app.db import create_engine, create_sessionmaker
from app.dialogue.types import State
from app.migrations import upgrade
from app.models import Conversation


async def test_the_fast_write_stores_what_the_orm_reads_and_never_waits(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    engine = create_engine(url)
    maker = create_sessionmaker(engine)
    async with maker() as session:
        row = Conversation(channel="telegram", user_id="7", state={}, revision=0, active=False)
        session.add(row)
        await session.commit()
        row_id = row.id
    writer = SQLiteStateWriter.for_url(url, engine.dialect)
    assert writer is not None
    state = State(lang="ky", node="main.start", country="ru")
    stored = {"lang": "ky", "node": "main.start", "note": "Кыргызча <текст> & «кавычки»"}
    before = dt.datetime.now(dt.UTC)
    try:
        assert writer.write(_store_params(_Cached(row_id, 0, {}), state, stored)) is True
        # The same revision again: somebody (this write) came first.
        assert writer.write(_store_params(_Cached(row_id, 0, {}), state, stored)) is False

        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
        started = dt.datetime.now(dt.UTC)
        assert writer.write(_store_params(_Cached(row_id, 1, {}), state, stored)) is None
        assert dt.datetime.now(dt.UTC) - started < dt.timedelta(seconds=1)
        other.execute("ROLLBACK")
        other.close()
        assert writer.write(_store_params(_Cached(row_id, 1, {}), state, stored)) is True
    finally:
        writer.close()
    async with maker() as session:
        got = (await session.execute(select(Conversation))).scalar_one()
    await engine.dispose()
    assert got.state == stored
    assert (got.revision, got.lang, got.country, got.active) == (2, "ky", "ru", True)
    assert got.updated_at.tzinfo is not None and got.updated_at >= before


def test_no_writer_for_postgresql_or_memory() -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    assert SQLiteStateWriter.for_url("postgresql+psycopg://u@h/db", postgresql.dialect()) is None
    assert SQLiteStateWriter.for_url("sqlite+aiosqlite://", sqlite.dialect()) is None
