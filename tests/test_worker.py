from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from app.db import create_engine
from app.models import Conversation, OutboundMessage
from app.models.base import utcnow
from app.telegram.client import SendResult
from app.worker import CLAIM_SECONDS, clear_idle_state, send_outbox_once


async def test_idle_dialogue_state_is_forgotten_but_the_profile_kept(app: FastAPI) -> None:
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    state = {"lang": "ky", "node": "main:menu", "history": ["learn:start"], "country": "ru"}
    async with app.state.sessionmaker() as session:
        session.add_all(
            [
                Conversation(
                    channel="telegram",
                    user_id="old",
                    state=state,
                    lang="ky",
                    country="ru",
                    updated_at=now - dt.timedelta(days=200),
                ),
                Conversation(
                    channel="telegram",
                    user_id="recent",
                    state=state,
                    lang="ky",
                    updated_at=now - dt.timedelta(days=10),
                ),
            ]
        )
        await session.commit()
        assert await clear_idle_state(session, retention_days=180, now=now) == 1
        await session.commit()
        assert await clear_idle_state(session, retention_days=180, now=now) == 0
        rows = {c.user_id: c for c in (await session.execute(select(Conversation))).scalars()}
    assert rows["old"].state == {} and rows["old"].lang == "ky" and rows["old"].country == "ru"
    assert rows["recent"].state == state


class _Sender:
    """Stands in for BotApiClient: records what it sends; can write to the database meanwhile
    (through another engine, as another process would) or die mid-batch."""

    def __init__(self, url: str | None = None, die_after: int | None = None) -> None:
        self.sent: list[str] = []
        self.url, self.die_after = url, die_after

    async def send_markup(self, chat_id: str, message: str, buttons: object = None) -> SendResult:
        if self.die_after is not None and len(self.sent) == self.die_after:
            raise RuntimeError("the worker died")
        if self.url is not None:
            # Nobody holds a lock on the outbox while Telegram is called: another connection
            # writes to the same rows at once (else: "database is locked" / a lock timeout).
            statement = "UPDATE outbound_messages SET last_error = last_error"
            if self.url.startswith("sqlite"):
                path = make_url(self.url).database
                assert path is not None
                with sqlite3.connect(path, timeout=0.2) as other:
                    other.execute(statement)
                other.close()
            else:
                engine = create_engine(self.url)
                try:
                    async with engine.begin() as conn:
                        await conn.execute(text("SET LOCAL lock_timeout = '200ms'"))
                        await conn.execute(text(statement))
                finally:
                    await engine.dispose()
        self.sent.append(message)
        return SendResult(ok=True)


async def test_the_outbox_holds_no_transaction_while_sending(
    app: FastAPI, database_url: str
) -> None:
    async with app.state.sessionmaker() as session:
        session.add_all(
            OutboundMessage(channel="telegram", chat_id="5", text=t) for t in ("one", "two")
        )
        await session.commit()
    sender = _Sender(url=database_url)
    counts = await send_outbox_once(app.state.sessionmaker, sender)  # type: ignore[arg-type]
    assert counts == {"sent": 2, "failed": 0, "retry": 0} and sender.sent == ["one", "two"]


async def test_a_worker_that_dies_mid_batch_leaves_the_rest_to_send_later(app: FastAPI) -> None:
    async with app.state.sessionmaker() as session:
        session.add_all(
            OutboundMessage(channel="telegram", chat_id="5", text=t) for t in ("one", "two")
        )
        await session.commit()
    dying = _Sender(die_after=1)
    with pytest.raises(RuntimeError):
        await send_outbox_once(app.state.sessionmaker, dying)  # type: ignore[arg-type]
    # Claimed: not sent again at once by another worker...
    healthy = _Sender()
    assert await send_outbox_once(app.state.sessionmaker, healthy) == {  # type: ignore[arg-type]
        "sent": 0,
        "failed": 0,
        "retry": 0,
    }
    # ...but once the claim has run out, both are sent (at least once: "one" went out twice).
    later = utcnow() + dt.timedelta(seconds=CLAIM_SECONDS + 1)
    counts = await send_outbox_once(app.state.sessionmaker, healthy, now=later)  # type: ignore[arg-type]
    assert counts["sent"] == 2 and sorted(healthy.sent) == ["one", "two"]
