"""Consular requests: filed by users through the dialogue, worked by staff through the admin API.

Services flush; the caller's unit of work commits. Every read of personal data and every change
is audited (`app.admin.audit.audit`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin.audit import audit
from app.admin.keys import Staff
from app.errors import Conflict, Forbidden, NotFound
from app.i18n import _, strings
from app.models import ConsularMessage, ConsularRequest, Conversation, OutboundMessage
from app.models.base import utcnow

OPEN = ("new", "in_progress", "answered")
# new -> in_progress -> answered -> closed; answered -> in_progress when the user writes back;
# any open status -> closed (staff) or cancelled (the user).
TRANSITIONS: dict[str, set[str]] = {
    "new": {"in_progress", "answered", "closed"},
    "in_progress": {"answered", "closed"},
    "answered": {"in_progress", "closed"},
    "closed": set(),
    "cancelled": set(),
}
REDACTED = "[redacted]"
URGENT_CATEGORIES = {"locked_in", "detained", "injured"}


# -- the user's side (effects of the dialogue) -------------------------------------------------


async def file_request(
    session: AsyncSession,
    *,
    channel: str,
    user_id: str,
    data: dict[str, Any],
    staff_chat_id: str | None,
) -> ConsularRequest:
    urgent = bool(data.get("urgent")) or data.get("category") in URGENT_CATEGORIES
    request = ConsularRequest(
        channel=channel,
        user_id=user_id,
        country=data.get("country"),
        lang=data["lang"],
        phone=data.get("phone"),
        city=data.get("city"),
        category=data.get("category"),
        description=data.get("description"),
        urgent=urgent,
        consent_at=utcnow(),
    )
    session.add(request)
    await session.flush()
    audit(
        session,
        actor="user",
        action="consular.request.filed",
        target=f"consular_request:{request.id}",
        urgent=urgent,
    )
    if urgent and staff_chat_id:
        # No personal data in the notification: the id and where to look.
        session.add(
            OutboundMessage(
                channel="telegram",
                chat_id=staff_chat_id,
                text=(
                    f"**New urgent consular request #{request.id}** "
                    f"({(request.country or 'no country').upper()}).\n\n"
                    f"Open it: GET /admin/v1/consular/requests/{request.id}"
                ),
            )
        )
    return request


async def open_requests(
    session: AsyncSession, *, channel: str, user_id: str
) -> Sequence[ConsularRequest]:
    result = await session.execute(
        select(ConsularRequest)
        .where(
            ConsularRequest.channel == channel,
            ConsularRequest.user_id == user_id,
            ConsularRequest.status.in_(OPEN),
        )
        .order_by(ConsularRequest.id)
    )
    return result.scalars().all()


async def _own_open(
    session: AsyncSession, channel: str, user_id: str, request_id: int
) -> ConsularRequest | None:
    request = await session.get(ConsularRequest, request_id)
    if (
        request is None
        or request.channel != channel
        or request.user_id != user_id
        or request.status not in OPEN
    ):
        return None
    return request


async def cancel_by_user(
    session: AsyncSession, *, channel: str, user_id: str, request_id: int
) -> bool:
    request = await _own_open(session, channel, user_id, request_id)
    if request is None:
        return False
    request.status, request.updated_at, request.closed_at = "cancelled", utcnow(), utcnow()
    audit(
        session,
        actor="user",
        action="consular.request.cancelled",
        target=f"consular_request:{request_id}",
    )
    return True


async def message_from_user(
    session: AsyncSession, *, channel: str, user_id: str, request_id: int, text: str
) -> bool:
    request = await _own_open(session, channel, user_id, request_id)
    if request is None:
        return False
    session.add(ConsularMessage(request_id=request_id, author="user", text=text))
    if request.status == "answered":
        request.status = "in_progress"
    request.updated_at = utcnow()
    audit(
        session,
        actor="user",
        action="consular.message.from_user",
        target=f"consular_request:{request_id}",
    )
    return True


# -- the staff side ----------------------------------------------------------------------------


async def list_requests(
    session: AsyncSession,
    staff: Staff,
    *,
    status: str | None,
    urgent: bool | None,
    country: str | None,
    older_than_hours: int | None,
    limit: int,
    offset: int,
) -> Sequence[ConsularRequest]:
    query = select(ConsularRequest)
    if country is not None:
        if not staff.sees_country(country):
            raise Forbidden(f"this key does not serve {country.upper()}")
        query = query.where(ConsularRequest.country == country)
    elif staff.role != "admin":
        query = query.where(ConsularRequest.country.in_(staff.countries))
    if status is not None:
        query = query.where(ConsularRequest.status == status)
    if urgent is not None:
        query = query.where(ConsularRequest.urgent == urgent)
    if older_than_hours is not None:
        query = query.where(
            ConsularRequest.created_at <= utcnow() - dt.timedelta(hours=older_than_hours)
        )
    query = query.order_by(ConsularRequest.urgent.desc(), ConsularRequest.created_at)
    rows = (await session.execute(query.limit(limit).offset(offset))).scalars().all()
    audit(
        session,
        actor=staff.actor,
        action="consular.requests.listed",
        count=len(rows),
        country=country,
        status=status,
    )
    return rows


async def get_request(
    session: AsyncSession, staff: Staff, request_id: int, *, audit_read: bool = True
) -> ConsularRequest:
    request = await session.get(ConsularRequest, request_id)
    if request is None:
        raise NotFound(f"no consular request {request_id}")
    if not staff.sees_country(request.country):
        raise Forbidden("this request is for a country this key does not serve")
    if audit_read:
        audit(
            session,
            actor=staff.actor,
            action="consular.request.read",
            target=f"consular_request:{request_id}",
        )
    return request


async def thread(session: AsyncSession, request_id: int) -> Sequence[ConsularMessage]:
    result = await session.execute(
        select(ConsularMessage)
        .where(ConsularMessage.request_id == request_id)
        .order_by(ConsularMessage.id)
    )
    return result.scalars().all()


async def assign(
    session: AsyncSession, staff: Staff, request_id: int, assignee: str | None
) -> ConsularRequest:
    request = await get_request(session, staff, request_id, audit_read=False)
    request.assignee, request.updated_at = assignee, utcnow()
    audit(
        session,
        actor=staff.actor,
        action="consular.request.assigned",
        target=f"consular_request:{request_id}",
        assignee=assignee,
    )
    return request


async def change_status(
    session: AsyncSession, staff: Staff, request_id: int, status: str
) -> ConsularRequest:
    request = await get_request(session, staff, request_id, audit_read=False)
    if status not in TRANSITIONS[request.status]:
        raise Conflict(
            f"a {request.status} request cannot become {status}",
            details={"allowed": sorted(TRANSITIONS[request.status])},
        )
    previous = request.status
    request.status, request.updated_at = status, utcnow()
    if status == "closed":
        request.closed_at = utcnow()
    audit(
        session,
        actor=staff.actor,
        action="consular.request.status",
        target=f"consular_request:{request_id}",
        previous=previous,
        status=status,
    )
    return request


async def add_note(
    session: AsyncSession, staff: Staff, request_id: int, text: str
) -> ConsularMessage:
    await get_request(session, staff, request_id, audit_read=False)
    note = ConsularMessage(request_id=request_id, author="note", staff=staff.name, text=text)
    session.add(note)
    await session.flush()
    audit(
        session,
        actor=staff.actor,
        action="consular.note.added",
        target=f"consular_request:{request_id}",
    )
    return note


async def reply_to_user(
    session: AsyncSession, staff: Staff, request_id: int, text: str
) -> ConsularMessage:
    """Store the reply in the thread and queue it for the user's chat, in their language."""
    request = await get_request(session, staff, request_id, audit_read=False)
    if request.status not in OPEN:
        raise Conflict(
            f"the request is {request.status}: reopen is not possible, "
            "ask the user to file a new one"
        )
    if request.redacted_at is not None:
        raise Conflict("the request was redacted: the user can no longer be reached")
    message = ConsularMessage(request_id=request_id, author="staff", staff=staff.name, text=text)
    session.add(message)
    s = strings(request.lang)
    session.add(
        OutboundMessage(
            channel=request.channel,
            chat_id=request.user_id,
            text=s.get(_("**Reply from the consulate** (request #{id}):"), id=request_id)
            + "\n\n"
            + text,
            buttons=[
                [{"label": "✍ " + s.get(_("Answer the consulate")), "data": f"r.{request_id}"}],
                [{"label": "☰ " + s.get(_("Menu")), "data": "g.menu"}],
            ],
        )
    )
    if request.status in ("new", "in_progress"):
        request.status = "answered"
    request.updated_at = utcnow()
    await session.flush()
    audit(
        session,
        actor=staff.actor,
        action="consular.reply.sent",
        target=f"consular_request:{request_id}",
    )
    return message


# -- personal data -----------------------------------------------------------------------------


async def redact_requests(
    session: AsyncSession, request_ids: Sequence[int], *, placeholder_user: str
) -> None:
    if not request_ids:
        return
    now = utcnow()
    await session.execute(
        update(ConsularRequest)
        .where(ConsularRequest.id.in_(request_ids))
        .values(
            user_id=placeholder_user,
            phone=None,
            city=None,
            description=None,
            redacted_at=now,
            updated_at=now,
        )
    )
    await session.execute(
        update(ConsularMessage)
        .where(ConsularMessage.request_id.in_(request_ids))
        .values(text=REDACTED)
    )


async def redact_closed(
    session: AsyncSession, *, retention_days: int, now: dt.datetime | None = None
) -> int:
    """Closed or cancelled requests older than the retention: personal fields removed."""
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    ids = (
        (
            await session.execute(
                select(ConsularRequest.id).where(
                    ConsularRequest.status.in_(("closed", "cancelled")),
                    ConsularRequest.closed_at <= cutoff,
                    ConsularRequest.redacted_at.is_(None),
                )
            )
        )
        .scalars()
        .all()
    )
    await redact_requests(session, ids, placeholder_user="redacted")
    if ids:
        audit(session, actor="system", action="consular.requests.redacted", count=len(ids))
    return len(ids)


async def forget_user(session: AsyncSession, *, channel: str, user_id: str) -> int:
    """Erase everything Jol holds about a user: profile and state, the personal fields of their
    requests (the case records stay, anonymous, for the consulate's statistics), messages
    waiting to be sent to them."""
    ids = (
        (
            await session.execute(
                select(ConsularRequest.id).where(
                    ConsularRequest.channel == channel, ConsularRequest.user_id == user_id
                )
            )
        )
        .scalars()
        .all()
    )
    await redact_requests(session, ids, placeholder_user="forgotten")
    await session.execute(
        update(ConsularRequest)
        .where(ConsularRequest.id.in_(ids), ConsularRequest.status.in_(OPEN))
        .values(status="cancelled", closed_at=utcnow())
    )
    await session.execute(
        delete(OutboundMessage).where(
            OutboundMessage.channel == channel, OutboundMessage.chat_id == user_id
        )
    )
    await session.execute(
        delete(Conversation).where(Conversation.channel == channel, Conversation.user_id == user_id)
    )
    audit(session, actor="user", action="user.forgotten", requests=len(ids))
    return len(ids)
