from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from sqlalchemy import select

from app.models import Conversation
from app.worker import clear_idle_state


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
