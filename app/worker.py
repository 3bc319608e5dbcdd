"""The background worker: periodic jobs. Today: forgetting idle dialogue state.

Later jobs (broadcasts, redaction of closed consular requests) join the same loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from sqlalchemy import String, cast, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.models import Conversation
from app.models.base import utcnow

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 3600


async def clear_idle_state(
    session: AsyncSession, *, retention_days: int, now: dt.datetime | None = None
) -> int:
    """Forget where idle users were in the dialogue (position, history, quiz answers).

    What a user needs to be served again (language, destination, subscription) is kept; what
    they clicked through is not kept longer than `retention_days`.
    """
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    result = await session.execute(
        update(Conversation)
        .where(Conversation.updated_at < cutoff, cast(Conversation.state, String) != "{}")
        .values(state={}, revision=Conversation.revision + 1)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def run_jobs_once(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> dict[str, int]:
    async with maker() as session:
        cleared = await clear_idle_state(session, retention_days=settings.state_retention_days)
        await session.commit()
    return {"idle_states_cleared": cleared}


async def run_worker(
    maker: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event
) -> None:
    """Run the jobs every hour until `stop` is set; a failing job is logged, never fatal."""
    while not stop.is_set():
        try:
            counts = await run_jobs_once(maker, settings)
            log.info("worker jobs done: %s", counts)
        except Exception:
            log.exception("worker jobs failed; retrying at the next interval")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=INTERVAL_SECONDS)
