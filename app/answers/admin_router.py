"""Editors: the content gap report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app.admin.deps import SessionDep, require_roles
from app.answers.gaps import gap_report

router = APIRouter(
    prefix="/admin/v1/content",
    tags=["content (editors)"],
    dependencies=[Depends(require_roles("editor"))],
)


class Gap(BaseModel):
    text: str
    lang: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime


@router.get("/gaps", operation_id="list_content_gaps")
async def list_gaps(
    session: SessionDep,
    lang: Literal["ky", "ru", "en"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[Gap]:
    """List the questions that found no confident answer, most frequent first."""
    rows = await gap_report(session, lang=lang, limit=limit)
    return [
        Gap(text=r.text, lang=r.lang, count=r.count, first_seen=r.first_seen, last_seen=r.last_seen)
        for r in rows
    ]
