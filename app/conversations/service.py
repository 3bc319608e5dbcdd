"""Run one event for one user: load the state, step the engine, store the state and effects.

Events of one user are serialised at three levels: an in-process lock per user (the common case:
one API process); a row lock (SELECT ... FOR UPDATE) on PostgreSQL, so API processes queue for a
user instead of racing; and a revision check on the UPDATE, the backstop where row locks do not
exist (SQLite): the loser re-reads and re-runs the engine, which is pure and cheap.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.consular import service as consular
from app.content.service import ContentStore
from app.dialogue.consular import RequestInfo
from app.dialogue.engine import needs_requests, step
from app.dialogue.types import Effect, Event, Reply, State
from app.errors import Conflict
from app.models import Conversation
from app.models.base import utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class EventOutcome:
    replies: list[Reply]
    state: State
    content_version: int
    revision: int


class UserLocks:
    """One asyncio.Lock per (channel, user), dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def get(self, channel: str, user_id: str) -> asyncio.Lock:
        key = (channel, user_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock


async def handle_event(
    *,
    maker: async_sessionmaker[AsyncSession],
    store: ContentStore,
    locks: UserLocks,
    channel: str,
    user_id: str,
    event: Event,
    default_lang: str,
    staff_chat_id: str | None = None,
) -> EventOutcome:
    """Process `event` for the user; the state is stored before the replies are returned."""
    content = await store.current()
    answerer = await store.answerer()
    async with locks.get(channel, user_id):
        for attempt in range(MAX_ATTEMPTS):
            async with maker() as session:
                conversation = await _load_or_create(session, channel, user_id)
                if conversation is None:
                    continue  # created concurrently by another process: read it again
                # Read before the UPDATE: an ORM update synchronises the loaded object.
                revision = conversation.revision
                state = State.from_dict(conversation.state)
                requests: list[RequestInfo] = []
                if needs_requests(state, event):
                    rows = await consular.open_requests(session, channel=channel, user_id=user_id)
                    requests = [RequestInfo(r.id, r.status, r.country) for r in rows]
                result = step(
                    content,
                    state,
                    event,
                    answer=answerer,
                    default_lang=default_lang,
                    requests=requests,
                )
                if any(effect.kind == "forget" for effect in result.effects):
                    await consular.forget_user(session, channel=channel, user_id=user_id)
                    await session.commit()
                    return EventOutcome(result.replies, result.state, content.version, 0)
                values = _profile_values(result.effects)
                written = await session.execute(
                    update(Conversation)
                    .where(Conversation.id == conversation.id, Conversation.revision == revision)
                    .values(
                        state=result.state.to_dict(),
                        revision=revision + 1,
                        lang=result.state.lang,
                        country=result.state.country,
                        updated_at=utcnow(),
                        **values,
                    )
                )
                if written.rowcount != 1:  # type: ignore[attr-defined]
                    await session.rollback()
                    await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                    continue
                await _apply_effects(session, channel, user_id, result.effects, staff_chat_id)
                await session.commit()
                return EventOutcome(result.replies, result.state, content.version, revision + 1)
    raise Conflict("too many concurrent events for this user; try again")


async def _load_or_create(session: AsyncSession, channel: str, user_id: str) -> Conversation | None:
    found = await session.execute(
        select(Conversation)
        .where(Conversation.channel == channel, Conversation.user_id == user_id)
        .with_for_update()
    )
    conversation = found.scalar_one_or_none()
    if conversation is not None:
        return conversation
    conversation = Conversation(channel=channel, user_id=user_id, state={}, revision=0)
    session.add(conversation)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return conversation


def _profile_values(effects: list[Effect]) -> dict[str, object]:
    """Columns the effects change; a user who writes is reachable again."""
    values: dict[str, object] = {"active": True}
    for effect in effects:
        if effect.kind == "campaign":
            values["campaign"] = effect.data["payload"]
        elif effect.kind == "subscription":
            values["subscribed"] = bool(effect.data["subscribed"])
    return values


async def set_reachable(
    *, maker: async_sessionmaker[AsyncSession], channel: str, user_id: str, active: bool
) -> bool:
    """Record whether the channel can reach the user; False when the user is unknown."""
    async with maker() as session:
        result = await session.execute(
            update(Conversation)
            .where(Conversation.channel == channel, Conversation.user_id == user_id)
            .values(active=active)
        )
        await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _apply_effects(
    session: AsyncSession,
    channel: str,
    user_id: str,
    effects: list[Effect],
    staff_chat_id: str | None,
) -> None:
    for effect in effects:
        if effect.kind == "consular_request":
            request = await consular.file_request(
                session,
                channel=channel,
                user_id=user_id,
                data=effect.data,
                staff_chat_id=staff_chat_id,
            )
            log.info(
                "consular request %d filed (country=%s, urgent=%s)",
                request.id,
                request.country,
                request.urgent,
            )
        elif effect.kind == "consular_cancel":
            await consular.cancel_by_user(
                session, channel=channel, user_id=user_id, request_id=int(effect.data["id"])
            )
        elif effect.kind == "consular_message":
            await consular.message_from_user(
                session,
                channel=channel,
                user_id=user_id,
                request_id=int(effect.data["id"]),
                text=str(effect.data["text"]),
            )
