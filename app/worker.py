"""The background worker: the outbox (messages the backend sends to Telegram) every few seconds,
and hourly jobs: forgetting idle dialogue state, redacting closed consular requests.

Delivery is at least once: a message is marked sent after Telegram accepted it, so a crash in
between sends it again rather than losing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

import httpx
from sqlalchemy import String, cast, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.consular.service import redact_closed
from app.models import Conversation, OutboundMessage
from app.models.base import utcnow
from app.telegram.client import BotApiClient

log = logging.getLogger(__name__)
JOBS_INTERVAL_SECONDS = 3600
OUTBOX_BATCH = 20
MAX_ATTEMPTS = 8
# A claimed message is due again after this if its worker died before storing the outcome.
CLAIM_SECONDS = 120


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
        redacted = await redact_closed(session, retention_days=settings.consular_retention_days)
        await session.commit()
    return {"idle_states_cleared": cleared, "consular_requests_redacted": redacted}


async def send_outbox_once(
    maker: async_sessionmaker[AsyncSession], bot: BotApiClient, now: dt.datetime | None = None
) -> dict[str, int]:
    """Send what is due; several workers may run (PostgreSQL: each claims other rows).

    No transaction stays open while Telegram is called: the batch is claimed in one short
    transaction (its `not_before` moved CLAIM_SECONDS ahead, so a worker that dies mid-send
    leaves the rest to be sent again later), sent, then the outcomes are stored in another.
    On SQLite an open write transaction would hold the database's one write lock for the length
    of the HTTP calls, and every conversation event would wait behind it.
    """
    counts = {"sent": 0, "failed": 0, "retry": 0}
    now = now or utcnow()
    async with maker() as session:
        query = (
            select(OutboundMessage)
            .where(
                OutboundMessage.status == "pending",
                OutboundMessage.channel == "telegram",
                OutboundMessage.not_before <= now,
            )
            .order_by(OutboundMessage.id)
            .limit(OUTBOX_BATCH)
            .with_for_update(skip_locked=True)
        )
        batch = list((await session.execute(query)).scalars().all())
        for message in batch:
            message.not_before = now + dt.timedelta(seconds=CLAIM_SECONDS)
        await session.commit()
    if not batch:
        return counts
    results = [
        (message, await bot.send_markup(message.chat_id, message.text, message.buttons))
        for message in batch
    ]
    async with maker() as session:
        for claimed, result in results:
            stored = await session.get(OutboundMessage, claimed.id)
            if stored is None:  # erased meanwhile (the user asked to be forgotten)
                continue
            message = stored
            message.attempts += 1
            if result.ok:
                message.status, message.sent_at = "sent", utcnow()
                counts["sent"] += 1
            elif result.final or message.attempts >= MAX_ATTEMPTS:
                message.status, message.last_error = "failed", result.error
                counts["failed"] += 1
                if result.final and "blocked" in (result.error or "").lower():
                    await session.execute(
                        update(Conversation)
                        .where(
                            Conversation.channel == message.channel,
                            Conversation.user_id == message.chat_id,
                        )
                        .values(active=False)
                    )
            else:
                wait = result.retry_after or min(2.0**message.attempts, 300.0)
                message.not_before = utcnow() + dt.timedelta(seconds=wait)
                message.last_error = result.error
                counts["retry"] += 1
        await session.commit()
    return counts


async def run_worker(
    maker: async_sessionmaker[AsyncSession], settings: Settings, stop: asyncio.Event
) -> None:
    """Run until `stop` is set; a failing job is logged, never fatal."""

    async def jobs() -> None:
        while not stop.is_set():
            try:
                log.info("worker jobs done: %s", await run_jobs_once(maker, settings))
            except Exception:
                log.exception("worker jobs failed; retrying at the next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=JOBS_INTERVAL_SECONDS)

    async def outbox(client: httpx.AsyncClient, token: str) -> None:
        bot = BotApiClient(client, base_url=settings.telegram_api_base_url, token=token)
        while not stop.is_set():
            try:
                counts = await send_outbox_once(maker, bot)
                if any(counts.values()):
                    log.info("outbox: %s", counts)
            except Exception:
                log.exception("outbox round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.outbox_interval_seconds)

    if not settings.telegram_bot_token:
        log.warning("TELEGRAM_BOT_TOKEN is not set: staff replies wait in the outbox")
        await jobs()
        return
    async with httpx.AsyncClient(timeout=15) as client:
        await asyncio.gather(jobs(), outbox(client, settings.telegram_bot_token))
