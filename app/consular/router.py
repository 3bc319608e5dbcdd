"""Consular staff's admin API: the queue of requests, assignment, status, notes, replies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from app.admin.deps import SessionDep, StaffDep, require_roles
from app.consular import service
from app.models import ConsularMessage, ConsularRequest

router = APIRouter(
    prefix="/admin/v1/consular",
    tags=["consular"],
    dependencies=[Depends(require_roles("consular"))],
)
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Status = Literal["new", "in_progress", "answered", "closed", "cancelled"]


class RequestSummary(BaseModel):
    """A request in the queue: no personal data."""

    id: int
    status: str
    urgent: bool
    country: str | None
    category: str | None
    lang: str
    assignee: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    age_hours: float

    @classmethod
    def of(cls, r: ConsularRequest) -> RequestSummary:
        age = (dt.datetime.now(dt.UTC) - r.created_at).total_seconds() / 3600
        return cls(
            id=r.id,
            status=r.status,
            urgent=r.urgent,
            country=r.country,
            category=r.category,
            lang=r.lang,
            assignee=r.assignee,
            created_at=r.created_at,
            updated_at=r.updated_at,
            age_hours=round(age, 1),
        )


class ThreadMessage(BaseModel):
    id: int
    author: str
    staff: str | None
    text: str
    created_at: dt.datetime

    @classmethod
    def of(cls, m: ConsularMessage) -> ThreadMessage:
        return cls(id=m.id, author=m.author, staff=m.staff, text=m.text, created_at=m.created_at)


class RequestDetail(RequestSummary):
    """One request with the personal data staff need to help (reading it is audited)."""

    phone: str | None
    city: str | None
    description: str | None
    channel: str
    consent_at: dt.datetime | None
    closed_at: dt.datetime | None
    redacted_at: dt.datetime | None
    thread: list[ThreadMessage]


class RequestList(BaseModel):
    requests: list[RequestSummary]


class AssignIn(BaseModel):
    assignee: str | None = Field(max_length=100)


class StatusIn(BaseModel):
    status: Literal["in_progress", "answered", "closed"]


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=3500)


async def _detail(session: SessionDep, request: ConsularRequest) -> RequestDetail:
    summary = RequestSummary.of(request).model_dump()
    messages = await service.thread(session, request.id)
    return RequestDetail(
        **summary,
        phone=request.phone,
        city=request.city,
        description=request.description,
        channel=request.channel,
        consent_at=request.consent_at,
        closed_at=request.closed_at,
        redacted_at=request.redacted_at,
        thread=[ThreadMessage.of(m) for m in messages],
    )


@router.get("/requests", operation_id="list_consular_requests")
async def list_requests(
    session: SessionDep,
    staff: StaffDep,
    status: Status | None = None,
    urgent: bool | None = None,
    country: Annotated[str | None, Query(pattern=r"^[a-z]{2}$")] = None,
    older_than_hours: Annotated[int | None, Query(ge=0, le=24 * 365)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RequestList:
    """List requests for the key's countries, urgent and oldest first."""
    rows = await service.list_requests(
        session,
        staff,
        status=status,
        urgent=urgent,
        country=country,
        older_than_hours=older_than_hours,
        limit=limit,
        offset=offset,
    )
    return RequestList(requests=[RequestSummary.of(r) for r in rows])


@router.get("/requests/{request_id}", operation_id="get_consular_request")
async def get_request(session: SessionDep, staff: StaffDep, request_id: RequestId) -> RequestDetail:
    """Read one request with the person's contact details and the thread."""
    return await _detail(session, await service.get_request(session, staff, request_id))


@router.post("/requests/{request_id}/assign", operation_id="assign_consular_request")
async def assign(
    session: SessionDep, staff: StaffDep, request_id: RequestId, body: AssignIn
) -> RequestSummary:
    """Assign the request to a staff member (or unassign it with null)."""
    return RequestSummary.of(await service.assign(session, staff, request_id, body.assignee))


@router.post("/requests/{request_id}/status", operation_id="set_consular_request_status")
async def set_status(
    session: SessionDep, staff: StaffDep, request_id: RequestId, body: StatusIn
) -> RequestSummary:
    """Move the request on: new -> in_progress -> answered -> closed."""
    return RequestSummary.of(await service.change_status(session, staff, request_id, body.status))


@router.post("/requests/{request_id}/notes", operation_id="add_consular_note", status_code=201)
async def add_note(
    session: SessionDep, staff: StaffDep, request_id: RequestId, body: TextIn
) -> ThreadMessage:
    """Add an internal note (never shown to the user)."""
    return ThreadMessage.of(await service.add_note(session, staff, request_id, body.text))


@router.post(
    "/requests/{request_id}/replies", operation_id="reply_to_consular_request", status_code=201
)
async def reply(
    session: SessionDep, staff: StaffDep, request_id: RequestId, body: TextIn
) -> ThreadMessage:
    """Reply to the user: the message reaches their chat; their answers join the thread."""
    return ThreadMessage.of(await service.reply_to_user(session, staff, request_id, body.text))
